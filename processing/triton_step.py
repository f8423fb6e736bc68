"""The base of every python model in the model repository: a step is its :meth:`TritonStep.run`.

A python model's ``model.py`` is ``class TritonPythonModel(TritonStep)`` with a ``run`` that
takes one request's inputs and returns its outputs by name. The base does the rest, the same
way for every step:

* parses ``config.pbtxt`` once at load (:class:`~docserve.processing.step_config.StepConfig`:
  typed parameters, output dtypes, the version folder) and hands it to :meth:`TritonStep.setup`;
* runs each request on its own clock and adds ``elapsed_ms`` where the config declares it;
* casts the outputs to the config's dtypes and sends those the caller asked for;
* answers each request on its own: a :class:`~docserve.processing.step_errors.StepError`
  becomes that request's ``TritonError`` with the error's code, a failed BLS callee keeps the
  callee's code and message, anything else is ``INTERNAL`` with its message (and logged); the
  other requests of the batch are answered as if it had not been there;
* calls other models (BLS) with :meth:`TritonStep.call`, or several at once with
  :meth:`TritonStep.call_concurrently`.

Triton 2.51 hands a BLS caller every error as ``INTERNAL`` whatever its code
(triton-inference-server/server#7804). So :meth:`TritonStep.call` asks for the code in the
message (request parameter :data:`CODE_IN_MESSAGE`, which ensembles forward to their steps), a
step asked so writes ``[triton code INVALID_ARG] `` before its message, and the caller's base
takes it out again: the client sees the callee's code and its message as written.

This is the one module that imports ``triton_python_backend_utils``, which exists only inside
Triton's python stub: nothing else in ``docserve.processing`` imports this module, so the
processing functions stay importable (and tested) outside Triton.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np
import triton_python_backend_utils as pb_utils

from docserve.processing.step_config import StepConfig
from docserve.processing.step_errors import StepError, StepInputError
from docserve.processing.step_timing import StepClock

ELAPSED_MS = "elapsed_ms"  # the step's own wall time, for the page result's timings_ms
# BLS calls one request has in flight at once. The python stub's own async_exec runs exec() on
# the event loop's default thread pool; a pool of our own does the same for a synchronous step.
CONCURRENT_CALLS = 4
CODE_IN_MESSAGE = "docserve_error_code_in_message"  # request parameter of a BLS call (see above)
_CODE_TAG = re.compile(r"\[triton code (?P<code>[A-Z_]+)\] ")

Outputs = Mapping[str, Any]  # output name -> array (or anything numpy makes one of)


class CalleeError(StepError):
    """A model called through BLS answered with an error: its code and message travel on, so the
    caller's client sees why (an INVALID_ARG page stays INVALID_ARG, not INTERNAL)."""

    def __init__(self, model: str, message: str, triton_code: str):
        super().__init__(f"{model}: {message}")
        self.model = model
        self.triton_code = triton_code

    @classmethod
    def of(cls, model: str, error: Any) -> CalleeError:
        """From the callee's ``TritonError``: its code as written in the message when the callee
        wrote one (Triton 2.51 reports INTERNAL), else the one Triton reports."""
        message = error.message()
        tagged = _CODE_TAG.search(message)
        if tagged is None:
            return cls(model, message, error.code().name)
        return cls(model, message[:tagged.start()] + message[tagged.end():], tagged["code"])


class StepRequest:
    """One inference request as a step reads it: input arrays and request parameters by name."""

    def __init__(self, request: Any):
        self._request = request

    def input(self, name: str) -> np.ndarray:
        found = self.optional_input(name)
        if found is None:
            raise StepInputError(f"missing input tensor '{name}'")
        return found

    def optional_input(self, name: str) -> np.ndarray | None:
        tensor = pb_utils.get_input_tensor_by_name(self._request, name)
        return None if tensor is None else tensor.as_numpy()

    def parameters(self) -> dict[str, Any]:
        """The request's parameters (an ensemble forwards its caller's to every step)."""
        return json.loads(self._request.parameters() or "{}")

    def requested_outputs(self) -> set[str]:
        return set(self._request.requested_output_names())


