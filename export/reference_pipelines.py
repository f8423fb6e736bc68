"""Every document pipeline in this process, no serving: the benchmarks' limit and the monolith.

Each pipeline runs the same ONNX files and the same ``docserve.processing`` functions as
its Triton ensemble, in the ensemble's order, and returns the same :class:`PageResult` (tests
compare the two on real pages). Only the wiring is restated here, as the data in
:data:`PIPELINES`: which parts a pipeline computes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import onnxruntime as ort

from docserve.contract.page_result import KeyValue, ModelVersion, PageResult, SkippedStep
from docserve.export import ocr as ocr_export
from docserve.export import orientation as orientation_export
from docserve.export.reference_ocr import InProcessOcr
from docserve.export.vision.reference import VisionModels
from docserve.processing.document_gate import skip_for_type
from docserve.processing.document_labels import read_labels
from docserve.processing.form_fields import KEY_VALUES_MODEL, UprightPage, page_key_values
from docserve.processing.key_values import OUTPUT_TENSORS, KvWord
from docserve.processing.ocr_pipeline import OcrLine, OcrSettings
from docserve.processing.page_assembly import (
    CheckboxOutputs,
    PageOutputs,
    SignatureOutputs,
    TextOutputs,
    WordOutputs,
    assemble_page_result,
)
from docserve.processing.page_image import decode_page_gray
from docserve.processing.page_orientation import (
    FIRST_READING,
    PageOrientation,
    orient,
    orientation_input,
    turn_upright,
)
from docserve.processing.page_rotation import deskew_page
from docserve.processing.page_thumbnail import page_thumbnail
from docserve.processing.text_recognition import CHARACTER_SET_FILE, RECOGNITION_MODEL


class TextStep(Enum):
    NONE = "none"
    ALWAYS = "always"
    EXPECTED_TYPES = "expected_types"  # form_intake's gate


@dataclass(frozen=True)
class PipelineParts:
    """What a pipeline computes; mirrors its ensemble in ensembles/<name>/config.pbtxt (a test
    checks the steps of each ensemble against it). Every pipeline first turns the page upright
    (orientation); ``skew`` says whether it measures the skew, and straightens the page for
    OCR and checkboxes."""

    skew: bool = True
    document_type: bool = False
    text: TextStep = TextStep.NONE
    checkboxes: bool = False
    signature: bool = False
    key_values: bool = False  # the form fields, from the words, checkboxes and signature


PIPELINES: dict[str, PipelineParts] = {
    "form_intake": PipelineParts(document_type=True, text=TextStep.EXPECTED_TYPES),
    "checkbox_form": PipelineParts(checkboxes=True),
    "signature_check": PipelineParts(signature=True),
    "document_full": PipelineParts(document_type=True, text=TextStep.ALWAYS, checkboxes=True,
                                   signature=True, key_values=True),
    "form_fields": PipelineParts(text=TextStep.ALWAYS, checkboxes=True, signature=True, key_values=True),
    "ocr": PipelineParts(skew=False, text=TextStep.ALWAYS),  # the page turned upright, not deskewed
}

# What form_intake's ensemble declares (its "expected_document_types" parameter), which the
# gateway sends with every page; a test ties the two.
FORM_INTAKE_EXPECTED_TYPES = ("application_form",)
# Result part -> the models behind it: page_result's "part_models" parameter (a test ties them).
MODELS = {
    "orientation": ["page_orientation"], "skew": ["deskew"], "document_type": ["doc_classifier"],
    "text": ["text_detection", "text_recognition"], "checkboxes": ["checkbox"], "signature": ["signature"],
}
VERSION = "1"


class ReferencePipelines:
    """onnxruntime sessions for every model of ``repository``, shared by all pipelines."""

    def __init__(self, repository: Path, threads: int = 1):
        self.vision = VisionModels(repository, threads=threads)
        self.orientation = _session(repository / orientation_export.MODEL / VERSION / "model.onnx", threads)
        self.key_values = _session(repository / KEY_VALUES_MODEL / VERSION / "model.onnx", threads)
        self.ocr = InProcessOcr(
            repository / ocr_export.DETECTION_MODEL / VERSION / "model.onnx",
            repository / RECOGNITION_MODEL / VERSION / "model.onnx",
            repository / ocr_export.DECODER_MODEL / VERSION / CHARACTER_SET_FILE,
            threads=threads, settings=OcrSettings(),
        )
        versions = {**{name: VERSION for names in MODELS.values() for name in names},
                    **{name: str(version) for name, version in self.vision.versions.items()}}
        self.models = {part: [ModelVersion(name=name, version=versions[name]) for name in names]
                       for part, names in MODELS.items()}
        self.document_types = read_labels(
            repository / "doc_classifier" / versions["doc_classifier"])

    def pipeline(self, name: str, expected_types: Sequence[str] = FORM_INTAKE_EXPECTED_TYPES
                 ) -> Callable[[bytes], PageResult]:
        """The pipeline ``name`` as a function of page bytes (``KeyError`` if unknown)."""
        parts = PIPELINES[name]
        return lambda page_image_bytes: self.run(parts, page_image_bytes, expected_types)

    def run(self, parts: PipelineParts, page_image_bytes: bytes, expected_types: Sequence[str]
            ) -> PageResult:
        page = decode_page_gray(page_image_bytes)
        orientation = self.page_orientation(page)
        turned = turn_upright(page, orientation.degrees)
        thumbnail = (page_thumbnail(turned)[None]
                     if parts.skew or parts.document_type or parts.signature else None)
        skew = float(self.vision.skew_degrees(thumbnail)[0]) if parts.skew else None
        probabilities = (self.vision.document_type_probabilities(thumbnail)[0]
                         if parts.document_type else None)
        upright = None  # the page OCR and checkboxes read: turned upright, then deskewed
        if parts.text != TextStep.NONE or parts.checkboxes:
            upright = turned if skew is None else deskew_page(turned, skew)
        text = self._text(parts.text, upright, probabilities, expected_types)
        checkboxes = self._checkboxes(upright) if parts.checkboxes else None
        signature = self._signature(thumbnail, turned.shape) if parts.signature else None
        outputs = PageOutputs(
            page_height=page.shape[0], page_width=page.shape[1], orientation=orientation,
            skew_degrees=skew, document_type_probabilities=probabilities,
            document_types=self.document_types, text=text, checkboxes=checkboxes, signature=signature,
            key_values=self._key_values(text, UprightPage(*turned.shape, skew), checkboxes, signature)
            if parts.key_values else None,
        )
        return assemble_page_result(outputs, self.models)

    def page_orientation(self, page: np.ndarray) -> PageOrientation:
        """How far the grayscale page's content is turned counter-clockwise (0/90/180/270)."""
        return orient(page, self._orientation_probabilities(orientation_input(page, FIRST_READING)),
                      self._orientation_probabilities)

    def _orientation_probabilities(self, crops: np.ndarray) -> np.ndarray:
        (probabilities,) = self.orientation.run([orientation_export.MODEL_OUTPUT],
                                                {orientation_export.MODEL_INPUT: crops})
        return probabilities

    def _text(self, step: TextStep, upright: np.ndarray | None, probabilities: np.ndarray | None,
              expected_types: Sequence[str]) -> TextOutputs | None:
        if step == TextStep.NONE:
            return None
        if step == TextStep.EXPECTED_TYPES:
            skipped = skip_for_type(probabilities, expected_types, self.document_types)
            if skipped is not None:
                return _text_outputs([], skipped)
        return _text_outputs(self.ocr.read_pixels(upright))

    def _checkboxes(self, upright: np.ndarray) -> CheckboxOutputs:
        decision = self.vision.checkboxes(upright)
        return CheckboxOutputs(decision.boxes, decision.checked, decision.confidence)

    def _key_values(self, text: TextOutputs, page: UprightPage, checkboxes: CheckboxOutputs,
                    signature: SignatureOutputs) -> list[KeyValue]:
        """``field_pairing``'s work: the form fields on the canvas the words were read on."""
        words = [KvWord(word, polygon.tolist(), float(confidence)) for word, polygon, confidence
                 in zip(text.words.texts, text.words.polygons, text.words.confidences, strict=True)]
        return page_key_values(words, page, self._pair,
                               (checkboxes.boxes, checkboxes.checked, checkboxes.confidence),
                               (signature.present, signature.score, signature.box))

    def _pair(self, features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(OUTPUT_TENSORS, self.key_values.run(list(OUTPUT_TENSORS), features), strict=True))

    def _signature(self, thumbnail: np.ndarray, page_shape: tuple[int, int]) -> SignatureOutputs:
        (finding,) = self.vision.signatures(thumbnail, [page_shape])
        return SignatureOutputs(finding.present, finding.score, finding.box)


def _session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _text_outputs(lines: Sequence[OcrLine], skipped: SkippedStep | None = None) -> TextOutputs:
    return TextOutputs(
        texts=[line.text for line in lines],
        confidences=np.array([line.confidence for line in lines], dtype=np.float32),
        polygons=np.array([line.polygon for line in lines], dtype=np.float32).reshape(-1, 4, 2),
        skipped=skipped,
        words=_word_outputs(lines),
    )


def _word_outputs(lines: Sequence[OcrLine]) -> WordOutputs:
    """The lines' words flat, as ``ocr_lines`` hands them to ``page_result``."""
    words = [word for line in lines for word in line.words]
    return WordOutputs(
        texts=[word.text for word in words],
        confidences=np.array([word.confidence for word in words], dtype=np.float32),
        polygons=np.array([word.polygon for word in words], dtype=np.float32).reshape(-1, 4, 2),
        line_word_counts=np.array([len(line.words) for line in lines], dtype=np.int32),
    )

