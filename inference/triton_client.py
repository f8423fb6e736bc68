"""The one generic Triton client of the gateway: gRPC (asyncio), retries by status, typed errors.

Model-specific code (which tensors to send, how to read the answer) lives beside it in per-model
interfaces such as :mod:`docserve.api.car_evaluation`; this module knows no model names.

Triton's answers become the codes of :mod:`docserve.contract.errors` by their gRPC status
(:data:`TRITON_STATUSES`); one answer is recognised by its message instead: a dead python stub
(see :data:`_DEAD_STUB`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import tritonclient.grpc.aio as grpcclient
from loguru import logger
from tritonclient.utils import InferenceServerException

from docserve.contract.errors import (
    DocserveError,
    InferenceError,
    InvalidInputError,
    NotFoundError,
    StepDownError,
    TritonUnavailableError,
    retry_after,
)
from docserve.inference.retry_policy import SINGLE_TRY, RetryPolicy

Result = TypeVar("Result")

# What Triton's gRPC statuses mean for a caller; any other status is Triton failing to run the
# model (inference_failed). The three transient ones: starting or restarting (or not there at
# all), overloaded, too slow this time.
TRITON_STATUSES: Mapping[grpc.StatusCode, type[DocserveError]] = {
    grpc.StatusCode.UNAVAILABLE: TritonUnavailableError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: TritonUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: TritonUnavailableError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
}
# tritonclient reports a call's status as str(grpc.StatusCode member); this turns it back.
_STATUS_NAMES = {str(status): status for status in grpc.StatusCode}

# The one answer told apart by its message: Triton's python backend answers a request for an
# instance whose stub process died with a plain INTERNAL, like any failing step, but unlike one
# it will never recover by itself (the model stays READY in every index and health check, and
# Triton never restarts the stub): only a reload helps, so it must be recognised. Its status
# cannot tell; this message is the only mark. Instance names are <model>_<group>_<index>.
_DEAD_STUB = re.compile(r"Stub process '(?P<model>[^']+?)_\d+_\d+' is not healthy")

# A Triton that refuses calls is most often (re)starting, which takes seconds: the shortest wait
# worth advising, however young the outage.
MIN_TRITON_RETRY_AFTER_S = 5

# Triton's reason for a model (version) an explicit unload took out: not a fault.
UNLOADED_REASON = "unloaded"
# The config parameter a forced reload sets to a fresh value (see TritonClient.reload_model).
RELOAD_PARAMETER = "docserve_reload"

_caller_retries: ContextVar[bool] = ContextVar("docserve_triton_caller_retries", default=False)


@contextlib.contextmanager
def retried_by_caller() -> Iterator[None]:
    """Within: every Triton call is tried once, and a transient failure goes straight to the
    caller, whose own policy tries again (a job's attempts). Retrying here as well would multiply
    the two policies' tries."""
    token = _caller_retries.set(True)
    try:
        yield
    finally:
        _caller_retries.reset(token)


def grpc_status(error: InferenceServerException) -> grpc.StatusCode:
    """The gRPC status of a failed tritonclient call (UNKNOWN for one refused before the call)."""
    return _STATUS_NAMES.get(error.status() or "", grpc.StatusCode.UNKNOWN)


@dataclass(frozen=True)
class ModelState:
    """A model as Triton's repository index reports it."""

    name: str
    versions: list[str] = field(default_factory=list)
    state: str = "UNAVAILABLE"
    reason: str = ""

    @property
    def down(self) -> bool:
        """Not serving, though it should: loading, or failed to load (not unloaded on purpose,
        nor a model of the repository never asked for)."""
        return self.state == "LOADING" or (self.state == "UNAVAILABLE"
                                           and self.reason not in ("", UNLOADED_REASON))


def _strip_ensemble_prefix(message: str) -> str:
    """Triton prefixes step errors with "in ensemble 'x', "; the client needs the reason only."""
    head, sep, tail = message.partition("', ")
    return tail if sep and head.startswith("in ensemble '") else message


class TritonClient:
    """Async gRPC access to one Triton server, shared by all requests of the gateway.

    A call that fails transiently is tried again by ``retries`` (with exponential backoff), unless
    it runs inside :func:`retried_by_caller` or met a dead step (:class:`StepDownError`, answered
    at once with the ``Retry-After`` of the step's repair). While Triton refuses calls, the client remembers
    since when: the ``Retry-After`` of its :class:`TritonUnavailableError` is how long the outage
    has lasted so far (from ``MIN_TRITON_RETRY_AFTER_S`` to a minute), an outage that has lasted a
    while being likely to last a while more.
    """

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
        # Set by StepRepair: told of each dead step, it answers the Retry-After of its reload.
        self.on_step_down: Callable[[StepDownError], int] | None = None
        self.timeout_s = timeout_s
        self.retry = RetryPolicy(attempts=retries + 1, backoff_s=backoff_s)
        self._unavailable_since: float | None = None  # monotonic; None while Triton answers
        self._client = grpcclient.InferenceServerClient(url)

    async def close(self) -> None:
        await self._client.close()

    async def register_system_shared_memory(self, name: str, key: str, byte_size: int) -> None:
        await self._call("shared memory", self._client.register_system_shared_memory(
            name, key, byte_size, client_timeout=5.0))

    async def unregister_system_shared_memory(self, name: str) -> None:
        await self._call("shared memory", self._client.unregister_system_shared_memory(
            name, client_timeout=5.0))

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
        policy = SINGLE_TRY if _caller_retries.get() else self.retry
        tries = 0
        while True:
            tries += 1
            started = time.perf_counter()
            try:
                result = await self._call(model, self._client.infer(
                    model, list(inputs), outputs=requested, request_id=request_id,
                    client_timeout=self.timeout_s, parameters=dict(parameters) if parameters else None,
                    headers=dict(headers) if headers else None,
                ))
            except TritonUnavailableError as error:
                # A dead step is back only once the repair has reloaded it (seconds): trying again
                # at once would only keep the caller waiting for the same answer.
                if isinstance(error, StepDownError) or policy.exhausted(tries):
                    raise
                delay = policy.delay_s(tries)
                logger.warning("Triton {} on {}: retry {} in {:.2f}s", error.code, model, tries, delay)
                await asyncio.sleep(delay)
                continue
            if self.on_inference is not None:
                self.on_inference(model, time.perf_counter() - started)
            return result

    async def reload_model(self, model: str) -> None:
        """Give ``model`` fresh instances (new stub processes), serving the versions it serves now.

        A plain load of a model Triton holds as loaded is a no-op when its files did not change
        (a dead stub stays dead), and an unload takes every ensemble using it down with it. A load
        with a config override that differs from the loaded one replaces the model, new instances
        up before the old go, its ensembles staying available: the override is the model's own
        config, its versions pinned to those READY now (a version on disk that nobody promoted is
        never loaded by a repair), and a fresh :data:`RELOAD_PARAMETER` so that it always differs.
        """
        config = await self.model_config(model)
        serving = [int(version) for version in await self._ready_versions(model)]
        if serving:
            config["version_policy"] = {"specific": {"versions": serving}}
        config.setdefault("parameters", {})[RELOAD_PARAMETER] = {"string_value": uuid.uuid4().hex}
        await self._call(model, self._client.load_model(
            model, config=json.dumps(config), client_timeout=self.timeout_s))

    async def _ready_versions(self, model: str) -> list[str]:
        return next((state.versions for state in await self.model_states() if state.name == model), [])

    async def is_ready(self) -> bool:
        """Triton answers and every model it holds serves (or was unloaded on purpose).

        Not Triton's own readiness: that stays false until Triton restarts once any load failed,
        even of a version nobody serves (a candidate the quality gate refused; a version 2 that
        failed beside the READY version 1, whose "UNAVAILABLE" entry stays in the index). Here a
        model with one READY version serves, whatever its other versions' entries say.
        """
        try:
            if not await self._call("server", self._client.is_server_live(client_timeout=2.0)):
                return False
            states = await self.model_states()
        except DocserveError:
            return False
        return not any(state.down for state in states)

    async def model_states(self) -> list[ModelState]:
        """Every model of the repository index, with its loaded versions (sorted by name)."""
        try:
            index = await self._call("repository index", self._client.get_model_repository_index(
                as_json=True, client_timeout=5.0))
        except DocserveError as error:
            raise self._unavailable(f"Triton is unavailable: {error.message}") from error
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in index.get("models", []):
            grouped.setdefault(entry["name"], []).append(entry)
        return [_model_state(name, entries) for name, entries in sorted(grouped.items())]

    async def model_config(self, model: str) -> dict[str, Any]:
        response = await self._call(model, self._client.get_model_config(
            model, as_json=True, client_timeout=5.0))
        return response["config"]

    async def model_versions(self, model: str) -> list[str]:
        metadata = await self._call(model, self._client.get_model_metadata(
            model, as_json=True, client_timeout=5.0))
        return sorted(metadata.get("versions", []), key=int)

    async def _call(self, model: str, call: Awaitable[Result]) -> Result:
        """One call to Triton: its answer (Triton is up), or its error as a contract error."""
        try:
            result = await call
        except InferenceServerException as error:
            mapped = self._to_error(error, model)
            if type(mapped) is not TritonUnavailableError:  # Triton answered: it is up
                self._unavailable_since = None
            raise mapped from error
        self._unavailable_since = None
        return result

    def _to_error(self, error: InferenceServerException, model: str) -> DocserveError:
        message = error.message() or str(error)
        if dead := _DEAD_STUB.search(message):
            return self._step_down(dead.group("model"), model)
        mapped = TRITON_STATUSES.get(grpc_status(error), InferenceError)
        if mapped is TritonUnavailableError:
            return self._unavailable(f"Triton is unavailable: {message}")
        if mapped is NotFoundError:
            return NotFoundError(f"model '{model}' is not available in Triton: {message}")
        if mapped is InvalidInputError:
            return InvalidInputError(_strip_ensemble_prefix(message))
        return InferenceError(f"Triton failed to run '{model}': {message}")

    def _unavailable(self, message: str) -> TritonUnavailableError:
        """Triton refused a call: the outage began now, or goes on."""
        now = time.monotonic()
        if self._unavailable_since is None:
            self._unavailable_since = now
        outage_s = now - self._unavailable_since
        return TritonUnavailableError(
            message, retry_after_s=max(MIN_TRITON_RETRY_AFTER_S, retry_after(outage_s)))

    def _step_down(self, step: str, model: str) -> StepDownError:
        """A dead step: reported to the repair (which says when to come back), if there is one."""
        error = StepDownError(f"step '{step}' of '{model}' is down (its process died); it is being "
                              "reloaded, retry shortly", model=step)
        if self.on_step_down is not None:
            error.retry_after_s = self.on_step_down(error)
        return error


def _model_state(name: str, entries: list[dict[str, Any]]) -> ModelState:
    ready = sorted((e["version"] for e in entries if e.get("state") == "READY"), key=int)
    if ready:
        return ModelState(name=name, versions=ready, state="READY")
    states = [ModelState(name=name, state=e.get("state", "UNAVAILABLE"), reason=e.get("reason", ""))
              for e in entries]
    return next((state for state in states if state.down), states[0])
