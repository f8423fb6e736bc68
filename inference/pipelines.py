"""Document pipelines: discovered from Triton's repository index, run one page at a time.

A *document pipeline* is any ensemble with the documented page contract: input
``page_image_bytes`` (one encoded PNG/JPEG/TIFF page) and output ``page_result_json`` (the page's
result as UTF-8 JSON, :class:`~docserve.contract.page_result.PageResult`). Adding a
pipeline is adding such an ensemble directory: the gateway finds it on its next look at the index
(cached for ``ttl_s`` seconds), with no gateway code. Each look reads the configs of the models
that are new or changed (name, versions, state) since the last one, all at once; the others keep
what their config said then.

The ensemble config's ``parameters`` describe the pipeline (``description``) and configure its
steps (e.g. form_intake's ``expected_document_types``): Triton has no per-step parameters in
ensembles but forwards request parameters to every step, so each page is sent with them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tritonclient.grpc.aio as grpcclient
from loguru import logger
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from docserve.contract.errors import InferenceError, NotFoundError, TritonUnavailableError
from docserve.contract.page_result import PageResult
from docserve.contract.tensor_names import PAGE_INPUT, RESULT_OUTPUT
from docserve.inference.model_graph import called_models, runs
from docserve.inference.trace_context import propagation_headers, tracer
from docserve.inference.triton_client import ModelState, TritonClient
from docserve.processing.page_image import MIN_SIDE_PX

DESCRIPTION_PARAMETER = "description"
DESKEW_STEP = "deskew_apply"  # grows the page's canvas: pages of its pipelines are checked for it
DECODE_STEP = "page_decode"  # refuses a page with a side under MIN_SIDE_PX: checked before queueing


@dataclass(frozen=True)
class Pipeline:
    name: str
    description: str
    versions: list[str]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    batched: bool = True  # max_batch_size > 0: tensors carry a leading batch axis
    parameters: dict[str, str] = field(default_factory=dict)  # sent with every page
    deskews: bool = False  # a step straightens the page on a larger canvas (its size is budgeted)
    min_page_side: int = 1  # the shortest page side its steps read (page_decode's MIN_SIDE_PX)

    def page_shape(self) -> list[int]:
        """Shape of one page's ``page_image_bytes`` tensor for this ensemble."""
        return [1, 1] if self.batched else [1]


def _is_document_pipeline(config: dict[str, Any]) -> bool:
    inputs = {tensor["name"] for tensor in config.get("input", [])}
    outputs = {tensor["name"] for tensor in config.get("output", [])}
    return config.get("platform") == "ensemble" and PAGE_INPUT in inputs and RESULT_OUTPUT in outputs


