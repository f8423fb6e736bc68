"""Bodies of ``POST /api/v1/predict`` (the car evaluation pipeline)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from docserve.processing.car_features import ATTRIBUTES


def _vocabulary(attribute: str) -> str:
    """``"vhigh | high | med | low"``: the values the model knows, for the OpenAPI description."""
    return " | ".join(ATTRIBUTES[attribute])


class CarRecord(BaseModel):
    """One car. Values are checked against the model's vocabulary by the pipeline itself."""

    model_config = ConfigDict(extra="forbid")

    buying: str = Field(min_length=1, max_length=16, description=_vocabulary("buying"))
    maint: str = Field(min_length=1, max_length=16, description=_vocabulary("maint"))
    doors: str = Field(min_length=1, max_length=16, description=_vocabulary("doors"))
    persons: str = Field(min_length=1, max_length=16, description=_vocabulary("persons"))
    lug_boot: str = Field(min_length=1, max_length=16, description=_vocabulary("lug_boot"))
    safety: str = Field(min_length=1, max_length=16, description=_vocabulary("safety"))


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
