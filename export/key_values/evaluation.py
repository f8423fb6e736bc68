"""The ground-truth-words protocol (the published one): entity labelling F1 and linking F1.

- **Labelling**: the model groups and labels the form's annotated words; a predicted entity counts
  when its word set and label equal an annotated entity's. The headline F1 is micro-averaged over
  key (question), value (answer) and header, as the literature's FUNSD figures are (they tag
  "other" words O); per-class figures include other.
- **Linking** (the relation-extraction protocol of LayoutXLM and BROS): the annotated entities
  and their labels are given; each answer gets its most probable question (when that passes the
  threshold); F1 over question -> answer links. ``linking_f1_from_words`` is the stricter
  figure where the entities too are the model's: a link counts when both its entities are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from docserve.export.key_values.forms import Form
from docserve.processing.key_values import (
    KEY,
    LABELS,
    LINK_TENSOR,
    VALUE,
    decode,
    entity_link_probabilities,
    link_entities,
)

Predictor = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
HEADLINE_LABELS = ("key", "value", "header")


@dataclass
class Counts:
    """True positives, predictions and truths; F1 from them."""

    hits: int = 0
    predicted: int = 0
    expected: int = 0

    def add(self, predicted: set, expected: set) -> None:
        self.hits += len(predicted & expected)
        self.predicted += len(predicted)
        self.expected += len(expected)

    @property
    def precision(self) -> float:
        return self.hits / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.hits / self.expected if self.expected else 0.0

    @property
    def f1(self) -> float:
        total = self.predicted + self.expected
        return 2 * self.hits / total if total else 0.0


@dataclass
class GroundTruthScores:
    forms: int = 0
    labelling: dict[str, Counts] = field(default_factory=lambda: {label: Counts() for label in LABELS})
    linking: Counts = field(default_factory=Counts)
    linking_from_words: Counts = field(default_factory=Counts)

    @property
    def labelling_f1(self) -> float:
        """Micro F1 over key, value and header entities (the published figure)."""
        total = Counts()
        for label in HEADLINE_LABELS:
            counts = self.labelling[label]
            total.hits += counts.hits
            total.predicted += counts.predicted
            total.expected += counts.expected
        return total.f1

    def table(self) -> str:
        rows = [f"ground-truth words, {self.forms} forms: labelling F1 {self.labelling_f1:.3f} "
                f"(key, value, header), linking F1 {self.linking.f1:.3f} (annotated entities), "
                f"{self.linking_from_words.f1:.3f} (the model's entities)"]
        rows += [f"  {label:<7} P {c.precision:.3f} R {c.recall:.3f} F1 {c.f1:.3f} ({c.expected} entities)"
                 for label, c in self.labelling.items()]
        rows.append(f"  links   P {self.linking.precision:.3f} R {self.linking.recall:.3f} "
                    f"F1 {self.linking.f1:.3f} ({self.linking.expected} links)")
        return "\n".join(rows)


def score_form(form: Form, outputs: dict[str, np.ndarray], scores: GroundTruthScores) -> None:
    """Add one form's labelling and linking outcome to ``scores``."""
    page = decode(form.words, outputs)
    truth = {(frozenset(words), LABELS[label]) for words, label in zip(form.entities, form.entity_labels,
                                                                       strict=True)}
    predicted = {(frozenset(entity.words), entity.label) for entity in page.entities}
    for label in LABELS:
        scores.labelling[label].add({e for e in predicted if e[1] == label},
                                    {e for e in truth if e[1] == label})
    expected = {(frozenset(form.entities[k]), frozenset(form.entities[v])) for k, v in form.links}
    keys = [i for i, label in enumerate(form.entity_labels) if label == KEY]
    values = [i for i, label in enumerate(form.entity_labels) if label == VALUE]
    probabilities = entity_link_probabilities(outputs[LINK_TENSOR], form.entities)
    given = {(frozenset(form.entities[k]), frozenset(form.entities[v]))
             for k, v, _ in link_entities(probabilities, keys, values)}
    scores.linking.add(given, expected)
    found = {(frozenset(pair.key.words), frozenset(pair.value.words)) for pair in page.pairs if pair.value}
    scores.linking_from_words.add(found, expected)
    scores.forms += 1


def evaluate_ground_truth(forms: Sequence[Form], predictor: Predictor) -> GroundTruthScores:
    scores = GroundTruthScores()
    for form in forms:
        score_form(form, predictor(form.inputs()), scores)
    return scores
