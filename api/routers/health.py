"""``/api/v1/health``: a detailed report for people (the probes for orchestrators are in ``probes``)."""

from __future__ import annotations

from fastapi import APIRouter

from docserve.api import API_PREFIX, API_VERSION
from docserve.api.dependencies import SettingsDep, StepRepairDep, TritonDep
from docserve.api.schemas.health import Health, ModelHealth
from docserve.contract.errors import TritonUnavailableError

router = APIRouter(prefix=API_PREFIX, tags=["health"])


@router.get("/health", response_model=Health)
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
