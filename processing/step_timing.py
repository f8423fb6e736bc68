"""Wall time of one pipeline step, as the ``elapsed_ms`` tensor the page result reports.

Every python step of the document pipelines is measured the same way, by the step base for each
request (``page_result`` turns the tensors into ``timings_ms``), so the measurement lives here once.
"""

from __future__ import annotations

import time

import numpy as np


class StepClock:
    """Started when created; :meth:`elapsed_ms` is the time since, as a float32 ``[1]`` tensor."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def elapsed_ms(self) -> np.ndarray:
        return np.array([(time.perf_counter() - self._started) * 1000], dtype=np.float32)
