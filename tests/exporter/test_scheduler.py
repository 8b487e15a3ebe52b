"""The scheduler in-process, driving stand-in vaults through its `Refreshable` interface.

The stand-ins take the place of `tracker.VaultTracker` behind the scheduler's own protocol (what it is
given, not what it is); the real trackers are exercised over HTTP in test_integration.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from azure_backup_exporter.jobs import VaultRef
from azure_backup_exporter.scheduler import Scheduler
from azure_backup_exporter.snapshot import VaultSnapshot


class StandInVault:
    """Refreshes in `seconds`, succeeding or not; records what it was asked.

    A refresh cut short by the deadline goes on where it stopped at the next one, as a resumed listing does.
    """

    def __init__(
        self,
        vault: VaultRef,
        log: list[str],
        seconds: float = 0.0,
        ok: bool = True,
        reads: dict[str, float] | None = None,
    ) -> None:
        """`reads`: the subscription's ARM reads, spent by each listing and detail fetch."""
        self.vault = vault
        self.reads = reads if reads is not None else {}
        self.seconds = seconds
        self.ok = ok
        self.log = log
        self.last_refresh_started: float | None = None
        self.last_refresh_succeeded: float | None = None
        self.details_asked_with: list[int | None] = []
        self.up = False
        self._work_left = seconds

    def refresh(self, deadline: float) -> bool:
        self.last_refresh_started = time.monotonic()
        self.log.append(self.vault.name)
        self.reads[self.vault.subscription_id] = self.reads.get(self.vault.subscription_id, 4242) - 1
        available = max(0.0, deadline - time.monotonic())
        time.sleep(min(self._work_left, available))
        finished = self._work_left <= available
        self._work_left = self.seconds if finished else self._work_left - available
        self.up = self.ok and finished
        if self.up:
            self.last_refresh_succeeded = time.monotonic()
        return self.up

    def fetch_details(self, deadline: float, allowance: int) -> int:
        if time.monotonic() < deadline:  # a fetch asked after the deadline could fetch nothing
            self.details_asked_with.append(allowance)
            self.reads[self.vault.subscription_id] = (
                self.reads.get(self.vault.subscription_id, 4242) - allowance
            )
        return allowance  # as if each allowed read were a job's details

    def snapshot(self) -> VaultSnapshot:
        return VaultSnapshot(self.vault, self.up, None)


class Vaults:
    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.failing = False

    def vaults(self, deadline: float) -> list[VaultRef]:
        if self.failing:
            raise RuntimeError("listing failed")
        return [VaultRef("sub", "rg", name) for name in self.names]


@pytest.fixture
def scheduler_for() -> Iterator:
    made: list[Scheduler] = []

    def make(
        source: Vaults,
        stand_ins: dict[str, StandInVault],
        reads: dict[str, float] | None = None,
        **settings: float,
    ) -> Scheduler:
        reads = reads or {}
        scheduler = Scheduler(
            source,
            lambda vault: stand_ins[vault.name],
            reads_available=lambda subscription: reads.get(subscription, 4242),
            **{"min_refresh_interval": 0.0, **settings},  # type: ignore[arg-type]
        )
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.close()


def test_every_vault_is_snapshotted_and_the_listed_ones_fetch_details_with_the_reads_left(
    scheduler_for,
) -> None:
    log: list[str] = []
    stand_ins = {
        "ok": StandInVault(VaultRef("sub", "rg", "ok"), log),
        "bad": StandInVault(VaultRef("sub", "rg", "bad"), log, ok=False),
    }
    snapshots = scheduler_for(Vaults(["ok", "bad"]), stand_ins).scrape(5.0)
    assert {(s.vault.name, s.up) for s in snapshots} == {("ok", True), ("bad", False)}
    assert stand_ins["ok"].details_asked_with == [20]
    assert stand_ins["bad"].details_asked_with == []


def test_vaults_left_out_by_the_budget_go_first_at_the_next_scrape(scheduler_for) -> None:
    log: list[str] = []
    names = [f"rsv-{i:02d}" for i in range(12)]
    stand_ins = {name: StandInVault(VaultRef("sub", "rg", name), log, seconds=0.1) for name in names}
    scheduler = scheduler_for(Vaults(names), stand_ins, max_concurrency=1)
    for _ in range(12):
        scheduler.scrape(0.35)  # three or four vaults a scrape, one at a time
        if all(v.last_refresh_succeeded for v in stand_ins.values()):
            break
    # in the order they were listed, the first vaults would take every scrape's budget for ever
    assert all(v.last_refresh_succeeded for v in stand_ins.values()), "some vault was never refreshed"


def test_min_refresh_interval_serves_the_last_refresh(scheduler_for) -> None:
    log: list[str] = []
    stand_ins = {"a": StandInVault(VaultRef("sub", "rg", "a"), log)}
    scheduler = scheduler_for(Vaults(["a"]), stand_ins, min_refresh_interval=3600.0)
    for _ in range(3):
        assert [s.up for s in scheduler.scrape(5.0)] == [True]
    assert log == ["a"]


def test_a_clock_running_ahead_makes_the_vaults_due_sooner(scheduler_for) -> None:
    """A benchmark running scrapes an hour apart back to back moves the scheduler's clock instead."""
    log: list[str] = []
    stand_ins = {"a": StandInVault(VaultRef("sub", "rg", "a"), log)}
    ahead = [0.0]
    scheduler = scheduler_for(
        Vaults(["a"]), stand_ins, min_refresh_interval=3600.0, clock=lambda: time.monotonic() + ahead[0]
    )
    scheduler.scrape(5.0)
    scheduler.scrape(5.0)
    assert log == ["a"]
    ahead[0] = 3600.0
    scheduler.scrape(5.0)
    assert log == ["a", "a"]


