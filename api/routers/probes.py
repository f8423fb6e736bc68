"""Probes for orchestrators and Prometheus, outside the versioned API and its keys."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from docserve.api.dependencies import StepRepairDep, TritonDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def liveness() -> dict[str, str]:
    """The gateway process answers (it does not depend on Triton)."""
    return {"status": "ok"}


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus exposition of this gateway process (Triton's are on its metrics port)."""
    return Response(await request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz")
async def readiness(triton: TritonDep, repair: StepRepairDep) -> JSONResponse:
    """Ready when Triton is and no pipeline step is known down: route requests here only then."""
    if not await triton.is_ready():
        return JSONResponse({"status": "triton not ready"}, status_code=503)
    if repair.down:
        return JSONResponse({"status": f"pipeline steps down: {', '.join(sorted(repair.down))}"},
                            status_code=503)
    return JSONResponse({"status": "ready"})
