"""One vault as the scheduler sees it: its readers, its ledger, and whether its last refresh worked.

The scheduler calls `refresh()` (list the jobs) and then `fetch_details()` (sizes) on the vaults that are
due, and `snapshot()` on every vault at each scrape. A failing refresh changes nothing but `up`, so no
series vanishes on a transient error. A vault is refreshed by one thread at a time: a scrape that finds
its refresh still running skips it and serves its last state, as down once that refresh overran its
deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from .azure.client import ArmClient
from .jobs import VaultRef
from .ledger import VaultLedger
from .protection import ProtectionLedger
from .readers import (
    DetailFetcher,
    GuardedLedger,
    GuardedProtection,
    InventoryReader,
    JobListReader,
)
from .snapshot import VaultSnapshot

log = logging.getLogger(__name__)


class VaultTracker:
    """Runs one vault's readers into its ledger. `refresh()` does I/O; `snapshot()` never does."""

    def __init__(
        self,
        vault: VaultRef,
        client: ArmClient,
        lookback_seconds: float,
        clock: Callable[[], float] = time.time,
        inventory: InventoryReader | None = None,
    ) -> None:
        """`inventory`: the reader of the vault's protected items, policies and settings (None: not read)."""
        self.vault = vault
        self._clock = clock
        self._ledger = GuardedLedger(VaultLedger(lookback_seconds))
        self._jobs = JobListReader(vault, client)
        self._details = DetailFetcher(vault, client)
        self._inventory = inventory
        self._protection = GuardedProtection(ProtectionLedger())
        self._refresh_lock = threading.Lock()
        self._up = False
        self._refresh_duration: float | None = None
        self.last_refresh_started: float | None = None  # monotonic
        self._refresh_deadline = float("inf")  # of the refresh under way, if any

    def refresh(self, deadline: float) -> bool:
        """List the jobs that may have changed and fold them in; False if that failed (or is running).

        Job details are left to `fetch_details()`, so that every vault is listed before any vault
        spends the scrape's budget on details.
        """
        if not self._refresh_lock.acquire(blocking=False):
            if time.monotonic() > self._refresh_deadline:
                # an earlier refresh overran its deadline: what the vault shows is no longer current
                self._up = False
            return False
        try:
            self.last_refresh_started = time.monotonic()
            self._refresh_deadline = deadline
            try:
                ok = self._jobs.read(self._ledger, self._clock(), deadline)
            except Exception:  # a bug must cost one vault's freshness, never the scrape
                log.exception("vault %s: refresh failed unexpectedly", self.vault)
                ok = False
            if self._inventory is not None:
                try:
                    self._inventory.read(self._protection, deadline)  # asks nothing unless a reading is due
                except Exception:
                    log.exception("vault %s: inventory read failed unexpectedly", self.vault)
                    self._inventory.up = False
            self._up = ok
            self._refresh_duration = time.monotonic() - self.last_refresh_started
            return ok
        finally:
            self._refresh_lock.release()

    def fetch_details(self, deadline: float, allowance: int) -> int:
        """Fetch job details within the fetcher's budget and the deadline; its time counts as refresh time."""
        if not self._refresh_lock.acquire(blocking=False):
            return 0
        started = time.monotonic()
        try:
            return self._details.fetch(self._ledger, deadline, allowance)
        except Exception:
            log.exception("vault %s: fetching job details failed unexpectedly", self.vault)
            return allowance
        finally:
            self._refresh_duration = (self._refresh_duration or 0.0) + time.monotonic() - started
            self._refresh_lock.release()

    def snapshot(self) -> VaultSnapshot:
        now = self._clock()
        with self._ledger.hold() as ledger:
            snapshot = ledger.snapshot(self.vault, now, self._up, self._refresh_duration)
        if self._inventory is None or self._inventory.up is None:
            return snapshot
        job_entities = {entity.key.entity for entity in snapshot.entities}
        with self._protection.hold() as protection:
            inventory = protection.snapshot(self._inventory.up, job_entities, backup_successes(snapshot))
        return replace(snapshot, inventory=inventory)


def backup_successes(snapshot: VaultSnapshot) -> dict[tuple[str, str], float]:
    """(backup management type, entity) -> end of its newest successful backup job, log backups aside."""
    newest: dict[tuple[str, str], float] = {}
    for entity in snapshot.entities:
        operation = entity.key.operation.lower()
        if entity.last_success_timestamp is None or not operation.startswith("backup") or "log" in operation:
            continue
        key = (entity.key.backup_management_type, entity.key.entity)
        newest[key] = max(newest.get(key, 0.0), entity.last_success_timestamp)
    return newest
