"""Bodies of the health endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelHealth(BaseModel):
    name: str
    versions: list[str] = Field(description="Versions loaded and READY")
    state: str = Field(description="READY, or Triton's state of the model (UNAVAILABLE, LOADING ...)")
    reason: str = Field(default="", description="Why a model is not READY, from Triton")


class Health(BaseModel):
    name: str
    api_version: str
    triton: Literal["ready", "not_ready", "unreachable"]
    models: list[ModelHealth]
    steps_down: dict[str, str] = Field(
        default_factory=dict, description="Pipeline steps whose process died, being reloaded: why"
    )
