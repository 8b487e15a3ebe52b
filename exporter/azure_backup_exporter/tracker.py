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
from .snapshot import EntitySnapshot, VaultSnapshot

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
        self._last_snapshot: VaultSnapshot | None = None

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
        """The vault now; the last one again, with the current `up`s, when nothing it shows has changed."""
        inventory_up = None if self._inventory is None else self._inventory.up
        version = self._version(inventory_up)
        last = self._last_snapshot
        if last is not None and last.version == version:
            inventory = last.inventory
            return replace(
                last,
                up=self._up,
                refresh_duration_seconds=self._refresh_duration,
                entities=running_for(last.entities, self._clock()),
                inventory=None
                if inventory is None or inventory_up is None
                else replace(inventory, up=inventory_up),
            )
        # read after the version: what changes meanwhile is shown now and renders again at the next scrape
        with self._ledger.hold() as ledger:
            snapshot = ledger.snapshot(self.vault, self._clock(), self._up, self._refresh_duration)
        if inventory_up is not None:
            job_entities = {entity.key.entity for entity in snapshot.entities}
            with self._protection.hold() as protection:
                inventory = protection.snapshot(inventory_up, job_entities, backup_successes(snapshot))
            snapshot = replace(snapshot, inventory=inventory)
        self._last_snapshot = replace(snapshot, version=version)
        return self._last_snapshot

    def _version(self, inventory_up: bool | None) -> tuple[int, int, bool]:
        """What the snapshot's content depends on, but for the time running jobs have run so far."""
        with self._ledger.hold() as ledger:
            jobs = ledger.generation
        with self._protection.hold() as protection:
            items = protection.generation
        return (jobs, items, inventory_up is None)


def running_for(entities: tuple[EntitySnapshot, ...], now: float) -> tuple[EntitySnapshot, ...]:
    """The entities, each running last job's duration being its time so far at `now` (as the ledger's)."""
    if all(entity.last_job.finished for entity in entities):
        return entities
    return tuple(
        entity
        if entity.last_job.finished
        else replace(entity, last_job_duration_seconds=max(0.0, now - entity.last_job.start_time))
        for entity in entities
    )


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
