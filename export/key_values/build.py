"""``docserve export key-values``: train on FUNSD forms, export with the parity check, measure, card.

The forms are split by document (:data:`HELD_OUT_FORMS` whole forms held out, seeded); the model
trains on the rest and every figure of the card comes from the held-out forms through the
exported ONNX (onnxruntime, one thread), the artefact Triton serves. The held-out forms' names
are written beside the model (``validation_forms.txt``) so ``docserve export evaluate --fields``
can measure the same forms again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort
import torch

from docserve.export.key_values.end_to_end import EndToEndScores, Reader, provisional_words, score_end_to_end
from docserve.export.key_values.evaluation import GroundTruthScores, Predictor, evaluate_ground_truth
from docserve.export.key_values.forms import Form, read_forms, split_by_document
from docserve.export.key_values.training import SEED, TrainingSettings, train
from docserve.export.onnx_export import ExportReport, export_checked
from docserve.processing.key_values import (
    FEATURES_TENSOR,
    LABEL_TENSOR,
    LINK_TENSOR,
    NGRAMS_TENSOR,
    OUTPUT_TENSORS,
    PREDECESSOR_TENSOR,
    decode,
    featurize,
)

MODEL_NAME = "key_values"
VERSION = 1
HELD_OUT_FORMS = 30
VALIDATION_LIST = "validation_forms.txt"
DEFAULT_SETTINGS = TrainingSettings()
INPUTS = (NGRAMS_TENSOR, FEATURES_TENSOR)
DYNAMIC_AXES = {NGRAMS_TENSOR: {0: "words"}, FEATURES_TENSOR: {0: "words"}, LABEL_TENSOR: {0: "words"},
                PREDECESSOR_TENSOR: {0: "words", 1: "words_and_none"},
                LINK_TENSOR: {0: "words", 1: "words"}}


@dataclass(frozen=True)
class KeyValuesReport:
    training_forms: int
    held_out: GroundTruthScores
    end_to_end: EndToEndScores | None
    export: ExportReport
    ms_per_page: float
    training_seconds: float
    settings: TrainingSettings


def onnx_predictor(path: Path, threads: int = 1) -> Predictor:
    """The exported model as a predictor (named outputs), onnxruntime on ``threads`` threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda inputs: dict(zip(OUTPUT_TENSORS, session.run(list(OUTPUT_TENSORS), inputs),
                                   strict=True))


def ms_per_page(forms: Sequence[Form], predictor: Predictor) -> float:
    """Mean milliseconds of featurize + model + decode over ``forms``' annotated words."""
    started = time.perf_counter()
    for form in forms:
        decode(form.words, predictor(featurize(form.words, form.width, form.height)))
    return 1000 * (time.perf_counter() - started) / max(len(forms), 1)


def export_model(model: torch.nn.Module, sample: Form, path: Path) -> ExportReport:
    inputs = sample.inputs()
    return export_checked(model, [torch.from_numpy(inputs[name]) for name in INPUTS], path,
                          input_names=INPUTS, output_names=OUTPUT_TENSORS, tolerance=1e-4,
                          dynamic_axes=DYNAMIC_AXES)


def end_to_end(forms: Sequence[Form], reader: Reader, predictor: Predictor) -> EndToEndScores:
    """Pair figures from the forms' images through ``reader`` (provisional words from its lines)."""
    scores = EndToEndScores()
    for form in forms:
        score_end_to_end(form, provisional_words(reader(form.image.read_bytes())), predictor, scores)
    return scores


def build(repository: Path, forms_folder: Path, settings: TrainingSettings = DEFAULT_SETTINGS,
          reader: Reader | None = None, held_out: int = HELD_OUT_FORMS,
          progress: Callable[[int, float], None] | None = None) -> KeyValuesReport:
    """Train, export (parity checked), measure the held-out forms, write the card and the list."""
    from docserve.export.key_values.card import model_card
    from docserve.export.model_card import write_model_card

    # One thread: the model is small, and on a busy machine a second one waits at every barrier
    # (measured: 14 s an epoch on one thread, 30-300 s on two, with the cores shared).
    torch.set_num_threads(1)
    training, validation = split_by_document(read_forms(forms_folder), held_out, SEED)
    started = time.perf_counter()
    model = train(training, settings, progress)
    seconds = time.perf_counter() - started
    largest = max(validation, key=lambda form: len(form.words))
    export = export_model(model, largest, repository / MODEL_NAME / str(VERSION) / "model.onnx")
    predictor = onnx_predictor(export.path)
    report = KeyValuesReport(
        training_forms=len(training), held_out=evaluate_ground_truth(validation, predictor),
        end_to_end=None if reader is None else end_to_end(validation, reader, predictor),
        export=export, ms_per_page=ms_per_page(validation, predictor), training_seconds=seconds,
        settings=settings)
    (repository / MODEL_NAME / VALIDATION_LIST).write_text(
        "".join(f"{form.name}\n" for form in validation), encoding="utf-8")
    write_model_card(repository / MODEL_NAME, model_card(report))
    return report


def validation_forms(repository: Path, forms: Sequence[Form]) -> list[Form]:
    """The forms the committed model was validated on (and not trained on), by name."""
    names = set((repository / MODEL_NAME / VALIDATION_LIST).read_text(encoding="utf-8").split())
    chosen = [form for form in forms if form.name in names]
    if not chosen:
        raise FileNotFoundError(f"none of the {len(names)} validation forms is in the folder given")
    return chosen
