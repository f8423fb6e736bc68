"""Training the key -> value model on FUNSD-format forms: seeded, CPU, a few minutes.

One page per step (pages differ in word count), gradients accumulated over a few pages. The loss
sums the word-label cross-entropy, the predecessor cross-entropy (grouping words into entities)
and the link binary cross-entropy over every ordered word pair; the positives of the last are
rare (about 1 pair in 300), so they are weighted up. Boxes are jittered (a page scaled and
shifted a little) so the model does not learn FUNSD's exact positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from docserve.export.key_values.forms import Form
from docserve.export.key_values.model import KeyValueModel
from docserve.processing.key_values import (
    FEATURES_TENSOR,
    LABEL_TENSOR,
    LINK_TENSOR,
    NGRAMS_TENSOR,
    PREDECESSOR_TENSOR,
)

SEED = 27


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 45
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2
    pages_per_step: int = 4
    link_positive_weight: float = 8.0
    jitter: float = 0.1
    width: int = 128
    layers: int = 3
    dropout: float = 0.25  # also the share of n-grams dropped from each word


DEFAULT_SETTINGS = TrainingSettings()


@dataclass(frozen=True)
class Example:
    ngrams: torch.Tensor
    features: torch.Tensor
    labels: torch.Tensor
    predecessors: torch.Tensor
    links: torch.Tensor


def example(form: Form) -> Example:
    inputs = form.inputs()
    return Example(torch.from_numpy(inputs[NGRAMS_TENSOR]), torch.from_numpy(inputs[FEATURES_TENSOR]),
                   torch.from_numpy(form.word_labels()), torch.from_numpy(form.predecessors()),
                   torch.from_numpy(form.link_matrix()))


def _jittered(features: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    """The page's boxes scaled and shifted by up to ``amount`` (one draw per page and axis)."""
    scale = 1 + (torch.rand(2, generator=generator) * 2 - 1) * amount
    shift = (torch.rand(2, generator=generator) * 2 - 1) * amount
    boxes = features[:, :8].clone()
    for axis in range(2):  # x0 y0 x1 y1 cx cy: position; width, height: size
        boxes[:, axis:6:2] = boxes[:, axis:6:2] * scale[axis] + shift[axis]
        boxes[:, 6 + axis] = boxes[:, 6 + axis] * scale[axis]
    return torch.cat([boxes, features[:, 8:]], dim=1)


def loss(model: KeyValueModel, item: Example, settings: TrainingSettings,
         generator: torch.Generator) -> torch.Tensor:
    labels, predecessors, links = model(item.ngrams, _jittered(item.features, settings.jitter, generator))
    weight = torch.tensor(settings.link_positive_weight)
    return (F.cross_entropy(labels, item.labels) + F.cross_entropy(predecessors, item.predecessors)
            + F.binary_cross_entropy_with_logits(links, item.links, pos_weight=weight))


def train(forms: Sequence[Form], settings: TrainingSettings = DEFAULT_SETTINGS,
          progress: Callable[[int, float], None] | None = None) -> KeyValueModel:
    """A model trained on ``forms`` with :data:`SEED` (same forms, same settings: same weights)."""
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    examples = [example(form) for form in forms]
    model = KeyValueModel(width=settings.width, layers=settings.layers, dropout=settings.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    steps = settings.epochs * -(-len(examples) // settings.pages_per_step)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.learning_rate, total_steps=steps,
                                                   pct_start=0.1)
    model.train()
    for epoch in range(settings.epochs):
        order = torch.randperm(len(examples), generator=generator).tolist()
        total = 0.0
        for start in range(0, len(order), settings.pages_per_step):
            batch = order[start:start + settings.pages_per_step]
            optimizer.zero_grad()
            for index in batch:
                value = loss(model, examples[index], settings, generator) / len(batch)
                value.backward()
                total += float(value.detach()) * len(batch)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
        if progress is not None:
            progress(epoch, total / len(examples))
    return model.eval()


def predict(model: KeyValueModel, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The model's outputs for one page's featurized words, named like the served tensors."""
    with torch.no_grad():
        labels, predecessors, links = model(torch.from_numpy(inputs[NGRAMS_TENSOR]),
                                            torch.from_numpy(inputs[FEATURES_TENSOR]))
    return {LABEL_TENSOR: labels.numpy(), PREDECESSOR_TENSOR: predecessors.numpy(),
            LINK_TENSOR: links.numpy()}

