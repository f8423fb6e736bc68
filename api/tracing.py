"""OpenTelemetry traces: one trace per job, from its submission to its stored outcome.

A request to the gateway is a server span (FastAPI's own, else :class:`TracingMiddleware`'s) whose
trace id the client gets back as ``X-Trace-ID``. A job keeps its submission's span context (W3C
``traceparent``) in the store, so the worker that runs it, in this process or another, continues
the same trace: ``job`` > ``job.queue_wait``, ``document.fetch``, ``document.analyze`` >
``triton.infer`` (one per page), ``store.write``. Triton receives the request id and the
``traceparent`` header with every inference, so its own log and OpenTelemetry trace lines join up
when its tracing is on.

An SDK tracer provider is always installed (once per process), so trace ids exist even when no
exporter is configured; ``DOCSERVE_OTEL_EXPORTER=otlp`` (with the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``; the ``otlp`` extra) or ``console`` sends spans somewhere.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docserve.api.settings import Settings
from docserve.inference.trace_context import tracer

TRACE_HEADER = "X-Trace-ID"


def configure_tracing(settings: Settings) -> None:
    """Install the process's tracer provider (the first call wins, as OpenTelemetry wants)."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    exporter = _exporter(settings.otel_exporter)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def _exporter(kind: str) -> SpanExporter | None:
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    return None


class TracingMiddleware:
    """``X-Trace-ID`` on every answer: the id of the request's server span.

    FastAPI makes that span itself when OpenTelemetry is installed (its native telemetry, on the
    global provider); where it does not (an older FastAPI, ``telemetry={"tracing": False}``),
    this middleware starts one, named by the route template.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if trace.get_current_span().is_recording():
            await self._with_trace_id(scope, receive, send, trace.get_current_span())
            return
        with tracer().start_as_current_span(f"{scope['method']} {scope['path']}",
                                            kind=trace.SpanKind.SERVER) as span:
            try:
                await self._with_trace_id(scope, receive, send, span)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.route", route)

    async def _with_trace_id(self, scope: Scope, receive: Receive, send: Send, span: trace.Span) -> None:
        header = (TRACE_HEADER.lower().encode(), format(span.get_span_context().trace_id, "032x").encode())

        async def send_with_trace_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_trace_id)
