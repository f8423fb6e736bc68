"""Bodies of the pipelines API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PipelineView(BaseModel):
    name: str
    description: str = Field(description="From the ensemble config's `description` parameter")
    versions: list[str]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    batched: bool