def test_concurrent_scrapes_share_one_refresh(scheduler_for) -> None:
    log: list[str] = []
    stand_ins = {n: StandInVault(VaultRef("sub", "rg", n), log, seconds=0.3) for n in ("a", "b", "c")}
    scheduler = scheduler_for(Vaults(["a", "b", "c"]), stand_ins, min_refresh_interval=3600.0)
    results: list[list[VaultSnapshot]] = []
    threads = [threading.Thread(target=lambda: results.append(scheduler.scrape(5.0))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(log) == ["a", "b", "c"]
    assert [sorted(s.up for s in snaps) for snaps in results] == [[True] * 3, [True] * 3]


def test_vaults_are_refreshed_concurrently_up_to_the_limit(scheduler_for) -> None:
    log: list[str] = []
    running, peak = 0, 0
    lock = threading.Lock()

    class Counting(StandInVault):
        def refresh(self, deadline: float) -> bool:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            try:
                return super().refresh(deadline)
            finally:
                with lock:
                    running -= 1

    names = [f"v{i}" for i in range(8)]
    stand_ins = {n: Counting(VaultRef("sub", "rg", n), log, seconds=0.2) for n in names}
    scheduler_for(Vaults(names), stand_ins, max_concurrency=3).scrape(10.0)
    assert peak == 3 and len(log) == 8


def test_a_failing_vault_list_keeps_the_previous_one(scheduler_for) -> None:
    log: list[str] = []
    source = Vaults(["a"])
    stand_ins = {"a": StandInVault(VaultRef("sub", "rg", "a"), log)}
    scheduler = scheduler_for(source, stand_ins)
    scheduler.scrape(5.0)
    source.failing = True
    assert [s.vault.name for s in scheduler.scrape(5.0)] == ["a"]
    source.failing, source.names = False, []
    assert scheduler.scrape(5.0) == []  # a vault no longer listed is dropped


def test_vaults_that_hang_until_the_deadline_do_not_starve_a_healthy_one(scheduler_for) -> None:
    log: list[str] = []
    stand_ins = {
        "hang-1": StandInVault(VaultRef("sub", "rg", "hang-1"), log, seconds=3600.0),
        "hang-2": StandInVault(VaultRef("sub", "rg", "hang-2"), log, seconds=3600.0),
        "healthy": StandInVault(VaultRef("sub", "rg", "healthy"), log, seconds=0.01),
    }
    scheduler = scheduler_for(Vaults(list(stand_ins)), stand_ins, max_concurrency=2)
    healthy_up = 0
    for _ in range(4):
        snapshots = {s.vault.name: s.up for s in scheduler.scrape(0.3)}
        assert not snapshots["hang-1"] and not snapshots["hang-2"]
        healthy_up += snapshots["healthy"]
    assert healthy_up >= 2  # the hanging vaults take their turns, not every turn


def test_a_vault_that_hangs_holds_up_no_other_vaults_details(scheduler_for) -> None:
    log: list[str] = []
    stand_ins = {
        "hang": StandInVault(VaultRef("sub", "rg", "hang"), log, seconds=3600.0),
        "healthy": StandInVault(VaultRef("sub", "rg", "healthy"), log, seconds=0.01),
    }
    scheduler_for(Vaults(["hang", "healthy"]), stand_ins, max_concurrency=2).scrape(0.5)
    assert stand_ins["healthy"].details_asked_with == [20]  # in the scrape where it listed


def test_vaults_beyond_the_subscriptions_reads_wait_and_details_keep_their_share(scheduler_for) -> None:
    """With 200 reads left, 50 in reserve and 100 for details, 50 vaults are listed this scrape."""
    log: list[str] = []
    names = [f"v{i:03d}" for i in range(80)]
    reads = {"sub": 200.0}
    stand_ins = {name: StandInVault(VaultRef("sub", "rg", name), log, reads=reads) for name in names}
    scheduler = scheduler_for(Vaults(names), stand_ins, reads=reads, max_concurrency=4)
    scheduler.scrape(5.0)
    assert len(log) == 50
    details = [a for v in stand_ins.values() for a in v.details_asked_with]
    assert sum(details) == 200 - 50 - 50  # what the listings left, above the reserve
    assert reads["sub"] == 50  # the reserve, untouched
    reads["sub"] = 200.0  # a minute later, the bucket is full again
    scheduler.scrape(5.0)  # the 30 left out go first
    assert set(log[50:80]) == set(names) - set(log[:50])


def test_details_may_wait_for_the_reads_coming_back_within_half_the_time_left(scheduler_for) -> None:
    """A cold start's sizes: listings keep to the reads at hand, details also count on the refill."""
    log: list[str] = []
    names = [f"v{i:03d}" for i in range(80)]
    reads = {"sub": 200.0}
    stand_ins = {name: StandInVault(VaultRef("sub", "rg", name), log, reads=reads) for name in names}
    scheduler = scheduler_for(
        Vaults(names), stand_ins, reads=reads, max_concurrency=4, refill_per_second=10.0, detail_budget=1000
    )
    scheduler.scrape(4.0)
    assert len(log) == 50  # the listings: as without a refill
    details = sum(a for v in stand_ins.values() for a in v.details_asked_with)
    # 100 left above the reserve (as without a refill), and 10 a second for about half of the 4 s budget
    assert 100 + 10 < details <= 100 + 20
