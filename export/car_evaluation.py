"""Train the car evaluation classifier on the UCI data and write it into the model repository.

A small MLP over one-hot features (see :mod:`docserve.processing.car_features`), trained
with a fixed seed on a stratified 80/20 split; the exported ONNX ends in a softmax so Triton
returns probabilities. Run it with ``docserve export car``.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from docserve.contract.golden_sets import EXPECTED_FILE, GOLDEN_FOLDER, INPUTS_FILE, SPEC_FILE, GoldenMetric
from docserve.export.model_card import write_model_card
from docserve.export.onnx_export import ExportReport, export_checked
from docserve.processing.car_features import (
    ATTRIBUTES,
    CLASS_LABELS,
    FEATURE_COUNT,
    encode_records,
)

DATA_FILE = Path(__file__).resolve().parent / "data" / "car_evaluation.csv"
MODEL_NAME = "car_evaluation_model"
SEED = 20261121
HELD_OUT_FRACTION = 0.2


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class TrainingReport:
    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float]
    train_rows: int
    held_out_rows: int
    epochs: int
    seconds: float
    export: ExportReport


class CarClassifier(nn.Module):
    """One-hot car attributes -> class probabilities (softmax included, as served)."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(FEATURE_COUNT, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, len(CLASS_LABELS)),
        )

    def logits(self, car_features: torch.Tensor) -> torch.Tensor:
        return self.layers(car_features)

    def forward(self, car_features: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(car_features), dim=1)


