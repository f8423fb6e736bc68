"""The python step base (docserve.processing.triton_step) in the real Triton 2.51.

``step_probe`` (tests/fixtures/repository) does what each request's ``action`` says; its answers
show how the base reads the config, casts outputs, answers each request of a batch on its own
and calls other models through BLS, one at a time or several at once.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from sample_documents import FIXTURE_REPOSITORY
from tritonclient.utils import InferenceServerException

from docserve.api.embedded_triton import EmbeddedTriton

PROBE = "step_probe"


@pytest.fixture(scope="module")
def probe(triton: EmbeddedTriton, scratch_repository: Path) -> grpcclient.InferenceServerClient:
    client = grpcclient.InferenceServerClient(triton.grpc_url)
    for model in ("step_sleeper", PROBE):
        shutil.copytree(FIXTURE_REPOSITORY / model, scratch_repository / model, dirs_exist_ok=True)
        client.load_model(model)
    return client


def _ask(client: grpcclient.InferenceServerClient, action: str, outputs: list[str],
         values: list[float] | None = None) -> grpcclient.InferResult:
    tensors = [grpcclient.InferInput("action", [1, 1], "BYTES")]
    tensors[0].set_data_from_numpy(np.array([[action.encode()]], dtype=np.object_))
    if values is not None:
        tensors.append(grpcclient.InferInput("values", [1, len(values)], "FP64"))
        tensors[1].set_data_from_numpy(np.array([values], dtype=np.float64))
    return client.infer(PROBE, tensors, outputs=[grpcclient.InferRequestedOutput(name) for name in outputs])


def _failure(client: grpcclient.InferenceServerClient, action: str) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as raised:
        _ask(client, action, ["scaled"])
    return raised.value


def test_outputs_are_cast_to_the_config_dtypes_with_the_typed_parameter(probe) -> None:
    """run() returns Python floats; the config's FP32 output and its "scale" parameter (2.5) hold."""
    scaled = _ask(probe, "scale", ["scaled"], [1.0, 2.0]).as_numpy("scaled")
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, [[2.5, 5.0]])


def test_only_the_requested_outputs_are_sent(probe) -> None:
    answer = _ask(probe, "scale", ["batch_size"], [1.0])
    assert answer.as_numpy("scaled") is None
    assert answer.as_numpy("batch_size").dtype == np.int32


def test_a_step_input_error_is_an_invalid_argument_with_its_message(probe) -> None:
    error = _failure(probe, "refuse")
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert error.message() == "refused: this request's values are unusable"


def test_an_unexpected_error_is_internal_naming_the_step_and_the_exception(probe) -> None:
    error = _failure(probe, "crash")
    assert error.status() == "StatusCode.INTERNAL"
    assert error.message() == "step_probe: RuntimeError: an unexpected failure"


def test_one_failing_request_leaves_its_batch_neighbours_answered(probe) -> None:
    """Requests sent together share an execute (dynamic batching); each gets its own answer."""
    def ask(action: str) -> object:
        try:
            return int(_ask(probe, action, ["batch_size"], [1.0]).as_numpy("batch_size")[0, 0])
        except InferenceServerException as error:
            return error.status()

    actions = ["scale", "refuse", "crash"] * 4
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        answers = list(pool.map(ask, actions))
    assert answers[1::3] == ["StatusCode.INVALID_ARGUMENT"] * 4
    assert answers[2::3] == ["StatusCode.INTERNAL"] * 4
    batch_sizes = answers[0::3]
    assert all(isinstance(size, int) for size in batch_sizes)
    assert max(batch_sizes) > 1  # answered in a batch holding failing requests


def test_a_failed_callee_keeps_its_code_and_message(probe) -> None:
    """page_decode refuses the bytes with INVALID_ARG: the caller's client sees just that."""
    error = _failure(probe, "call_decode")
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert error.message().startswith("page_decode: not an image format we can decode")


def test_a_failed_step_inside_a_called_ensemble_keeps_its_code_and_message(probe) -> None:
    """page_ocr's text_detection_preprocess refuses a 10 x 10 page: INVALID_ARG reaches the client."""
    error = _failure(probe, "call_ocr_on_a_tiny_page")
    assert error.status() == "StatusCode.INVALID_ARGUMENT"
    assert error.message().startswith("page_ocr: ")
    assert "page image is 10x10 pixels: too small for a page" in error.message()
    assert "[triton code" not in error.message()


def test_a_call_to_a_model_triton_does_not_serve_fails_naming_it(probe) -> None:
    """The python backend itself refuses the call (INTERNAL): the message says which model."""
    error = _failure(probe, "call_unknown")
    assert error.status() == "StatusCode.INTERNAL"
    assert error.message().startswith("no_such_model: ")
    assert "'no_such_model' is not ready" in error.message()


def test_concurrent_calls_are_in_flight_together(probe) -> None:
    """Three 0.5 s calls to a three-instance model: every sleep starts before any ends."""
    spans = _ask(probe, "sleep_concurrently", ["spans"]).as_numpy("spans")[0]
    assert spans.shape == (3, 2)
    assert spans[:, 0].max() < spans[:, 1].min()


def test_a_missing_config_parameter_fails_the_load_naming_it(probe, scratch_repository: Path) -> None:
    name = "step_probe_unconfigured"
    config = (FIXTURE_REPOSITORY / PROBE / "config.pbtxt").read_text()
    shutil.copytree(FIXTURE_REPOSITORY / PROBE, scratch_repository / name, dirs_exist_ok=True)
    (scratch_repository / name / "config.pbtxt").write_text(
        config.replace(f'name: "{PROBE}"', f'name: "{name}"')
        .replace('parameters { key: "scale" value: { string_value: "2.5" } }', ""))
    try:
        with pytest.raises(InferenceServerException) as raised:
            probe.load_model(name)
        assert "step_probe_unconfigured: config.pbtxt has no parameter 'scale'" in raised.value.message()
    finally:  # unloaded on purpose: the session's Triton is ready again for the tests after this one
        probe.unload_model(name)
        shutil.rmtree(scratch_repository / name)
