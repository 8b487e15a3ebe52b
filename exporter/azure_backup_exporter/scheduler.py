"""What to refresh at each scrape, in what order, how many at once, and until when.

At each scrape the scheduler brings the vault list up to date (discovery), then refreshes the vaults
that are due within the scrape's time budget: every due vault lists its jobs, concurrently, in turns
(the longest since its last attempt first); each vault that listed fine then fetches job details with
what is left of the budget. It returns every vault's snapshot, refreshed or not.

Scrapes are served one at a time, so two Prometheus replicas scraping together cost one refresh when
`min_refresh_interval` is longer than the time between their scrapes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Any, Protocol

from .jobs import VaultRef
from .snapshot import VaultSnapshot

log = logging.getLogger(__name__)

# How long past the deadline a scrape waits for refreshes to return (they stop at the deadline themselves).
WAIT_SLACK_SECONDS = 0.05
# ARM reads a subscription keeps in reserve, for other tools and for what a scrape did not plan (a listing
# longer than one page, a vanished job asked for by id): the scheduler never plans below it.
READS_RESERVE = 50
# Reads that the listings of one scrape leave to the job-detail fetches (sizes), above the reserve.
DETAIL_SHARE = 100
# Job details may also use the reads the quota gives back while they run, for this share of the scrape's
# time left: a cold start's sizes fill in a few scrapes (at 25 reads a second, half of 30 s gives 375
# more), while listings stay within the reads at hand, so that a warm scrape never waits for the refill.
DETAIL_WAIT_SHARE = 0.5


class DaemonPool:
    """A fixed set of daemon worker threads running submitted calls, first in first out.

    Not `ThreadPoolExecutor`: the interpreter joins its threads at exit, so a request hanging on Azure
    would hold up SIGTERM for as long as it hangs. These never keep the process alive.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._workers = workers
        for index in range(workers):
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True).start()

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, function, args))
        return future

    def shutdown(self) -> None:
        """Cancel what has not started; workers end after their current call (never waited for)."""
        pending = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                pending.append(item[0])
        for future in pending:
            future.cancel()
        for _ in range(self._workers):
            self._queue.put(None)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, function, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function(*args))
            except BaseException as error:  # handed to whoever waits on the future
                future.set_exception(error)


class Refreshable(Protocol):
    """One vault as the scheduler drives it (`tracker.VaultTracker`)."""

    vault: VaultRef
    last_refresh_started: float | None

    def refresh(self, deadline: float) -> bool: ...

    def fetch_details(self, deadline: float, allowance: int) -> int: ...

    def snapshot(self) -> VaultSnapshot: ...


class VaultSource(Protocol):
    def vaults(self, deadline: float) -> list[VaultRef]: ...