class TritonStep:
    """Base class of ``TritonPythonModel``: subclasses write :meth:`run` (and maybe :meth:`setup`)."""

    config: StepConfig

    def initialize(self, args: dict[str, str]) -> None:
        self.config = StepConfig.from_args(args, pb_utils.triton_string_to_numpy)
        self._calls = ThreadPoolExecutor(CONCURRENT_CALLS, thread_name_prefix=f"{self.config.name}-bls")
        self.setup(self.config)

    def setup(self, config: StepConfig) -> None:
        """Read what the step needs from its config, once, at load (nothing by default)."""

    def run(self, request: StepRequest) -> Outputs:
        """One request's outputs by name; raise a ``StepError`` when it cannot be answered."""
        raise NotImplementedError

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self.answer(StepRequest(request)) for request in requests]

    def finalize(self) -> None:
        self._calls.shutdown(wait=True)

    def answer(self, request: StepRequest) -> Any:
        """The response to one request: its outputs, or the error it alone fails with."""
        clock = StepClock()
        try:
            outputs = dict(self.run(request))
            if ELAPSED_MS in self.config.output_dtypes:
                outputs[ELAPSED_MS] = clock.elapsed_ms()
            return self.respond(request, outputs)
        except Exception as error:  # one request's failure, whatever it is, is its own
            return self.refuse(request, error)

    def respond(self, request: StepRequest, outputs: Outputs) -> Any:
        """A response with the ``outputs`` the request asked for, in the config's dtypes."""
        wanted = request.requested_outputs()
        return pb_utils.InferenceResponse([
            pb_utils.Tensor(name, self.config.cast(name, value))
            for name, value in outputs.items() if name in wanted
        ])

    def refuse(self, request: StepRequest, error: Exception) -> Any:
        """The error response for ``error``, with the code its type stands for."""
        if isinstance(error, StepError):
            code, message = error.triton_code, str(error)
        else:
            pb_utils.Logger.log_error(f"{self.config.name}: {''.join(traceback.format_exception(error))}")
            code, message = "INTERNAL", f"{self.config.name}: {type(error).__name__}: {error}"
        if request.parameters().get(CODE_IN_MESSAGE):
            message = f"[triton code {code}] {message}"
        return pb_utils.InferenceResponse(
            error=pb_utils.TritonError(message, getattr(pb_utils.TritonError, code)))

    def call(self, model: str, inputs: Mapping[str, np.ndarray],
             outputs: Sequence[str]) -> dict[str, np.ndarray]:
        """Run ``model`` on ``inputs`` (BLS) and return its ``outputs``; raise :class:`CalleeError`
        with the callee's code and message when it fails."""
        response = pb_utils.InferenceRequest(
            model_name=model,
            requested_output_names=list(outputs),
            inputs=[pb_utils.Tensor(name, value) for name, value in inputs.items()],
            parameters={CODE_IN_MESSAGE: True},
        ).exec()
        if response.has_error():
            raise CalleeError.of(model, response.error())
        return {name: pb_utils.get_output_tensor_by_name(response, name).as_numpy()
                for name in outputs}

    def call_concurrently(self, model: str, inputs: Sequence[Mapping[str, np.ndarray]],
                          outputs: Sequence[str]) -> list[dict[str, np.ndarray]]:
        """:meth:`call` for each of ``inputs``, up to :data:`CONCURRENT_CALLS` in flight at once
        (the callee's dynamic batcher and instances see them together); results in the order of
        ``inputs``. Every call has finished when this returns or raises the first failure."""
        futures = [self._calls.submit(self.call, model, one, outputs) for one in inputs]
        wait(futures)
        return [future.result() for future in futures]

    def is_model_ready(self, model: str, version: str) -> bool:
        return pb_utils.is_model_ready(model, version)
