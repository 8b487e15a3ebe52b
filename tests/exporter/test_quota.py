"""The estimate of a subscription's ARM reads: a bucket refilled with the time, lowered by what Azure says."""

from __future__ import annotations

import time

import pytest
from azure_backup_exporter.azure.quota import QuotaExhausted, ReadQuota


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_reads_come_back_at_the_refill_rate_up_to_the_bucket() -> None:
    clock = Clock()
    quota = ReadQuota(capacity=10, refill_per_second=2.0, clock=clock)
    for _ in range(10):
        quota.acquire("sub", time.monotonic() + 1)
    assert quota.available("SUB") == 0.0  # subscriptions compare without case
    clock.now += 2.5
    assert quota.available("sub") == 5.0
    clock.now += 100
    assert quota.available("sub") == 10.0


def test_azure_says_what_is_left_less_the_requests_sent_since() -> None:
    """A header was written when its request arrived: the requests still in flight are not in it."""
    clock = Clock()
    quota = ReadQuota(capacity=250, refill_per_second=25.0, clock=clock)
    for _ in range(10):
        quota.acquire("sub", time.monotonic() + 1)
    for _ in range(6):
        quota.done("sub")  # 4 still in flight
    quota.observe("sub", 200)  # the answer of one of the 4: 3 more were sent after it arrived
    assert quota.available("sub") == 197.0
    quota.done("sub")
    quota.observe("sub", 11999)  # believed, as Azure says it (the hourly count of old, UNVERIFIED)
    assert quota.available("sub") == 11997.0


def test_a_read_that_would_come_back_after_the_deadline_is_not_waited_for() -> None:
    clock = Clock()
    quota = ReadQuota(capacity=1, refill_per_second=0.5, clock=clock)
    quota.acquire("sub", time.monotonic() + 1)
    with pytest.raises(QuotaExhausted):
        quota.acquire("sub", time.monotonic() + 1)  # the next read comes back in 2 s
