"""The one retry policy: attempts, doubling waits, a cap, jitter."""

from __future__ import annotations

import pytest

from docserve.inference.retry_policy import SINGLE_TRY, RetryPolicy


def test_waits_double_up_to_the_cap():
    policy = RetryPolicy(attempts=8, backoff_s=0.5, cap_s=3.0, jitter=0.0)
    assert [policy.delay_s(tries) for tries in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_jitter_varies_each_wait_within_its_fraction():
    policy = RetryPolicy(attempts=3, backoff_s=1.0, jitter=0.2)
    waits = {policy.delay_s(2) for _ in range(200)}
    assert all(1.6 <= wait <= 2.4 for wait in waits)
    assert len(waits) > 1


def test_attempts_count_the_first_try():
    policy = RetryPolicy(attempts=3, backoff_s=0.1)
    assert [policy.exhausted(tries) for tries in (1, 2, 3)] == [False, False, True]
    assert SINGLE_TRY.exhausted(1)


@pytest.mark.parametrize("fields", [{"attempts": 0, "backoff_s": 1.0}, {"attempts": 2, "backoff_s": -1.0},
                                    {"attempts": 2, "backoff_s": 1.0, "jitter": 1.0}])
def test_a_policy_that_cannot_work_is_refused(fields):
    with pytest.raises(ValueError, match="not a retry policy"):
        RetryPolicy(**fields)
