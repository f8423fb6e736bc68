"""The FastAPI application: wiring only (settings, Triton client, middleware, routers, errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from docserve.api import API_VERSION
from docserve.api.body_limit import BodyLimitMiddleware, BodyLimits
from docserve.api.errors import ErrorBoundaryMiddleware, install_error_handlers
from docserve.api.logs import configure_logging
from docserve.api.metrics import GatewayMetrics, MetricsMiddleware
from docserve.api.origin_check import OriginCheckMiddleware
from docserve.api.request_bodies import publish_body_schemas
from docserve.api.request_id import RequestIdMiddleware
from docserve.api.routers import home, probes
from docserve.api.routers.versioned import api_router
from docserve.api.security_headers import SecurityHeadersMiddleware
from docserve.api.services import Services
from docserve.api.settings import Settings
from docserve.api.tracing import TracingMiddleware, configure_tracing
from docserve.contract.jobs import JobSubmission


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings)
    configure_tracing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = Services.open(settings, run_workers=settings.run_workers, metrics=metrics)
        try:
            yield
        finally:
            await app.state.services.close()

    metrics = GatewayMetrics()
    app = FastAPI(
        title="docserve",
        version=API_VERSION,
        description="Document-analysis pipelines on NVIDIA Triton Inference Server.",
        lifespan=lifespan,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["*"],
        expose_headers=["x-request-id", "location", "retry-after"],
    )
    app.add_middleware(
        BodyLimitMiddleware,
        limits=BodyLimits(json_bytes=settings.max_json_body_bytes,
                          document_bytes=settings.max_document_bytes),
    )
    app.add_middleware(OriginCheckMiddleware, allowed_origins=settings.cors_origins)  # before any body
    app.add_middleware(ErrorBoundaryMiddleware)  # inside RequestIdMiddleware: a 500 keeps its id
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(TracingMiddleware)  # outermost: the request's span covers everything
    app.state.metrics = metrics
    install_error_handlers(app)
    for router in (home.router, api_router, probes.router):
        app.include_router(router)
    app.mount("/static", home.static_files, name="static")
    publish_body_schemas(app, JobSubmission)
    return app
