"""The car evaluation pipeline's interface: records -> Triton tensors -> predictions.

``prepare_inputs`` and ``parse_outputs`` are the only places that know the ensemble's tensor
names. Large batches are split at the ensemble's ``max_batch_size`` (read from Triton, not
hard-coded) and the chunks run concurrently, so Triton's dynamic batcher can interleave them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tritonclient.grpc.aio as grpcclient

from docserve.api.schemas.car_evaluation import CarRecord
from docserve.contract.errors import InferenceError
from docserve.inference.triton_client import TritonClient
from docserve.processing.car_features import ATTRIBUTES

LABEL_TENSOR = "predicted_label"
PROBABILITIES_TENSOR = "class_probabilities"


@dataclass(frozen=True)
class PipelineContract:
    """What the gateway reads once from the ensemble's config."""

    max_batch_size: int
    class_labels: tuple[str, ...]


@dataclass(frozen=True)
class CarPredictions:
    labels: list[str]
    probabilities: list[dict[str, float]]
    model_version: str = ""


def prepare_inputs(records: Sequence[CarRecord]) -> list[grpcclient.InferInput]:
    """One ``[rows, 1]`` BYTES tensor per attribute (the ensemble's inputs are named after them)."""
    inputs = []
    for name in ATTRIBUTES:
        column = np.array([[getattr(record, name).encode()] for record in records], dtype=np.object_)
        tensor = grpcclient.InferInput(name, list(column.shape), "BYTES")
        tensor.set_data_from_numpy(column)
        inputs.append(tensor)
    return inputs


def parse_outputs(result: grpcclient.InferResult, class_labels: Sequence[str]) -> CarPredictions:
    labels = [value.decode() for value in result.as_numpy(LABEL_TENSOR).reshape(-1)]
    probabilities = result.as_numpy(PROBABILITIES_TENSOR)
    if probabilities.shape != (len(labels), len(class_labels)):
        raise InferenceError(
            f"pipeline returned probabilities of shape {probabilities.shape} for {len(labels)} "
            f"inputs and {len(class_labels)} classes"
        )
    return CarPredictions(
        labels=labels,
        probabilities=[dict(zip(class_labels, map(float, row), strict=False)) for row in probabilities],
    )


async def read_contract(triton: TritonClient, pipeline: str) -> PipelineContract:
    config = await triton.model_config(pipeline)
    labels = config.get("parameters", {}).get("class_labels", {}).get("string_value", "")
    if not labels:
        raise InferenceError(f"ensemble '{pipeline}' declares no 'class_labels' parameter")
    return PipelineContract(
        max_batch_size=max(1, int(config.get("max_batch_size", 1))),
        class_labels=tuple(labels.split(",")),
    )


class CarEvaluationService:
    """Runs the car evaluation ensemble; one instance per gateway process.

    The ensemble's contract is read from Triton once and re-read after ``contract_ttl_s``, so a
    rolled ensemble config is picked up without a gateway restart.
    """

    def __init__(self, triton: TritonClient, pipeline: str, model: str, contract_ttl_s: float = 60.0):
        self.triton = triton
        self.pipeline = pipeline
        self.model = model
        self.contract_ttl_s = contract_ttl_s
        self._contract: PipelineContract | None = None
        self._contract_read_at = 0.0

    async def contract(self) -> PipelineContract:
        now = time.monotonic()
        if self._contract is None or now - self._contract_read_at > self.contract_ttl_s:
            self._contract = await read_contract(self.triton, self.pipeline)
            self._contract_read_at = now
        return self._contract

    async def predict(self, records: Sequence[CarRecord], request_id: str = "") -> CarPredictions:
        """Evaluate ``records`` in chunks of the ensemble's max batch size, concurrently."""
        contract = await self.contract()
        size = contract.max_batch_size
        chunks = [records[start : start + size] for start in range(0, len(records), size)]
        outputs = [LABEL_TENSOR, PROBABILITIES_TENSOR]
        *results, versions = await asyncio.gather(
            *(self.triton.infer(self.pipeline, prepare_inputs(c), outputs, request_id) for c in chunks),
            self.triton.model_versions(self.model),
        )
        parsed = [parse_outputs(result, contract.class_labels) for result in results]
        return CarPredictions(
            labels=[label for part in parsed for label in part.labels],
            probabilities=[row for part in parsed for row in part.probabilities],
            model_version=versions[-1] if versions else "unknown",
        )
