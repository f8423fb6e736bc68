"""``docserve export classifier``: train the next ``doc_classifier`` version from labelled pages.

A labelled folder (one sub-folder per document type, real scans) is split by source
(:mod:`.labelled_pages`); when its types are the synthetic factory's, rendered pages join the
training side as augmentation (never the validation side). The model is exported with the
torch-vs-onnxruntime parity check into ``doc_classifier/<next version>/`` together with its
``labels.txt`` (the label list travels with the weights), evaluated on the held-out real pages
through onnxruntime, and the model card is rewritten. Earlier versions stay for rollback.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from docserve.contract.document_types import DOCUMENT_TYPES
from docserve.export.documents.dataset import TRAINING_FIRST_SEED, generate_pages, seeds
from docserve.export.model_card import write_model_card
from docserve.export.onnx_export import ExportReport
from docserve.export.vision.classifier_card import classifier_card
from docserve.export.vision.classifier_onnx import Backbone, join_classifier
from docserve.export.vision.classifier_training import COPIES, page_features, train_head
from docserve.export.vision.labelled_pages import (
    LabelledThumbnails,
    PageFile,
    folder_labels,
    page_files,
    page_gray,
    split_by_source,
    thumbnails,
)
from docserve.export.vision.real_evaluation import (
    TypeMetrics,
    confusion,
    predicted_types,
    synthetic_type_metrics,
    type_metrics,
)
from docserve.export.vision.reference import DOC_CLASSIFIER, newest_version
from docserve.processing.document_labels import LABELS_FILE, read_labels, write_labels
from docserve.processing.page_thumbnail import page_thumbnail

SEED = 20261201
SYNTHETIC_PAGES = 400
SYNTHETIC_HELD_OUT_PAGES = 300
EPOCHS = 20
TOLERANCE = 1e-4
EXPORT_SAMPLES = 4


@dataclass(frozen=True)
class Misread:
    """A validation page given the wrong type: what to look at when judging the labels."""

    page: str  # path inside the data folder
    truth: str
    predicted: str


@dataclass(frozen=True)
class ClassifierReport:
    version: int
    labels: tuple[str, ...]
    data: Path
    training_counts: dict[str, int]  # real training pages per type
    synthetic_pages: int
    seconds: float
    validation: TypeMetrics  # held-out real pages (sources never trained on)
    misread: tuple[Misread, ...]  # the held-out pages it got wrong
    previous: TypeMetrics | None  # the version before, on the same pages (same types only)
    synthetic: TypeMetrics | None  # held-out synthetic pages, when the types are the factory's
    ms_per_page: float
    previous_ms_per_page: float | None  # the version before, timed in the same run (same load)
    export: ExportReport  # max_abs_diff: the joined graph against its torch and onnxruntime parts


def build_classifier(repository: Path, data: Path, synthetic_pages: int = SYNTHETIC_PAGES,
                     epochs: int = EPOCHS, seed: int = SEED, workers: int = 2) -> ClassifierReport:
    """Train on ``data`` (+ synthetic pages), write the next version and the model card."""
    torch.set_num_threads(2)
    labels = folder_labels(data)
    files = page_files(data, labels)
    pages = thumbnails(files, labels, workers)
    train, validation = split_by_source(files, seed)
    synthetic = synthetic_pages if set(labels) == set(DOCUMENT_TYPES) else 0
    training = _with_synthetic(pages.subset(train), labels, synthetic, workers)
    model_dir = repository / DOC_CLASSIFIER.model
    version = newest_version(model_dir) + 1 if model_dir.exists() else 1
    samples = torch.from_numpy(pages.thumbnails[train[:EXPORT_SAMPLES]]).float().div(255)[:, None]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        backbone = Backbone(Path(folder))
        features = page_features(backbone, training.thumbnails, training.page_sizes, COPIES, seed)
        rounds = len(features) // len(training.labels)
        head = train_head(features, np.tile(training.labels, rounds), labels, seed, epochs)
        seconds = time.perf_counter() - started
        export = join_classifier(head, backbone, samples, model_dir / str(version) / "model.onnx",
                                 TOLERANCE)
    write_labels(model_dir / str(version) / LABELS_FILE, labels)
    held_out = pages.subset(validation)
    predicted = predicted_types(export.path, held_out.thumbnails)
    report = ClassifierReport(
        version=version, labels=labels, data=data,
        training_counts={label: int(np.sum(pages.labels[train] == i))
                         for i, label in enumerate(labels)},
        synthetic_pages=synthetic, seconds=seconds,
        validation=TypeMetrics(labels, confusion(held_out.labels, predicted, len(labels))),
        misread=tuple(Misread(files[page].path.relative_to(data).as_posix(), labels[truth],
                              labels[guess])
                      for page, truth, guess in zip(validation, held_out.labels, predicted,
                                                    strict=True) if truth != guess),
        previous=_previous_version(model_dir, version, held_out, labels),
        synthetic=synthetic_type_metrics(export.path, SYNTHETIC_HELD_OUT_PAGES, workers)
        if synthetic else None,
        ms_per_page=_ms_per_page(export.path, files, validation),
        previous_ms_per_page=_ms_per_page(previous, files, validation)
        if (previous := model_dir / str(version - 1) / "model.onnx").exists() else None,
        export=export,
    )
    write_model_card(model_dir, classifier_card(report))
    return report


def _with_synthetic(real: LabelledThumbnails, labels: tuple[str, ...], count: int,
                    workers: int) -> LabelledThumbnails:
    """The real training pages plus ``count`` rendered training-seed pages."""
    if not count:
        return real
    rendered = generate_pages(seeds(count, TRAINING_FIRST_SEED), workers)
    return LabelledThumbnails(
        np.concatenate([real.thumbnails, np.stack(
            [np.round(page_thumbnail(page.image)[0] * 255).astype(np.uint8) for page in rendered])]),
        np.concatenate([real.page_sizes, np.array([page.image.shape for page in rendered])]),
        np.concatenate([real.labels, np.array(
            [labels.index(page.truth.document_type) for page in rendered], dtype=np.int64)]),
        real.groups + ("synthetic",) * count,
    )


def _previous_version(model_dir: Path, version: int, pages: LabelledThumbnails,
                      labels: tuple[str, ...]) -> TypeMetrics | None:
    """The version before on the same validation pages: the before/after of the card."""
    previous = model_dir / str(version - 1)
    if not (previous / "model.onnx").exists() or read_labels(previous) != labels:
        return None
    return type_metrics(previous / "model.onnx", pages, labels)


def _ms_per_page(model: Path, files: Sequence[PageFile], validation: np.ndarray) -> float:
    """Thumbnail + model on one thread, per decoded validation page (what Triton runs)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    decoded = [page_gray(files[i]) for i in validation[:40]]
    session.run(None, {DOC_CLASSIFIER.input: page_thumbnail(decoded[0])[None]})  # warm-up
    started = time.perf_counter()
    for page in decoded:
        session.run(None, {DOC_CLASSIFIER.input: page_thumbnail(page)[None]})
    return 1000 * (time.perf_counter() - started) / len(decoded)
