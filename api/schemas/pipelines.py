"""Bodies of the pipelines API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from docserve.contract.jobs import MAX_URL_LENGTH


class PipelineView(BaseModel):
    name: str
    description: str = Field(description="From the ensemble config's `description` parameter")
    versions: list[str]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    batched: bool
    parameters: dict[str, str] = Field(
        description="The ensemble config's other parameters: step settings such as "
                    "`expected_document_types`, sent with every page as request parameters"
    )


class DocumentLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location: str = Field(
        min_length=1, max_length=MAX_URL_LENGTH,
        description="file:///path, http(s)://host/path or s3://bucket/key",
    )
    pages: list[int] | None = Field(default=None, min_length=1, max_length=1000,
                                    description="1-based page numbers (default: every page)")
