"""Why a pipeline step could not answer one request, as types the Triton step base maps to codes.

The processing functions raise these; :class:`docserve.processing.triton_step.TritonStep` turns
each into that request's ``TritonError`` by type, so no model catches its own errors and a bad
request never fails the other requests of its batch. ``triton_code`` names the
``pb_utils.TritonError`` code a request answers with; anything that is no :class:`StepError`
is a bug and answers ``INTERNAL``.
"""

from __future__ import annotations


class StepError(Exception):
    """A step could not answer one request."""

    triton_code = "INTERNAL"


class StepInputError(StepError, ValueError):
    """This request's input is unusable: the caller's fault, ``INVALID_ARG`` with the reason.

    A ``ValueError`` too, so code that validates values outside Triton (training, the
    in-process reference, the gateway) catches it as one.
    """

    triton_code = "INVALID_ARG"


class StepConfigurationError(StepError):
    """The model's ``config.pbtxt`` lacks, or garbles, a parameter the step reads at load."""
