"""The Triton client against the real Triton and a real closed port: Triton's gRPC statuses as
the table's codes, one retry policy, and a Retry-After that follows the outage."""

from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np
import pytest
import tritonclient.grpc.aio as grpcclient

from docserve.api.embedded_triton import free_port
from docserve.contract.errors import (
    ERROR_CODES,
    InvalidInputError,
    NotFoundError,
    TritonUnavailableError,
)
from docserve.inference.triton_client import (
    MIN_TRITON_RETRY_AFTER_S,
    TRITON_STATUSES,
    TritonClient,
    retried_by_caller,
)


def _page_tensor(name: str = "page_image_bytes") -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, [1], "BYTES")
    tensor.set_data_from_numpy(np.array([b"\x89PNG\r\n\x1a\n"], dtype=np.object_))
    return tensor


@pytest.fixture
def infer_calls(monkeypatch) -> list[str]:
    """The model of every gRPC infer call made (each one a real call, counted on its way out)."""
    calls: list[str] = []
    real_infer = grpcclient.InferenceServerClient.infer

    async def counted(self, model_name, *args, **kwargs):
        calls.append(model_name)
        return await real_infer(self, model_name, *args, **kwargs)

    monkeypatch.setattr(grpcclient.InferenceServerClient, "infer", counted)
    return calls


def test_each_triton_status_is_the_code_whose_row_names_it():
    """Going round: a code's gRPC status, read back from Triton, is that code again."""
    for status, error_class in TRITON_STATUSES.items():
        row = ERROR_CODES[error_class.code]
        assert TRITON_STATUSES[grpc.StatusCode[row.grpc_status]] is error_class, status


def test_triton_answers_become_codes_by_their_status(triton, probe_pipeline):
    async def scenario():
        client = TritonClient(triton.grpc_url, retries=0)
        try:
            with pytest.raises(NotFoundError, match="'nope' is not available"):
                await client.infer("nope", [_page_tensor()], ["page_result_json"])
            with pytest.raises(InvalidInputError, match="unexpected inference input 'wrong'"):
                await client.infer(probe_pipeline, [_page_tensor("wrong")], ["page_result_json"])
            return await client.is_ready()
        finally:
            await client.close()

    assert asyncio.run(scenario()) is True


def test_a_refused_port_is_retried_by_the_policy_outside_a_job_and_tried_once_inside(infer_calls):
    async def scenario():
        client = TritonClient(f"127.0.0.1:{free_port()}", retries=2, backoff_s=0.01)
        try:
            with pytest.raises(TritonUnavailableError) as outside:
                await client.infer("model", [_page_tensor()], ["page_result_json"])
            calls_outside = len(infer_calls)
            with retried_by_caller(), pytest.raises(TritonUnavailableError):
                await client.infer("model", [_page_tensor()], ["page_result_json"])
            return outside.value, calls_outside, len(infer_calls) - calls_outside
        finally:
            await client.close()

    error, calls_outside, calls_inside = asyncio.run(scenario())
    assert (calls_outside, calls_inside) == (3, 1)
    assert error.code == "triton_unavailable" and "Triton is unavailable" in error.message


def test_retry_after_grows_with_the_outage():
    async def scenario():
        client = TritonClient(f"127.0.0.1:{free_port()}", retries=0)
        try:
            waits = []
            for pause_s in (0.0, MIN_TRITON_RETRY_AFTER_S + 1.5):
                await asyncio.sleep(pause_s)
                with pytest.raises(TritonUnavailableError) as refused:
                    await client.model_states()
                waits.append(refused.value.retry_after_s)
            return waits
        finally:
            await client.close()

    started = time.monotonic()
    young, older = asyncio.run(scenario())
    assert young == MIN_TRITON_RETRY_AFTER_S  # a young outage: the time a restart takes
    assert MIN_TRITON_RETRY_AFTER_S < older <= time.monotonic() - started + 1
