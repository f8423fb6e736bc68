"""Health: a detailed report for people and two probes for orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from docserve.api import API_VERSION
from docserve.api.dependencies import SettingsDep, StepRepairDep, TritonDep, authenticate
from docserve.api.schemas.errors import error_responses
from docserve.api.schemas.health import Health, ModelHealth
from docserve.contract.errors import TritonUnavailableError

router = APIRouter(tags=["health"])


@router.get("/api/v1/health", response_model=Health, responses=error_responses(401, 403, 429),
            dependencies=[Depends(authenticate)])
async def health(settings: SettingsDep, triton: TritonDep, repair: StepRepairDep) -> Health:
    """The service, Triton's readiness, every model with its loaded versions, and the pipeline
    steps found down (``triton`` is ``not_ready`` while one is: Triton itself cannot tell)."""
    try:
        states = await triton.model_states()
    except TritonUnavailableError:
        return Health(name=settings.service_name, api_version=API_VERSION, triton="unreachable", models=[])
    ready = await triton.is_ready() and not repair.down
    return Health(
        name=settings.service_name,
        api_version=API_VERSION,
        triton="ready" if ready else "not_ready",
        models=[ModelHealth(**vars(state)) for state in states],
        steps_down=dict(repair.down),
    )


@router.get("/healthz", include_in_schema=False)
async def liveness() -> dict[str, str]:
    """The gateway process answers (it does not depend on Triton)."""
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of this gateway process (Triton's are on its metrics port)."""
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz", include_in_schema=False)
async def readiness(triton: TritonDep, repair: StepRepairDep) -> JSONResponse:
    """Ready when Triton is and no pipeline step is known down: route requests here only then."""
    if not await triton.is_ready():
        return JSONResponse({"status": "triton not ready"}, status_code=503)
    if repair.down:
        return JSONResponse({"status": f"pipeline steps down: {', '.join(sorted(repair.down))}"},
                            status_code=503)
    return JSONResponse({"status": "ready"})
