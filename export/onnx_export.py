"""torch -> ONNX with named tensors and a dynamic batch axis, checked against the torch model.

Every model docserve trains goes through :func:`export_checked`: it writes
``model_repository/<model>/<version>/model.onnx``, runs ``onnx.checker``, and compares onnxruntime's
outputs with torch's on sample inputs (max abs diff asserted), so a broken export never lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch


class ParityError(AssertionError):
    """ONNX Runtime's outputs differ from torch's by more than the tolerance."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    max_abs_diff: float
    size_bytes: int
    opset: int


def export_checked(
    model: torch.nn.Module,
    sample_inputs: Sequence[torch.Tensor],
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    tolerance: float = 1e-5,
    opset: int = 17,
    dynamic_axes: dict[str, dict[int, str]] | None = None,
) -> ExportReport:
    """Export ``model`` to ``path`` and verify it. Axis 0 of every tensor is dynamic (the batch)
    unless ``dynamic_axes`` names the dynamic axes itself (a page's words, say)."""
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    if dynamic_axes is None:
        dynamic_axes = {name: {0: "batch"} for name in [*input_names, *output_names]}
    torch.onnx.export(
        model,
        tuple(sample_inputs),
        str(path),
        input_names=list(input_names),
        output_names=list(output_names),
        dynamic_axes=dynamic_axes,
        opset_version=opset,
        dynamo=False,
    )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    diff = max_abs_diff(model, sample_inputs, path, input_names)
    if diff > tolerance:
        raise ParityError(f"{path}: ONNX vs torch max abs diff {diff:.3g} > tolerance {tolerance}")
    return ExportReport(path=path, max_abs_diff=diff, size_bytes=path.stat().st_size, opset=opset)


def max_abs_diff(
    model: torch.nn.Module, inputs: Sequence[torch.Tensor], path: Path, input_names: Sequence[str]
) -> float:
    """Largest absolute difference between torch and onnxruntime over all outputs."""
    with torch.no_grad():
        expected = model(*inputs)
    expected = expected if isinstance(expected, tuple | list) else (expected,)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {name: tensor.numpy() for name, tensor in zip(input_names, inputs, strict=False)}
    actual = session.run(None, feeds)
    return float(
        max(np.max(np.abs(e.numpy() - a)) for e, a in zip(expected, actual, strict=True))
    )
