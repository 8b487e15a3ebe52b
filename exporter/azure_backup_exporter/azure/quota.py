"""ARM's read quota per subscription, as the exporter estimates it, so that it is never throttled.

Azure Resource Manager limits reads per subscription (and principal) with a token bucket: 250 reads,
refilled at 25 a second (azure-api.md section 5), and says in `x-ms-ratelimit-remaining-subscription-reads`
what is left. The estimate here follows the same bucket: each request takes a token, time refills them,
and each header sets the count to what Azure says (it also covers the older 12,000-an-hour model, whose
headers count far above 250).

The scheduler asks `available()` before it starts a vault's refresh and leaves vaults for the next scrape
rather than going below its reserve; the client asks `acquire()` before each request, which waits for a
token (at most until the call's deadline) instead of sending a request Azure would answer 429.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DOCUMENTED_CAPACITY = 250
DOCUMENTED_REFILL_PER_SECOND = 25.0


class QuotaExhausted(Exception):
    """No read token within the deadline: the request is not sent."""


class ReadQuota:
    """Estimated read tokens per subscription: a bucket of `capacity`, refilled `refill_per_second`."""

    def __init__(
        self,
        capacity: int = DOCUMENTED_CAPACITY,
        refill_per_second: float = DOCUMENTED_REFILL_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # subscription -> (tokens, at)
        self._in_flight: dict[str, int] = {}  # subscription -> requests let through, not answered yet

    def available(self, subscription: str) -> float:
        """Tokens the subscription has now, as estimated."""
        with self._lock:
            return self._refilled(subscription.lower())[0]

    def acquire(self, subscription: str, deadline: float) -> None:
        """Take one token, waiting for the refill if none is left; `QuotaExhausted` past `deadline`.

        `deadline` is on `time.monotonic()`, as every deadline of the client.
        """
        key = subscription.lower()
        while True:
            with self._lock:
                tokens, at = self._refilled(key)
                if tokens >= 1.0:
                    self._buckets[key] = (tokens - 1.0, at)
                    self._in_flight[key] = self._in_flight.get(key, 0) + 1
                    return
                wait = (1.0 - tokens) / self.refill_per_second
            if time.monotonic() + wait >= deadline:
                raise QuotaExhausted(f"no ARM read left for {wait:.2f}s, past the scrape's deadline")
            time.sleep(wait)

    def observe(self, subscription: str, remaining: int) -> None:
        """What Azure said was left replaces the estimate, less the requests sent since that one arrived
        (those still in flight, which the header could not count): taken as is, a thousand vaults' details
        sent at the refill's pace were answered 429. UNVERIFIED which count the header gives since the
        token buckets (a recorded response says 14989, the hourly quota's): as before, it is believed."""
        with self._lock:
            key = subscription.lower()
            others = max(0, self._in_flight.get(key, 0) - 1)
            self._buckets[key] = (float(remaining - others), self._clock())

    def done(self, subscription: str) -> None:
        """A request that `acquire` let through has its answer (or none will come)."""
        with self._lock:
            key = subscription.lower()
            self._in_flight[key] = max(0, self._in_flight.get(key, 0) - 1)

    def _refilled(self, key: str) -> tuple[float, float]:
        now = self._clock()
        tokens, at = self._buckets.get(key, (float(self.capacity), now))
        if tokens < self.capacity:
            tokens = min(float(self.capacity), tokens + max(0.0, now - at) * self.refill_per_second)
        self._buckets[key] = (tokens, now)
        return tokens, now
