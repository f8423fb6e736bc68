"""Training the ``doc_classifier`` head on frozen backbone features of augmented pages.

The backbone is frozen, so each page's features are computed once per augmented copy (on
onnxruntime) and the head trains on them in seconds. Every page contributes itself plus
``copies`` augmented scans; types are balanced by repeating the smaller ones' examples. The
head's members share the features and the standardisation; each has its own seed.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from docserve.export.vision.classifier_onnx import Backbone
from docserve.export.vision.doc_classifier_model import (
    HEADS,
    ClassifierHead,
    PagePreprocess,
    augment_scans,
    training_inputs,
)
from docserve.export.vision.fit import fit

COPIES = 3
CHUNK = 32
# A missed form costs its OCR (the form pipelines skip other types): its errors weigh double.
TYPE_WEIGHTS = {"application_form": 2.0}


def page_features(backbone: Backbone, thumbnails: np.ndarray, page_sizes: np.ndarray,
                  copies: int, seed: int) -> torch.Tensor:
    """``[(copies + 1) * N, FEATURES]``: the pages as scanned, then each augmented round."""
    generator = torch.Generator().manual_seed(seed)
    preprocess = PagePreprocess()
    inputs = training_inputs(thumbnails, page_sizes)
    rounds = [torch.cat([backbone.features(inputs[i: i + CHUNK, :1].float() / 255, preprocess)
                         for i in range(0, len(inputs), CHUNK)])]
    for _ in range(copies):
        rounds.append(torch.cat([
            backbone.features(augment_scans(inputs[i: i + CHUNK], generator), preprocess)
            for i in range(0, len(inputs), CHUNK)]))
    return torch.cat(rounds)


def balanced_indices(labels: np.ndarray, seed: int) -> np.ndarray:
    """Indices that repeat each type's examples up to the largest type's count."""
    rng = np.random.default_rng(seed)
    largest = int(np.bincount(labels).max())
    picks = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        repeats = np.concatenate([members] * -(-largest // len(members)))
        picks.append(np.concatenate([members, rng.permutation(repeats)[: largest - len(members)]]))
    return np.concatenate(picks)


def train_head(features: torch.Tensor, labels: np.ndarray, names: tuple[str, ...], seed: int,
               epochs: int, heads: int = HEADS) -> ClassifierHead:
    """A head over the types ``names``: standardisation from the features, then ``heads`` MLPs."""
    torch.manual_seed(seed)
    head = ClassifierHead(len(names), heads)
    head.feature_mean.copy_(features.mean(0))
    head.feature_std.copy_(features.std(0) + 1e-3)
    standardised = head.standardised(features)
    loss = _cross_entropy(torch.tensor([TYPE_WEIGHTS.get(name, 1.0) for name in names]))
    for offset, member in enumerate(head.members):
        picks = torch.from_numpy(balanced_indices(labels, seed + offset))
        fit(member, standardised[picks], torch.from_numpy(labels)[picks], loss,
            epochs=epochs, seed=seed + offset, batch_size=64, learning_rate=1e-3,
            weight_decay=1e-3)
    return head.eval()


def _cross_entropy(weights: torch.Tensor):
    def loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels.long(), weight=weights, label_smoothing=0.05)

    return loss
