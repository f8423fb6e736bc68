"""``checkbox``: candidate crop -> not a checkbox / unchecked / checked.

The classical finder (``processing.checkboxes``) proposes every small square-ish outline; this
CNN sees each one as a 32 px crop with a margin of context, which is enough to tell a box from a
letter "O" or a table corner, and a tick, cross or fill from an empty box.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from docserve.processing.checkboxes import STATE_LABELS


class CheckboxClassifier(nn.Module):
    """``checkbox_crops [B, 1, 32, 32]`` -> ``checkbox_state_probabilities [B, 3]``."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, len(STATE_LABELS)),
        )

    def logits(self, checkbox_crops: torch.Tensor) -> torch.Tensor:
        return self.layers(checkbox_crops)

    def forward(self, checkbox_crops: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(checkbox_crops), dim=1)


class _Logits(nn.Module):
    def __init__(self, classifier: CheckboxClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.classifier.logits(crops)


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, labels.long())


def _ink_from_uint8(crops: torch.Tensor, labels: torch.Tensor,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops are stored as uint8 (4x less memory); the network reads ink in [0, 1]."""
    return crops / 255.0, labels


def train_checkbox_classifier(crops: np.ndarray, states: np.ndarray, seed: int,
                              epochs: int = 4) -> CheckboxClassifier:
    from docserve.export.vision.fit import fit

    torch.manual_seed(seed)
    model = CheckboxClassifier()
    fit(_Logits(model), torch.from_numpy(crops), torch.from_numpy(states), _cross_entropy,
        epochs=epochs, seed=seed, batch_size=64, augment=_ink_from_uint8)
    return model.eval()
