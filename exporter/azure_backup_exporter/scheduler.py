"""What to refresh at each scrape, in what order, how many at once, and until when.

At each scrape the scheduler brings the vault list up to date (discovery), then refreshes the vaults
that are due within the scrape's time budget: first every due vault lists its jobs, concurrently,
the vaults that have waited longest for a successful refresh first; then the vaults that listed fine
fetch job details with what is left of the budget. It returns every vault's snapshot, refreshed or not.

Scrapes are served one at a time, so two Prometheus replicas scraping together cost one refresh when
`min_refresh_interval` is longer than the time between their scrapes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Protocol

from .jobs import VaultRef
from .snapshot import VaultSnapshot

log = logging.getLogger(__name__)

# How long past the deadline a scrape waits for refreshes to return (they stop at the deadline themselves).
WAIT_SLACK_SECONDS = 0.05


class Refreshable(Protocol):
    """One vault as the scheduler drives it (`tracker.VaultTracker`)."""

    vault: VaultRef
    last_refresh_started: float | None
    last_refresh_succeeded: float | None

    def refresh(self, deadline: float) -> bool: ...

    def fetch_details(self, deadline: float, remaining_reads: int | None) -> None: ...

    def snapshot(self) -> VaultSnapshot: ...


class VaultSource(Protocol):
    def vaults(self, deadline: float) -> list[VaultRef]: ...


class Scheduler:
    """Refreshes the due vaults within a scrape's budget; `scrape()` returns the snapshots of all vaults."""

    def __init__(
        self,
        source: VaultSource,
        make_tracker: Callable[[VaultRef], Refreshable],
        remaining_reads: Callable[[str], int | None],
        max_concurrency: int = 8,
        min_refresh_interval: float = 30.0,
        default_budget: float = 10.0,
    ) -> None:
        """`remaining_reads(subscription_id)`: the ARM reads Azure last said the subscription has left."""
        self._source = source
        self._make_tracker = make_tracker
        self._remaining_reads = remaining_reads
        self._min_refresh_interval = min_refresh_interval
        self._default_budget = default_budget
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="vault-refresh")
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
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _refresh(self, deadline: float) -> None:
        self._update_vaults(deadline)
        due = self._due(time.monotonic())
        listings = {self._pool.submit(self._refresh_one, tracker, deadline): tracker for tracker in due}
        if not listings:
            return
        done, _ = wait(listings, timeout=max(0.0, deadline - time.monotonic()) + WAIT_SLACK_SECONDS)
        refreshed = [listings[future] for future in done if future.result()]
        details = [self._pool.submit(self._fetch_details, tracker, deadline) for tracker in refreshed]
        if details:
            wait(details, timeout=max(0.0, deadline - time.monotonic()) + WAIT_SLACK_SECONDS)

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
        """Vaults not refreshed for `min_refresh_interval`, the longest without a success first, so that
        the vaults the budget left out (or cut short) last time are not left out again."""
        due = [
            tracker
            for tracker in self._trackers.values()
            if tracker.last_refresh_started is None
            or now - tracker.last_refresh_started >= self._min_refresh_interval
        ]
        due.sort(key=lambda tracker: tracker.last_refresh_succeeded or float("-inf"))
        return due

    def _fetch_details(self, tracker: Refreshable, deadline: float) -> None:
        # the reads left are asked when the fetch starts: other vaults' fetches may have used some
        tracker.fetch_details(deadline, self._remaining_reads(tracker.vault.subscription_id))

    @staticmethod
    def _refresh_one(tracker: Refreshable, deadline: float) -> bool:
        if time.monotonic() >= deadline:
            log.warning("vault %s: not refreshed, the scrape's time budget ran out first", tracker.vault)
            return False
        return tracker.refresh(deadline)
