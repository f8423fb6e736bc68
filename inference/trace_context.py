"""Trace context that crosses process boundaries: the tracer, W3C ``traceparent`` in and out.

Only the OpenTelemetry API: the gateway installs the SDK provider and exporters
(:mod:`docserve.api.tracing`); a client without one gets non-recording spans, which cost nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "docserve"
_PROPAGATOR = TraceContextTextMapPropagator()


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def propagation_headers() -> dict[str, str]:
    """The current span as W3C trace-context headers (``traceparent``), for Triton's gRPC metadata."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, to continue its trace elsewhere."""
    return propagation_headers().get("traceparent")


def trace_id_of(traceparent: str | None) -> str | None:
    """The 32-hex trace id inside a ``traceparent`` (``00-<trace id>-<span id>-<flags>``)."""
    return traceparent.split("-")[1] if traceparent and traceparent.count("-") == 3 else None


@contextlib.contextmanager
def continued(traceparent: str | None) -> Iterator[None]:
    """Make ``traceparent`` the parent of the spans started inside (a job's submission)."""
    token = otel_context.attach(_PROPAGATOR.extract({"traceparent": traceparent} if traceparent else {}))
    try:
        yield
    finally:
        otel_context.detach(token)
