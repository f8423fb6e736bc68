"""The four vision models in-process: shared processing + onnxruntime, exactly as Triton runs them.

Triton's python models call the same ``docserve.processing`` functions and its onnxruntime
backend runs the same ``model.onnx`` files, so metrics measured here are the served models'
metrics (tests check the two agree on sample pages). No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from docserve.processing.checkboxes import (
    CheckboxDecision,
    crop_candidates,
    decide,
    find_candidates,
)
from docserve.processing.signature_heatmap import SignatureFinding, read_heatmap


@dataclass(frozen=True)
class TensorContract:
    """The input and output tensor names of one ONNX model (as in its config.pbtxt)."""

    model: str
    input: str
    output: str


DESKEW = TensorContract("deskew", "page_thumbnail", "skew_degrees")
DOC_CLASSIFIER = TensorContract("doc_classifier", "page_thumbnail", "document_type_probabilities")
CHECKBOX = TensorContract("checkbox", "checkbox_crops", "checkbox_state_probabilities")
SIGNATURE = TensorContract("signature", "page_thumbnail", "signature_heatmap")
CONTRACTS = (DESKEW, DOC_CLASSIFIER, CHECKBOX, SIGNATURE)


def model_versions(model_dir: Path) -> list[int]:
    """The numbered version folders holding a ``model.onnx``, oldest first."""
    versions = sorted(int(path.name) for path in model_dir.iterdir()
                      if path.name.isdigit() and (path / "model.onnx").exists())
    if not versions:
        raise FileNotFoundError(f"{model_dir}: no <version>/model.onnx")
    return versions


def newest_version(model_dir: Path) -> int:
    """The highest numbered version folder holding a ``model.onnx``: the one Triton serves
    under ``version_policy: { latest: { num_versions: 1 } }``."""
    return model_versions(model_dir)[-1]


class VisionModels:
    """onnxruntime sessions for the models of a repository, one call per model and batch.

    Each model runs its newest version, as Triton serves it.
    """

    def __init__(self, repository: Path, threads: int = 1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.versions = {contract.model: newest_version(repository / contract.model)
                         for contract in CONTRACTS}
        self._sessions = {
            contract.model: ort.InferenceSession(
                str(repository / contract.model / str(self.versions[contract.model])
                    / "model.onnx"), options, providers=["CPUExecutionProvider"],
            )
            for contract in CONTRACTS
        }

    def run(self, contract: TensorContract, batch: np.ndarray) -> np.ndarray:
        session = self._sessions[contract.model]
        return session.run([contract.output], {contract.input: batch.astype(np.float32)})[0]

    def skew_degrees(self, thumbnails: np.ndarray) -> np.ndarray:
        """``[B, 1, S, S]`` thumbnails -> ``[B]`` skew angles."""
        return self.run(DESKEW, thumbnails)[:, 0]

    def document_type_probabilities(self, thumbnails: np.ndarray) -> np.ndarray:
        return self.run(DOC_CLASSIFIER, thumbnails)

    def checkboxes(self, page: np.ndarray) -> CheckboxDecision:
        boxes = find_candidates(page)
        if len(boxes) == 0:
            return decide(boxes, np.zeros((0, 3), dtype=np.float32))
        return decide(boxes, self.run(CHECKBOX, crop_candidates(page, boxes)))

    def signatures(self, thumbnails: np.ndarray,
                   page_sizes: list[tuple[int, int]]) -> list[SignatureFinding]:
        """Findings for ``[B, 1, S, S]`` thumbnails of pages of the given (height, width)."""
        heatmaps = self.run(SIGNATURE, thumbnails)[:, 0]
        return [read_heatmap(heatmap, *size) for heatmap, size in zip(heatmaps, page_sizes,
                                                                       strict=True)]
