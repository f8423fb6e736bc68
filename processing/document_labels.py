"""The document types a ``doc_classifier`` version outputs, stored beside its weights.

``doc_classifier/<version>/labels.txt`` holds one type per line, in the order of the
``document_type_probabilities`` output, so a new set of types is a new model version and
nothing else; a version without the file is the original five-type model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from docserve.contract.document_types import DOCUMENT_TYPES

LABELS_FILE = "labels.txt"
# How often the python steps ask Triton which versions are ready: a rolled model version shows up
# in results (its labels, its version number) within this time.
READY_VERSIONS_TTL_S = 2.0


def read_labels(version_dir: Path) -> tuple[str, ...]:
    """The types of the model in ``version_dir``, in output order."""
    path = version_dir / LABELS_FILE
    if not path.exists():
        return DOCUMENT_TYPES
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip())


def write_labels(path: Path, labels: Sequence[str]) -> Path:
    path.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    return path


def newest_ready_version(model_dir: Path, is_ready: Callable[[str, str], bool]) -> str | None:
    """The highest numbered version of the model in ``model_dir`` that ``is_ready(model,
    version)`` says is loaded: the one an ensemble step (``model_version: -1``) runs."""
    numbered = sorted((int(path.name) for path in model_dir.iterdir() if path.name.isdigit()),
                      reverse=True) if model_dir.is_dir() else []
    return next((str(version) for version in numbered if is_ready(model_dir.name, str(version))),
                None)


class ServedLabels:
    """The label list of the classifier version being served, looked up every few seconds.

    A python step cannot ask which version answered, but it can ask Triton which versions are
    ready: the newest ready one is it. A probability vector whose length disagrees with the
    cached list (a version with other types was just rolled in) forces a fresh look-up.
    """

    def __init__(self, model_dir: Path, is_ready: Callable[[str, str], bool],
                 ttl_s: float = READY_VERSIONS_TTL_S):
        self.model_dir, self.is_ready, self.ttl_s = model_dir, is_ready, ttl_s
        self._labels: tuple[str, ...] = DOCUMENT_TYPES
        self._read_at = float("-inf")

    def current(self, outputs: int | None = None) -> tuple[str, ...]:
        stale = time.monotonic() - self._read_at > self.ttl_s
        if stale or (outputs is not None and outputs != len(self._labels)):
            version = newest_ready_version(self.model_dir, self.is_ready)
            self._labels = DOCUMENT_TYPES if version is None else read_labels(
                self.model_dir / version)
            self._read_at = time.monotonic()
        return self._labels
