"""``doc_classifier``: page thumbnail -> probability of each document type.

Document types differ in layout (a narrow receipt, a ruled invoice table, a form's fields and
boxes), which survives heavy downsampling: the network average-pools the shared 512 px thumbnail
to 128 px first, then a small strided CNN classifies it. Skew is not removed first: the model
learns types at every angle in [-15, 15] degrees.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from docserve.export.documents.ground_truth import DOCUMENT_TYPES

POOLING = 4


def _block(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, stride=2, padding=1), nn.BatchNorm2d(outputs), nn.ReLU()
    )


class DocumentClassifier(nn.Module):
    """``page_thumbnail [B, 1, 512, 512]`` -> ``document_type_probabilities [B, types]``."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(POOLING)
        self.features = nn.Sequential(
            _block(1, 16), _block(16, 32), _block(32, 64), _block(64, 64),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classify = nn.Linear(64, len(DOCUMENT_TYPES))

    def logits_from_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(pooled))

    def forward(self, page_thumbnail: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits_from_pooled(self.pool(page_thumbnail)), dim=1)


class _PooledHead(nn.Module):
    def __init__(self, classifier: DocumentClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier.logits_from_pooled(pooled)


def pooled_thumbnails(thumbnails: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, S, S]`` thumbnails -> the classifier's pooled ``[N, 1, S/4, S/4]`` input."""
    return F.avg_pool2d(torch.from_numpy(thumbnails).float().div(255)[:, None], POOLING)


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels.long())


def train_document_classifier(thumbnails: np.ndarray, type_indices: np.ndarray, seed: int,
                              epochs: int = 12) -> DocumentClassifier:
    from docserve.export.vision.fit import fit

    torch.manual_seed(seed)
    model = DocumentClassifier()
    fit(_PooledHead(model), pooled_thumbnails(thumbnails), torch.from_numpy(type_indices),
        _cross_entropy, epochs=epochs, seed=seed)
    return model.eval()
