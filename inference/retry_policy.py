"""How often to try again after a transient failure, and how long to wait in between.

One policy per operation a caller sees, never one inside another: nested retries multiply
(three Triton retries inside five job attempts made up to 20 calls for one job). So a job's
attempts are the retry loop for everything the job does, and the Triton client retries only the
calls made outside a job (synchronous predictions, the step probe); see
:func:`docserve.inference.triton_client.retried_by_caller`. Step reloads have a policy of their
own (:mod:`docserve.api.step_repair`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries in all; after the n-th failed one, wait ``backoff_s * 2**(n-1)``, at most
    ``cap_s``, varied by up to ``jitter`` of itself so that callers failing together do not all
    come back at the same instant."""

    attempts: int
    backoff_s: float
    cap_s: float = 60.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.cap_s < 0 or not 0 <= self.jitter < 1:
            raise ValueError(f"not a retry policy: {self}")

    def exhausted(self, tries: int) -> bool:
        """Whether ``tries`` failed tries leave none to make."""
        return tries >= self.attempts

    def delay_s(self, tries: int) -> float:
        """The wait after the ``tries``-th failed try (counting from 1)."""
        wait = self.backoff_s * 2 ** (tries - 1) * (1 + self.jitter * random.uniform(-1, 1))
        return min(self.cap_s, wait)


SINGLE_TRY = RetryPolicy(attempts=1, backoff_s=0.0)