def load_dataset(path: Path = DATA_FILE) -> Dataset:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = np.array([CLASS_LABELS.index(row["class"]) for row in rows], dtype=np.int64)
    return Dataset(features=encode_records(rows), labels=labels)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out) with each class split in the same proportion."""
    rng = np.random.default_rng(seed)
    train, held_out = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = max(1, round(len(members) * fraction))
        held_out.extend(members[:cut])
        train.extend(members[cut:])
    return np.sort(train), np.sort(held_out)


def macro_f1(truth: np.ndarray, predicted: np.ndarray, classes: int) -> tuple[float, list[float]]:
    scores = []
    for label in range(classes):
        tp = np.sum((predicted == label) & (truth == label))
        fp = np.sum((predicted == label) & (truth != label))
        fn = np.sum((predicted != label) & (truth == label))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)), scores


def train(data: Dataset, train_idx: np.ndarray, epochs: int = 300) -> CarClassifier:
    torch.manual_seed(SEED)
    model = CarClassifier()
    features = torch.from_numpy(data.features[train_idx])
    labels = torch.from_numpy(data.labels[train_idx])
    # Inverse-frequency weights: 'good' and 'vgood' are ~4% of the rows each.
    counts = torch.bincount(labels, minlength=len(CLASS_LABELS)).float()
    loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / (len(CLASS_LABELS) * counts))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for batch in order.split(64):
            optimizer.zero_grad()
            loss_fn(model.logits(features[batch]), labels[batch]).backward()
            optimizer.step()
    return model.eval()


def build(repository: Path, version: int = 1, epochs: int = 300) -> TrainingReport:
    """Train, evaluate on the held-out split, export with parity check, write the model card."""
    started = time.perf_counter()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    data = load_dataset()
    train_idx, held_out_idx = stratified_split(data.labels, HELD_OUT_FRACTION, SEED)
    model = train(data, train_idx, epochs)
    with torch.no_grad():
        probabilities = model(torch.from_numpy(data.features[held_out_idx])).numpy()
    predicted = probabilities.argmax(axis=1)
    truth = data.labels[held_out_idx]
    f1, per_class = macro_f1(truth, predicted, len(CLASS_LABELS))
    sample = torch.from_numpy(data.features[held_out_idx[:64]])
    export = export_checked(
        model, [sample], repository / MODEL_NAME / str(version) / "model.onnx",
        input_names=["car_features"], output_names=["class_probabilities"],
    )
    report = TrainingReport(
        accuracy=float(np.mean(predicted == truth)),
        macro_f1=f1,
        per_class_f1=dict(zip(CLASS_LABELS, per_class, strict=False)),
        train_rows=len(train_idx),
        held_out_rows=len(held_out_idx),
        epochs=epochs,
        seconds=time.perf_counter() - started,
        export=export,
    )
    write_model_card(repository / MODEL_NAME, _model_card(report))
    write_golden_set(repository / MODEL_NAME)
    return report


GOLDEN_MAX_DROP = 0.01  # a new version may lose at most 1 point of held-out accuracy


def write_golden_set(model_dir: Path) -> None:
    """The held-out split as the model's golden set: what ``docserve models promote`` gates on."""
    data = load_dataset()
    _, held_out_idx = stratified_split(data.labels, HELD_OUT_FRACTION, SEED)
    golden = model_dir / GOLDEN_FOLDER
    golden.mkdir(parents=True, exist_ok=True)
    np.save(golden / INPUTS_FILE, data.features[held_out_idx].astype(np.float32))
    np.save(golden / EXPECTED_FILE, data.labels[held_out_idx].astype(np.int64))
    spec = {"input": "car_features", "output": "class_probabilities", "metric": GoldenMetric.ACCURACY,
            "max_drop": GOLDEN_MAX_DROP, "about": "held-out split of the UCI car data (seeded)"}
    (golden / SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")


def _model_card(report: TrainingReport) -> str:
    per_class = " | ".join(f"{label} {score:.3f}" for label, score in report.per_class_f1.items())
    vocab = "\n".join(f"| {name} | {', '.join(values)} |" for name, values in ATTRIBUTES.items())
    return f"""# car_evaluation_model

Classifies a car as `unacc`, `acc`, `good` or `vgood` from six categorical attributes.
Served through the `car_evaluation` ensemble: `car_evaluation_preprocess` (strings -> one-hot)
-> this model -> `car_evaluation_postprocess` (probabilities -> label).

## Tensors
| name | type | shape | meaning |
| --- | --- | --- | --- |
| `car_features` | FP32 | [batch, {FEATURE_COUNT}] | one-hot attributes (table below, in order) |
| `class_probabilities` | FP32 | [batch, {len(CLASS_LABELS)}] | softmax over {", ".join(CLASS_LABELS)} |

One-hot order: `docserve.processing.car_features.ATTRIBUTES`, shared with serving.

| attribute | values (one-hot order) |
| --- | --- |
{vocab}

## Training
- Data: UCI Car Evaluation (M. Bohanec and V. Rajkovic, 1988; UCI Machine Learning Repository,
  DOI 10.24432/C5JP48, CC BY 4.0), vendored in `export/data/`.
- Split: stratified, {report.train_rows} training rows / {report.held_out_rows} held-out rows, seed {SEED}.
- Model: MLP {FEATURE_COUNT} -> 64 -> 64 -> 4, ReLU, class-weighted cross-entropy, Adam 3e-3,
  {report.epochs} epochs, batch 64, torch seed {SEED}; {report.seconds:.1f} s on 2 CPU cores.
- Reproduce: `docserve export car`.

## Held-out metrics
| metric | value |
| --- | --- |
| accuracy | {report.accuracy:.4f} |
| macro-F1 | {report.macro_f1:.4f} |
| per-class F1 | {per_class} |

## Export check
ONNX opset {report.export.opset}, `onnx.checker` full check passed, dynamic batch axis;
max abs diff onnxruntime vs torch on 64 held-out rows: {report.export.max_abs_diff:.2e}
(tolerance 1e-5). File size {report.export.size_bytes / 1024:.1f} KiB.

## Known limits
The data set enumerates every combination of the six attributes once, so the held-out rows are
combinations the model never saw, but the task is a fixed rule table: this is a demonstration
model, not a market price estimator. Unknown attribute values are refused by the preprocessing
step with INVALID_ARG, never guessed.
"""