def _tensors(config: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [
        {"name": t["name"], "datatype": t["data_type"].removeprefix("TYPE_"), "dims": t.get("dims", [])}
        for t in config.get(key, [])
    ]


def _step_models(config: dict[str, Any]) -> set[str]:
    return {step["model_name"] for step in config.get("ensemble_scheduling", {}).get("step", [])}


def _pipeline(state: ModelState, config: dict[str, Any]) -> Pipeline | None:
    """The document pipeline a READY model's config describes; None for any other model."""
    if not _is_document_pipeline(config):
        return None
    parameters = {key: value.get("string_value", "") for key, value in config.get("parameters", {}).items()}
    description = parameters.pop(DESCRIPTION_PARAMETER, "")
    return Pipeline(
        name=state.name,
        description=description,
        versions=state.versions,
        inputs=_tensors(config, "input"),
        outputs=_tensors(config, "output"),
        batched=int(config.get("max_batch_size", 0)) > 0,
        parameters=parameters,
        deskews=DESKEW_STEP in _step_models(config),
        min_page_side=MIN_SIDE_PX if DECODE_STEP in _step_models(config) else 1,
    )


@dataclass(frozen=True)
class _Looked:
    """What the catalog learnt of one READY model: as the index showed it, and its pipeline if any."""

    seen_as: tuple[tuple[str, ...], str]  # (versions, state)
    pipeline: Pipeline | None
    calls: frozenset[str] = frozenset()  # the models it runs directly (ensemble steps, BLS callees)


def _seen_as(state: ModelState) -> tuple[tuple[str, ...], str]:
    return tuple(state.versions), state.state


class PipelineCatalog:
    """The document pipelines Triton serves now, refreshed every ``ttl_s`` seconds."""

    def __init__(self, triton: TritonClient, ttl_s: float = 5.0):
        self.triton = triton
        self.ttl_s = ttl_s
        self._pipelines: dict[str, Pipeline] = {}
        self._looked: dict[str, _Looked] = {}  # every READY model of the last look
        self._read_at = float("-inf")

    async def all(self) -> list[Pipeline]:
        """The pipelines now; while Triton is unreachable, the last ones seen (if any).

        Jobs are still accepted for known pipelines during a Triton outage: they wait in the
        queue and their workers retry until Triton is back.
        """
        if time.monotonic() - self._read_at > self.ttl_s:
            try:
                self._pipelines = await self._discover()
            except TritonUnavailableError:
                if not self._pipelines:
                    raise
                logger.warning("Triton unreachable: using the {} pipelines seen last", len(self._pipelines))
                return list(self._pipelines.values())
            self._read_at = time.monotonic()
        return list(self._pipelines.values())

    async def get(self, name: str) -> Pipeline:
        pipelines = {pipeline.name: pipeline for pipeline in await self.all()}
        if name not in pipelines:
            self._read_at = float("-inf")  # maybe it was just loaded: look again before saying no
            pipelines = {pipeline.name: pipeline for pipeline in await self.all()}
        if name not in pipelines:
            known = ", ".join(sorted(pipelines)) or "none loaded"
            raise NotFoundError(f"no document pipeline named {name!r} (available: {known})")
        return pipelines[name]

    async def _discover(self) -> dict[str, Pipeline]:
        """The pipelines among the READY models, in the index's order (by name); only the configs
        of models new or changed since the last look are read, concurrently."""
        ready = [state for state in await self.triton.model_states() if state.state == "READY"]
        changed = [state for state in ready if self._changed(state)]
        configs = await asyncio.gather(*(self.triton.model_config(state.name) for state in changed))
        fresh = {state.name: _Looked(_seen_as(state), _pipeline(state, config),
                                     frozenset(called_models(config)))
                 for state, config in zip(changed, configs, strict=True)}
        self._looked = {state.name: fresh.get(state.name) or self._looked[state.name] for state in ready}
        return {name: looked.pipeline for name, looked in self._looked.items() if looked.pipeline is not None}

    def models_run_by(self, pipeline: str) -> set[str]:
        """Every model a page through ``pipeline`` may run (as of the last look), itself included."""
        return runs(pipeline, {name: looked.calls for name, looked in self._looked.items()})

    async def pipelines_running(self, model: str) -> list[Pipeline]:
        """The pipelines a page may reach ``model`` through (through nested ensembles and BLS)."""
        return [pipeline for pipeline in await self.all() if model in self.models_run_by(pipeline.name)]

    def _changed(self, state: ModelState) -> bool:
        """New since the last look, or loaded in other versions (or state) than then."""
        looked = self._looked.get(state.name)
        return looked is None or looked.seen_as != _seen_as(state)


def page_array(pipeline: Pipeline, page: bytes) -> np.ndarray:
    """One encoded page as the ``page_image_bytes`` tensor of ``pipeline``."""
    return np.array([page], dtype=np.object_).reshape(pipeline.page_shape())


async def analyze_page(
    triton: TritonClient, pipeline: Pipeline, page: bytes, request_id: str = ""
) -> PageResult:
    """Run one encoded page through ``pipeline`` and return its page result."""
    tensor = grpcclient.InferInput(PAGE_INPUT, pipeline.page_shape(), "BYTES")
    tensor.set_data_from_numpy(page_array(pipeline, page))
    return await run_page(triton, pipeline, tensor, request_id)


async def run_page(
    triton: TritonClient, pipeline: Pipeline, tensor: grpcclient.InferInput, request_id: str = ""
) -> PageResult:
    """Run a prepared ``page_image_bytes`` tensor (inline or in shared memory) through ``pipeline``.

    A pipeline whose ``page_result_json`` does not follow the page result schema fails the page
    with :class:`InferenceError` naming what is wrong, rather than passing on JSON no client reads.
    """
    attributes = {"docserve.pipeline": pipeline.name, "docserve.request_id": request_id}
    with tracer().start_as_current_span("triton.infer", kind=SpanKind.CLIENT, attributes=attributes):
        result = await triton.infer(pipeline.name, [tensor], [RESULT_OUTPUT], request_id,
                                    pipeline.parameters, headers=propagation_headers())
    raw = result.as_numpy(RESULT_OUTPUT).reshape(-1)
    if raw.size != 1:
        raise InferenceError(f"pipeline {pipeline.name!r} returned {raw.size} values of {RESULT_OUTPUT}")
    try:
        return PageResult.model_validate_json(raw[0])
    except ValidationError as error:
        raise InferenceError(
            f"pipeline {pipeline.name!r} returned a {RESULT_OUTPUT} that is not a page result: "
            f"{error.errors(include_url=False)[:3]}"
        ) from error
