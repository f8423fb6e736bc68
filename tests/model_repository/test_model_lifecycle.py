"""Promote and roll back a model version on the live Triton, under load, behind the golden-set gate.

A copy of the car model and its pipeline goes into the session's scratch repository; eight
clients (gRPC straight to the ensemble, and REST through the gateway) call it without pause while
a worse version is refused, a good one promoted, and then rolled back. Not one request may fail.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import tritonclient.grpc as grpcclient
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from docserve.api.app import create_app
from docserve.api.model_lifecycle import ModelLifecycle, ModelLifecycleError
from docserve.cli.main import app as cli
from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export import car_evaluation
from docserve.export.onnx_export import export_checked

MODEL, PIPELINE = "car_lifecycle_model", "car_lifecycle"
CAR = {"buying": "low", "maint": "low", "doors": "4", "persons": "more", "lug_boot": "big", "safety": "high"}


def _export(model: torch.nn.Module, features: np.ndarray, target: Path) -> None:
    export_checked(model, [torch.from_numpy(features[:8])], target / "model.onnx",
                   input_names=["car_features"], output_names=["class_probabilities"])


@pytest.fixture(scope="module")
def lifecycle(triton, scratch_repository, tmp_path_factory) -> ModelLifecycle:
    source = PROJECT_ROOT / "model_repository" / car_evaluation.MODEL_NAME
    target = scratch_repository / MODEL
    shutil.copytree(source / "1", target / "1")
    (target / "config.pbtxt").write_text((source / "config.pbtxt").read_text()
                                         .replace(car_evaluation.MODEL_NAME, MODEL))
    ensemble = (PROJECT_ROOT / "ensembles" / "car_evaluation" / "config.pbtxt").read_text()
    (scratch_repository / PIPELINE / "1").mkdir(parents=True)
    (scratch_repository / PIPELINE / "config.pbtxt").write_text(
        ensemble.replace('"car_evaluation"', f'"{PIPELINE}"').replace(car_evaluation.MODEL_NAME, MODEL))
    data = car_evaluation.load_dataset()
    golden = target / "golden"
    golden.mkdir()
    np.save(golden / "inputs.npy", data.features.astype(np.float32))
    np.save(golden / "expected.npy", data.labels)
    (golden / "golden.json").write_text(json.dumps({"input": "car_features", "output": "class_probabilities",
                                                    "metric": "accuracy", "max_drop": 0.01}))
    lifecycle = ModelLifecycle([scratch_repository], triton.http_url)
    lifecycle.triton.load_model(MODEL)
    lifecycle.triton.load_model(PIPELINE)
    worse = tmp_path_factory.mktemp("worse_version")  # one epoch: visibly worse on the golden set
    _export(car_evaluation.train(data, np.arange(len(data.labels)), epochs=1), data.features, worse)
    good = tmp_path_factory.mktemp("good_version")  # a full retrain: as good as version 1
    _export(car_evaluation.train(data, np.arange(len(data.labels))), data.features, good)
    assert lifecycle.add(MODEL, worse) == 2 and lifecycle.add(MODEL, good) == 3
    return lifecycle


class _Load:
    """Eight bounded client loops (gRPC and REST) counting every request and every failure."""

    def __init__(self, grpc_url: str, gateway: TestClient):
        self.grpc_url, self.gateway = grpc_url, gateway
        self.stop = threading.Event()
        self.sent, self.failed = Counter(), []
        self.versions: list[str] = []
        self.threads = [threading.Thread(target=self._grpc) for _ in range(6)]
        self.threads += [threading.Thread(target=self._rest) for _ in range(2)]

    def __enter__(self) -> _Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _grpc(self) -> None:
        client = grpcclient.InferenceServerClient(self.grpc_url)
        inputs = []
        for name, value in CAR.items():
            tensor = grpcclient.InferInput(name, [1, 1], "BYTES")
            tensor.set_data_from_numpy(np.array([[value.encode()]], dtype=np.object_))
            inputs.append(tensor)
        deadline = time.monotonic() + 300
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.sent["grpc"] += 1
            try:
                client.infer(PIPELINE, inputs)
            except Exception as error:
                self.failed.append(f"grpc: {error}")

    def _rest(self) -> None:
        deadline = time.monotonic() + 300
        while not self.stop.is_set() and time.monotonic() < deadline:
            self.sent["rest"] += 1
            answer = self.gateway.post("/api/v1/predict", json={"inputs": [CAR]})
            if answer.status_code != 200:
                self.failed.append(f"rest: {answer.status_code} {answer.text}")
            else:
                self.versions.append(answer.json()["model_version"])


def test_promote_and_rollback_under_load_fail_no_request(lifecycle, triton, triton_settings):
    settings = triton_settings.model_copy(update={"car_pipeline": PIPELINE, "car_model": MODEL})
    with TestClient(create_app(settings)) as gateway, _Load(triton.grpc_url, gateway) as load:
        time.sleep(1)
        with pytest.raises(ModelLifecycleError, match=r"not promoted.*REFUSED") as refused:
            lifecycle.promote(MODEL, 2)
        print(refused.value)
        assert lifecycle.versions(MODEL).loaded == [1]
        gate = lifecycle.promote(MODEL, 3)
        assert gate.passed and lifecycle.versions(MODEL).loaded == [3]
        print(f"promoted: {gate.describe()}")
        time.sleep(1)
        assert lifecycle.rollback(MODEL) == 1  # the version live before, not the refused 2
        assert lifecycle.versions(MODEL).loaded == [1]
    assert load.failed == [], load.failed[:5]
    assert load.sent["grpc"] > 50 and load.sent["rest"] > 10, load.sent
    assert {"1", "3"} <= set(load.versions)  # REST answers name the version that answered
    print(f"requests sent during promote/rollback: {dict(load.sent)}, failed: {len(load.failed)}")


def test_models_commands(lifecycle, triton, scratch_repository):
    runner = CliRunner()
    common = ["--triton-url", triton.http_url, "--model-repository", str(scratch_repository)]
    listed = runner.invoke(cli, ["models", "list", *common])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if line.startswith(MODEL))
    assert "disk 1,2,3" in line and f"used by {PIPELINE}" in line
    refused = runner.invoke(cli, ["models", "promote", MODEL, "2", *common])
    assert refused.exit_code == 1 and "REFUSED" in refused.output
    pinned = runner.invoke(cli, ["models", "pin", MODEL, "3", *common])
    assert pinned.exit_code == 0 and lifecycle.versions(MODEL).loaded == [3]
    back = runner.invoke(cli, ["models", "rollback", MODEL, *common])
    assert back.exit_code == 0 and lifecycle.versions(MODEL).loaded == [1], back.output


@pytest.mark.parametrize(("model", "sensible"), [
    (car_evaluation.MODEL_NAME, lambda accuracy: accuracy >= 0.98),
    ("deskew", lambda error_degrees: error_degrees < 0.5),
    ("doc_classifier", lambda accuracy: accuracy >= 0.9),
    ("checkbox", lambda accuracy: accuracy >= 0.9),
])
def test_the_shipped_golden_sets_gate_the_live_models(triton, model, sensible):
    """Each model's golden set runs against its live version as shipped (live against itself)."""
    lifecycle = ModelLifecycle([PROJECT_ROOT / "model_repository"], triton.http_url)
    (live,) = lifecycle.versions(model).loaded
    gate = lifecycle._gate(model, live, live)
    assert gate.passed and gate.live == pytest.approx(gate.candidate), gate.describe()
    assert sensible(gate.live), gate.describe()


def test_models_list_names_the_steps_that_call_a_model_through_bls(triton):
    """text_recognition is no ensemble's step: ocr_lines calls it (BLS), and says so in its config."""
    repositories = ["--model-repository", str(PROJECT_ROOT / "model_repository"),
                    "--model-repository", str(PROJECT_ROOT / "ensembles")]
    listed = CliRunner().invoke(cli, ["models", "list", "--triton-url", triton.http_url, *repositories])
    assert listed.exit_code == 0, listed.output
    used_by = {line.split()[0]: line.partition(" used by ")[2] for line in listed.output.splitlines()}
    assert used_by["text_recognition"] == "ocr_lines"
    assert "page_orientation_apply" in used_by["page_orientation"].split(", ")
