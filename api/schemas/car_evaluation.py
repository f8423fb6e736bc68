"""Bodies of ``POST /api/v1/predict`` (the car evaluation pipeline)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from docserve.processing.car_features import ATTRIBUTES


def _vocabulary(attribute: str) -> Any:
    """A field holding one of the values the model knows (``vhigh | high | med | low``).

    The OpenAPI lists them as the field's ``enum``, so a schema-valid record is one the model
    accepts; the gateway still takes any short string and lets the pipeline answer a value
    outside them (400 ``invalid_input``, naming the accepted ones): the model is the source.
    """
    values = list(ATTRIBUTES[attribute])
    return Field(min_length=1, max_length=16, description=" | ".join(values),
                 json_schema_extra={"enum": values})


class CarRecord(BaseModel):
    """One car. Values are checked against the model's vocabulary by the pipeline itself."""

    model_config = ConfigDict(extra="forbid")

    buying: str = _vocabulary("buying")
    maint: str = _vocabulary("maint")
    doors: str = _vocabulary("doors")
    persons: str = _vocabulary("persons")
    lug_boot: str = _vocabulary("lug_boot")
    safety: str = _vocabulary("safety")


class CarPredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"inputs": [{"buying": "low", "maint": "low", "doors": "4",
                                      "persons": "more", "lug_boot": "big", "safety": "high"}]}]
        },
    )

    inputs: list[CarRecord] = Field(min_length=1, description="Cars to evaluate, in order")


class CarPredictResponse(BaseModel):
    predictions: list[str] = Field(description="Most probable class of each input, in order")
    probabilities: list[dict[str, float]] = Field(description="Class -> probability, per input")
    model_name: str = Field(description="The Triton pipeline (ensemble) that answered")
    model_version: str = Field(description="Version of the classifier behind the pipeline")
