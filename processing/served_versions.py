"""Which version of each model behind a page result's parts is serving now, for ``models``.

Ensembles run the newest version (``model_version: -1``), so the newest *ready* one is the one
that answered; reading it from Triton, not from a file, keeps results right across live version
rollouts. Used by the ``page_result`` step, which asks Triton through ``is_ready``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from docserve.contract.page_result import ModelVersion
from docserve.processing.document_labels import READY_VERSIONS_TTL_S, newest_ready_version


class ServedVersions:
    """The newest ready version of each model behind a result part, looked up every few seconds."""

    def __init__(self, repository: Path, part_models: Mapping[str, Sequence[str]],
                 is_ready: Callable[[str, str], bool]):
        self.repository, self.part_models, self.is_ready = repository, part_models, is_ready
        self._models: dict[str, list[ModelVersion]] = {}
        self._read_at = float("-inf")

    def current(self) -> dict[str, list[ModelVersion]]:
        if time.monotonic() - self._read_at > READY_VERSIONS_TTL_S:
            self._models = {part: [ModelVersion(name=name, version=self._newest_ready(name))
                                   for name in names]
                            for part, names in self.part_models.items()}
            self._read_at = time.monotonic()
        return self._models

    def _newest_ready(self, model: str) -> str:
        return newest_ready_version(self.repository / model, self.is_ready) or "unknown"
