"""Export checks of the vision networks, and the committed ONNX files' contracts.

The document classifier's joined graph has its own export test (test_classifier_training.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from docserve.contract.model_repositories import PROJECT_ROOT
from docserve.export.onnx_export import export_checked
from docserve.export.vision.checkbox_model import CheckboxClassifier
from docserve.export.vision.deskew_model import SkewEstimator, skew_angle_grid, soft_angle
from docserve.export.vision.reference import CONTRACTS, DOC_CLASSIFIER, TensorContract, newest_version
from docserve.export.vision.signature_model import SignatureLocator

REPOSITORY = PROJECT_ROOT / "model_repository"
ARCHITECTURES = {
    "deskew": (SkewEstimator, (1, 512, 512)),
    "checkbox": (CheckboxClassifier, (1, 32, 32)),
    "signature": (SignatureLocator, (1, 512, 512)),
}


TRAINED_HERE = [contract for contract in CONTRACTS if contract != DOC_CLASSIFIER]


@pytest.mark.parametrize("contract", TRAINED_HERE, ids=lambda contract: contract.model)
def test_every_architecture_exports_with_parity_and_a_dynamic_batch(contract: TensorContract,
                                                                    tmp_path: Path):
    torch.manual_seed(0)
    architecture, item_shape = ARCHITECTURES[contract.model]
    samples = torch.rand(2, *item_shape)
    report = export_checked(architecture().eval(), [samples], tmp_path / "model.onnx",
                            [contract.input], [contract.output], tolerance=1e-3)
    assert report.max_abs_diff < 1e-3
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    batch_of_three = np.random.default_rng(0).random((3, *item_shape), dtype=np.float32)
    assert session.run(None, {contract.input: batch_of_three})[0].shape[0] == 3


def _config_tensors(model: str) -> dict[str, list[int]]:
    """``{tensor name: dims of one item}`` of a config.pbtxt's inputs and outputs (a model
    without Triton batching, ``max_batch_size: 0``, spells its batch axis as a leading -1)."""
    text = (REPOSITORY / model / "config.pbtxt").read_text()
    tensors = {
        name: [int(dim) for dim in dims.split(",")]
        for name, dims in re.findall(r'name: "(\w+)" data_type: TYPE_FP32 dims: \[ ([^\]]+) \]',
                                     text)
    }
    if "max_batch_size: 0" in text:
        assert all(dims[0] == -1 for dims in tensors.values())
        return {name: dims[1:] for name, dims in tensors.items()}
    return tensors


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda contract: contract.model)
def test_committed_model_matches_its_config(contract: TensorContract):
    version = newest_version(REPOSITORY / contract.model)
    path = REPOSITORY / contract.model / str(version) / "model.onnx"
    assert path.stat().st_size < 4 * 1024 * 1024, "committed models must stay small"
    graph = onnx.load(str(path)).graph
    config = _config_tensors(contract.model)
    for tensor in (*graph.input, *graph.output):
        dims = tensor.type.tensor_type.shape.dim
        assert dims[0].dim_param, f"{tensor.name}: batch axis must be dynamic"
        assert all(want in (-1, dim.dim_value)
                   for want, dim in zip(config[tensor.name], dims[1:], strict=True))
    assert [t.name for t in graph.input] == [contract.input]
    assert [t.name for t in graph.output] == [contract.output]
    assert (REPOSITORY / contract.model / "README.md").is_file()


def test_local_skew_readout_ignores_a_distant_secondary_peak():
    angles = skew_angle_grid()
    logits = torch.full((1, len(angles)), -20.0)
    best = int(torch.argmin((angles - 2.0).abs()))
    logits[0, best - 1 : best + 2] = torch.tensor([4.0, 5.0, 4.5])  # peak a little above 2 deg
    logits[0, 10] = 4.0  # a distant secondary peak near -13.5 deg
    local = float(soft_angle(logits, angles, radius=1))
    assert 2.0 < local < 2.0 + angles[1] - angles[0]
    assert float(soft_angle(logits, angles)) < local - 1.0  # the global mean is pulled away
