"""The one generic Triton client of the gateway: gRPC (asyncio), retries by status, typed errors.

Model-specific code (which tensors to send, how to read the answer) lives beside it in per-model
interfaces such as :mod:`docserve.api.car_evaluation`; this module knows no model names.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import tritonclient.grpc.aio as grpcclient
from loguru import logger
from tritonclient.utils import InferenceServerException

from docserve.contract.errors import (
    InferenceError,
    InvalidInputError,
    NotFoundError,
    StepDownError,
    TritonUnavailableError,
)

# Statuses worth another try: the server is starting, restarting, or momentarily overloaded.
RETRYABLE = {"StatusCode.UNAVAILABLE", "StatusCode.RESOURCE_EXHAUSTED", "StatusCode.DEADLINE_EXCEEDED"}
# What Triton's python backend answers for a model instance whose stub process died (it stays
# READY in every index and health check, and never restarts the stub by itself). Instance names
# are <model>_<group>_<index>.
_DEAD_STUB = re.compile(r"Stub process '(?P<model>[^']+?)_\d+_\d+' is not healthy")


@dataclass(frozen=True)
class ModelState:
    """A model as Triton's repository index reports it."""

    name: str
    versions: list[str] = field(default_factory=list)
    state: str = "UNAVAILABLE"
    reason: str = ""


def _to_error(error: InferenceServerException, model: str) -> Exception:
    status, message = str(error.status()), error.message() or str(error)
    if dead := _DEAD_STUB.search(message):
        step = dead.group("model")
        return StepDownError(f"step '{step}' of '{model}' is down (its process died); it is being "
                             "reloaded, retry shortly", model=step)
    if status in RETRYABLE:
        return TritonUnavailableError(f"Triton is unavailable: {message}")
    if "unknown model" in message or status == "StatusCode.NOT_FOUND":
        return NotFoundError(f"model '{model}' is not available in Triton: {message}")
    if status == "StatusCode.INVALID_ARGUMENT":
        return InvalidInputError(_strip_ensemble_prefix(message))
    return InferenceError(f"Triton failed to run '{model}': {message}")


def _strip_ensemble_prefix(message: str) -> str:
    """Triton prefixes step errors with "in ensemble 'x', "; the client needs the reason only."""
    head, sep, tail = message.partition("', ")
    return tail if sep and head.startswith("in ensemble '") else message


class TritonClient:
    """Async gRPC access to one Triton server, shared by all requests of the gateway."""

    def __init__(
        self,
        url: str,
        timeout_s: float = 30.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        on_inference: Callable[[str, float], None] | None = None,
    ):
        self.url = url
        self.on_inference = on_inference  # (model, seconds) of each successful call, for metrics
        self.on_step_down: Callable[[StepDownError], None] | None = None  # set by StepRepair
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._client = grpcclient.InferenceServerClient(url)

    async def close(self) -> None:
        await self._client.close()

    async def register_system_shared_memory(self, name: str, key: str, byte_size: int) -> None:
        try:
            await self._client.register_system_shared_memory(name, key, byte_size, client_timeout=5.0)
        except InferenceServerException as error:
            raise _to_error(error, "shared memory") from error

    async def unregister_system_shared_memory(self, name: str) -> None:
        try:
            await self._client.unregister_system_shared_memory(name, client_timeout=5.0)
        except InferenceServerException as error:
            raise _to_error(error, "shared memory") from error

    async def infer(
        self,
        model: str,
        inputs: Sequence[grpcclient.InferInput],
        outputs: Sequence[str],
        request_id: str = "",
        parameters: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> grpcclient.InferResult:
        """Run ``model``; retry transient statuses with exponential backoff, map the rest.

        ``parameters`` travel as request parameters (Triton forwards them to ensemble steps);
        ``headers`` as gRPC metadata (the trace context, for Triton's own tracing).
        """
        requested = [grpcclient.InferRequestedOutput(name) for name in outputs]
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                result = await self._client.infer(
                    model, list(inputs), outputs=requested, request_id=request_id,
                    client_timeout=self.timeout_s, parameters=dict(parameters) if parameters else None,
                    headers=dict(headers) if headers else None,
                )
            except InferenceServerException as error:
                mapped = _to_error(error, model)
                if isinstance(mapped, StepDownError) and self.on_step_down is not None:
                    self.on_step_down(mapped)
                if not isinstance(mapped, TritonUnavailableError) or attempt == self.retries:
                    raise mapped from error
                delay = self.backoff_s * 2**attempt
                logger.warning(
                    "Triton {} on {}: retry {} in {:.2f}s", error.status(), model, attempt + 1, delay
                )
                await asyncio.sleep(delay)
                continue
            if self.on_inference is not None:
                self.on_inference(model, time.perf_counter() - started)
            return result
        raise AssertionError("unreachable")  # the loop either returns or raises

    async def load_model(self, model: str) -> None:
        """(Re)load ``model`` through the repository API: a loaded model gets fresh instances."""
        try:
            await self._client.load_model(model, client_timeout=self.timeout_s)
        except InferenceServerException as error:
            raise _to_error(error, model) from error

    async def is_ready(self) -> bool:
        try:
            return bool(await self._client.is_server_ready(client_timeout=2.0))
        except InferenceServerException:
            return False

    async def model_states(self) -> list[ModelState]:
        """Every model of the repository index, with its loaded versions (sorted by name)."""
        try:
            index = await self._client.get_model_repository_index(as_json=True, client_timeout=5.0)
        except InferenceServerException as error:
            raise TritonUnavailableError(f"Triton is unavailable: {error.message()}") from error
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in index.get("models", []):
            grouped.setdefault(entry["name"], []).append(entry)
        return [_model_state(name, entries) for name, entries in sorted(grouped.items())]

    async def model_config(self, model: str) -> dict[str, Any]:
        try:
            response = await self._client.get_model_config(model, as_json=True, client_timeout=5.0)
        except InferenceServerException as error:
            raise _to_error(error, model) from error
        return response["config"]

    async def model_versions(self, model: str) -> list[str]:
        try:
            metadata = await self._client.get_model_metadata(model, as_json=True, client_timeout=5.0)
        except InferenceServerException as error:
            raise _to_error(error, model) from error
        return sorted(metadata.get("versions", []), key=int)


def _model_state(name: str, entries: list[dict[str, Any]]) -> ModelState:
    ready = sorted((e["version"] for e in entries if e.get("state") == "READY"), key=int)
    if ready:
        return ModelState(name=name, versions=ready, state="READY")
    worst = entries[0]
    return ModelState(
        name=name, state=worst.get("state", "UNAVAILABLE"), reason=worst.get("reason", "")
    )