class Scheduler:
    """Refreshes the due vaults within a scrape's budget; `scrape()` returns the snapshots of all vaults."""

    def __init__(
        self,
        source: VaultSource,
        make_tracker: Callable[[VaultRef], Refreshable],
        reads_available: Callable[[str], float],
        max_concurrency: int = 8,
        min_refresh_interval: float = 30.0,
        default_budget: float = 10.0,
        detail_budget: int = 20,
        clock: Callable[[], float] = time.monotonic,
        refill_per_second: float = 0.0,
    ) -> None:
        """`reads_available(subscription_id)`: the ARM reads the subscription has now (`azure.quota`);
        `refill_per_second`: how fast they come back, which job details may wait for (`DETAIL_WAIT_SHARE`).

        `clock`: the time a vault's `last_refresh_started` (time.monotonic) is compared with to tell
        whether it is due. A benchmark running scrapes a simulated minute apart back to back passes one
        running that minute ahead.
        """
        self._source = source
        self._clock = clock
        self._make_tracker = make_tracker
        self._reads_available = reads_available
        self._refill_per_second = refill_per_second
        self._plan_lock = threading.Lock()
        self._outstanding: Counter[str] = Counter()  # reads planned and not yet made, per subscription
        self._min_refresh_interval = min_refresh_interval
        self._default_budget = default_budget
        self._detail_budget = detail_budget  # job details one vault may fetch per refresh
        self._pool = DaemonPool(max_concurrency, "vault-refresh")
        self._scrape_lock = threading.Lock()
        self._trackers: dict[tuple[str, str, str], Refreshable] = {}

    def scrape(self, budget: float | None) -> list[VaultSnapshot]:
        """Refresh what is due within `budget` seconds (None: the default), then snapshot every vault.

        A scrape that waits its whole budget for another one to finish refreshes nothing and serves
        what the vaults hold.
        """
        budget = budget or self._default_budget
        deadline = time.monotonic() + budget
        acquired = self._scrape_lock.acquire(timeout=budget)
        try:
            if acquired:
                self._refresh(deadline)
            return [tracker.snapshot() for tracker in list(self._trackers.values())]
        finally:
            if acquired:
                self._scrape_lock.release()

    def close(self) -> None:
        self._pool.shutdown()

    def _refresh(self, deadline: float) -> None:
        """List every due vault that the subscription's ARM reads allow; each that listed fine then fetches
        details with the reads left above the reserve.

        A vault's detail fetch is queued when its listing ends, behind the listings already queued: every
        due vault starts listing before any vault spends the budget on details, and a vault that hangs
        until the deadline holds up no other vault's details. Vaults the reads do not allow wait for the
        next scrape, where they are the oldest.
        """
        self._update_vaults(deadline)
        self._outstanding.clear()
        details: list[Future[Any]] = []

        def then_fetch_details(tracker: Refreshable) -> Callable[[Future[Any]], None]:
            def fetch(listing: Future[Any]) -> None:
                self._release(tracker.vault.subscription_id, 1)  # the listing's read is made (or not at all)
                if not listing.cancelled() and listing.exception() is None and listing.result():
                    details.append(self._pool.submit(self._fetch_details, tracker, deadline))

            return fetch

        # every listing is planned before any starts, so that no read spent meanwhile counts twice
        planned, deferred = [], Counter[str]()
        for tracker in self._due(self._clock()):
            subscription = tracker.vault.subscription_id
            if self._plan(subscription, 1, READS_RESERVE + DETAIL_SHARE):
                planned.append(tracker)
            else:
                deferred[subscription] += 1
        listings = []
        for tracker in planned:
            listing = self._pool.submit(self._refresh_one, tracker, deadline)
            listing.add_done_callback(then_fetch_details(tracker))
            listings.append(listing)
        for subscription, count in deferred.items():
            log.info(
                "subscription %s: %d vaults wait for the next scrape, to keep ARM reads in reserve",
                subscription,
                count,
            )
        for round_ in (listings, details):
            if round_:
                wait(list(round_), timeout=max(0.0, deadline - time.monotonic()) + WAIT_SLACK_SECONDS)

    def _plan(self, subscription: str, reads: int, floor: int) -> bool:
        """Plan `reads` of the subscription's if that leaves at least `floor` of them."""
        with self._plan_lock:
            left = self._reads_available(subscription) - self._outstanding[subscription]
            if left - reads < floor:
                return False
            self._outstanding[subscription] += reads
            return True

    def _allowance(self, subscription: str, wanted: int, deadline: float) -> int:
        """How many of `wanted` detail reads the subscription can spare above the reserve (planned): those
        it has, and those it gets back within a share of the time left (the client waits for them)."""
        coming = self._refill_per_second * max(0.0, deadline - time.monotonic()) * DETAIL_WAIT_SHARE
        with self._plan_lock:
            left = (
                self._reads_available(subscription) + coming - self._outstanding[subscription] - READS_RESERVE
            )
            granted = max(0, min(wanted, int(left)))
            self._outstanding[subscription] += granted
            return granted

    def _release(self, subscription: str, reads: int) -> None:
        """Planned reads now made (the quota counts them) or given up."""
        with self._plan_lock:
            self._outstanding[subscription] -= reads

    def _update_vaults(self, deadline: float) -> None:
        try:
            vaults = self._source.vaults(deadline)
        except Exception:
            log.exception("listing vaults failed; keeping the previous list")
            return
        wanted = {vault.key: vault for vault in vaults}
        # a new dict, swapped in whole: a scrape that timed out waiting reads the old one meanwhile
        self._trackers = {
            key: self._trackers.get(key) or self._make_tracker(vault) for key, vault in wanted.items()
        }

    def _due(self, now: float) -> list[Refreshable]:
        """Vaults not refreshed for `min_refresh_interval`, the longest since their last attempt first.

        In turns: the vaults the budget left out last time go first next time, and a vault that fails
        or hangs at every attempt goes after the others instead of taking their place at every scrape.
        """
        due = [
            tracker
            for tracker in self._trackers.values()
            if tracker.last_refresh_started is None
            or now - tracker.last_refresh_started >= self._min_refresh_interval
        ]
        due.sort(key=lambda tracker: tracker.last_refresh_started or float("-inf"))
        return due

    def _fetch_details(self, tracker: Refreshable, deadline: float) -> None:
        if time.monotonic() >= deadline:
            return
        # asked when the fetch starts: other vaults' fetches may have used some reads meanwhile
        subscription = tracker.vault.subscription_id
        allowance = self._allowance(subscription, self._detail_budget, deadline)
        try:
            tracker.fetch_details(deadline, allowance)
        finally:
            self._release(subscription, allowance)

    @staticmethod
    def _refresh_one(tracker: Refreshable, deadline: float) -> bool:
        if time.monotonic() >= deadline:
            log.warning("vault %s: not refreshed, the scrape's time budget ran out first", tracker.vault)
            return False
        return tracker.refresh(deadline)
