"""``GET /api/v1/pipelines``: the document pipelines Triton serves right now."""

from __future__ import annotations

from fastapi import APIRouter

from docserve.api.dependencies import CatalogDep
from docserve.api.schemas.pipelines import PipelineView

router = APIRouter(prefix="/api/v1/pipelines", tags=["pipelines"])


@router.get("", response_model=list[PipelineView])
async def list_pipelines(catalog: CatalogDep) -> list[PipelineView]:
    """Every ensemble with the page contract, found in Triton's repository index (no restart
    needed when one is added)."""
    return [PipelineView(**vars(pipeline)) for pipeline in await catalog.all()]
