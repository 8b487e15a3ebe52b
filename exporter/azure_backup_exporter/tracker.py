"""Per-vault incremental state: what to ask Azure at each refresh, and what it told us so far.

A cold refresh reads the whole lookback (in windows of at most 30 days). A warm refresh reads only
from the last watermark (minus a small overlap, for jobs that show up late) or from the start of the
oldest job still running, whichever is older, to now. A finished job is counted once, and its details
(for its "Backup Size") are fetched once: the latest finished job of each entity first, then newest
first, at most `detail_budget` per refresh and never while the subscription is short of ARM reads;
the rest wait for the next refresh, and a job that leaves the lookback before its turn is never fetched.
A running job that a listing covering its start no longer returns is asked for by id, and forgotten
only if Azure answers 404. A failing refresh changes nothing but `up`, so no series vanishes on a
transient error.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .azure.client import ArmClient, split_windows
from .azure.errors import ArmError, ArmNotFound, ArmServerError, ArmThrottled, ArmUnreachable
from .jobs import Job, MalformedJob, VaultRef, parse_job
from .snapshot import (
    DURATION_BUCKETS_SECONDS,
    EntityKey,
    EntitySnapshot,
    HistogramSnapshot,
    VaultSnapshot,
)

log = logging.getLogger(__name__)

WARM_OVERLAP_SECONDS = 600.0
# Errors after which a listing goes on from its last page at the next refresh (others start it over).
RESUMABLE_ERRORS = (ArmUnreachable, ArmThrottled, ArmServerError)
DEFAULT_DETAIL_BUDGET = 20
READS_RESERVE = 100
MAX_MALFORMED_REMEMBERED = 10_000
# Operations that never report a "Backup Size": their details are not worth a request.
NO_SIZE_OPERATIONS = frozenset(
    op.lower()
    for op in (
        "ConfigureBackup", "DisableBackup", "DeleteBackupData", "Register", "UnRegister", "Undelete",
        "UpdateCustomerManagedKey", "Restore", "CrossRegionRestore", "Invalid",
    )
)  # fmt: skip


def entity_key(job: Job) -> EntityKey:
    return EntityKey(job.backup_management_type, job.entity, job.operation)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS_SECONDS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(DURATION_BUCKETS_SECONDS, seconds)] += 1
        self.total += seconds


@dataclass
class _EntityTotals:
    """What outlives the jobs that made it, as long as the entity has a job in the lookback."""

    finished_by_status: Counter[str] = field(default_factory=Counter)
    size_bytes_total: int = 0
    last_success_end: float | None = None
    last_size: tuple[float, int] | None = None  # (start time of the job, size)


@dataclass
class _Listing:
    """One refresh's reading of the job list, kept across scrapes until every page of it is read.

    A vault whose lookback takes more pages than one scrape's budget allows (a cold start on a large
    vault) is read over several scrapes, each going on from the last page's nextLink, instead of
    starting over (and never finishing) each time.
    """

    now: float  # end of the last window: the watermark once every page is read
    start: float
    windows: list[tuple[float, float]]  # not finished yet, oldest first
    next_url: str | None = None  # where the first window goes on; None: from its start
    jobs: dict[str, Job] = field(default_factory=dict)
    malformed: list[tuple[str | None, MalformedJob]] = field(default_factory=list)


class VaultTracker:
    """Keeps one vault's state up to date. `refresh()` does I/O; `snapshot()` never does."""

    def __init__(
        self,
        vault: VaultRef,
        client: ArmClient,
        lookback_seconds: float,
        detail_budget: int = DEFAULT_DETAIL_BUDGET,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.vault = vault
        self._client = client
        self._lookback = lookback_seconds
        self._detail_budget = detail_budget
        self._clock = clock
        self._state_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._counted: set[str] = set()
        self._details_done: set[str] = set()
        self._entities: dict[EntityKey, _EntityTotals] = {}
        self._histograms: dict[tuple[str, str], _Histogram] = {}
        self._malformed: Counter[str] = Counter()
        self._malformed_seen: set[str] = set()
        self._watermark: float | None = None
        self._listing: _Listing | None = None  # a listing cut short by the budget, to go on with
        self._up = False
        self._refresh_duration: float | None = None
        self.last_refresh_started: float | None = None  # monotonic
        self.last_refresh_succeeded: float | None = None  # monotonic

    # --- refresh -------------------------------------------------------------------------------

    def refresh(self, deadline: float) -> bool:
        """List the jobs that may have changed and fold them in; False if that failed (or is running).

        Job details are left to `fetch_details()`, so that every vault is listed before any
        vault spends the scrape's budget on details.
        """
        if not self._refresh_lock.acquire(blocking=False):
            return False
        try:
            self.last_refresh_started = time.monotonic()
            try:
                ok = self._refresh(deadline)
            except Exception:  # a bug must cost one vault's freshness, never the scrape
                log.exception("vault %s: refresh failed unexpectedly", self.vault)
                ok = False
            with self._state_lock:
                self._up = ok
                self._refresh_duration = time.monotonic() - self.last_refresh_started
            if ok:
                self.last_refresh_succeeded = time.monotonic()
            return ok
        finally:
            self._refresh_lock.release()

    def fetch_details(self, deadline: float) -> None:
        """Fetch the details (sizes) of finished jobs not fetched yet, within the budget and deadline.

        Skipped while the subscription has fewer than `READS_RESERVE` ARM reads left: listing matters more.
        """
        if not self._refresh_lock.acquire(blocking=False):
            return
        started = time.monotonic()
        try:
            remaining = self._client.stats.remaining_reads(self.vault.subscription_id)
            if remaining is not None and remaining < READS_RESERVE:
                log.info("vault %s: job details postponed, %d ARM reads left", self.vault, remaining)
                return
            self._fetch_details(deadline)
        except Exception:
            log.exception("vault %s: fetching job details failed unexpectedly", self.vault)
        finally:
            with self._state_lock:
                self._refresh_duration = (self._refresh_duration or 0.0) + time.monotonic() - started
            self._refresh_lock.release()

    def window_start(self, now: float) -> float:
        """Where the next refresh starts reading: the whole lookback when cold."""
        oldest = now - self._lookback
        if self._watermark is None:
            return oldest
        start = self._watermark - WARM_OVERLAP_SECONDS
        running = [job.start_time for job in self._jobs.values() if not job.finished]
        if running:
            start = min(start, min(running))
        return max(start, oldest)

    def _refresh(self, deadline: float) -> bool:
        listing = self._listing
        if listing is None:
            now = self._clock()
            with self._state_lock:
                start = self.window_start(now)
            listing = _Listing(now, start, split_windows(start, now))
        try:
            self._read(listing, deadline)
        except ArmError as error:
            resumable = isinstance(error, RESUMABLE_ERRORS)
            self._listing = listing if resumable else None
            self._log_failure(error, listing if resumable else None)
            return False
        self._listing = None
        vanished = self._check_unlisted_running(listing.start, listing.jobs, deadline)
        with self._state_lock:
            self._count_malformed(listing.malformed)
            for job_id in vanished:
                self._jobs.pop(job_id, None)
            self._merge(listing.jobs, listing.now)
        return True

    def _read(self, listing: _Listing, deadline: float) -> None:
        """Read the listing's pages, recording after each where it goes on, until none is left."""
        while listing.windows:
            window_start, window_end = listing.windows[0]
            pages = self._client.job_pages(self.vault, window_start, window_end, deadline, listing.next_url)
            for page in pages:
                for item in page.items:
                    try:
                        job = parse_job(item)
                    except MalformedJob as error:
                        name = item.get("name") if isinstance(item, dict) else None
                        listing.malformed.append((name if isinstance(name, str) else None, error))
                        continue
                    listing.jobs[job.job_id] = job
                listing.next_url = page.next_url
            listing.windows.pop(0)
            listing.next_url = None

    def _check_unlisted_running(self, start: float, listed: dict[str, Job], deadline: float) -> set[str]:
        """Ask for each running job the listing should have returned and did not; the ids Azure no longer has.

        Without this, a job deleted while running would stay `InProgress` here until it left the
        lookback, holding every refresh's window open back to its start. Only a 404 removes it:
        any other answer keeps what was known, so a flaky listing costs a request, never a job.
        """
        with self._state_lock:
            missing = [
                job
                for job in self._jobs.values()
                if not job.finished and job.start_time >= start and job.job_id not in listed
            ]
        vanished = set()
        for job in missing:
            try:
                detail = parse_job(self._client.get_job(self.vault, job.job_id, deadline))
                listed[job.job_id] = replace(detail, job_id=job.job_id)
            except ArmNotFound:
                log.info("vault %s: running job %s is gone from Azure; forgotten", self.vault, job.job_id)
                vanished.add(job.job_id)
            except (ArmError, MalformedJob):
                pass
        return vanished

    def _count_malformed(self, malformed: list[tuple[str | None, MalformedJob]]) -> None:
        """Count and log each bad record once, although overlapping windows list it again."""
        for name, error in malformed:
            if name is not None and name in self._malformed_seen:
                continue
            if name is not None and len(self._malformed_seen) < MAX_MALFORMED_REMEMBERED:
                self._malformed_seen.add(name)
            self._malformed[error.reason] += 1
            log.warning(
                "vault %s: skipping malformed job %s (%s)", self.vault, name or "without a name", error
            )

    def _log_failure(self, error: ArmError, resumed: _Listing | None = None) -> None:
        then = (
            f"; the listing goes on from there at the next refresh ({len(resumed.jobs)} jobs read so far)"
            if resumed is not None
            else ""
        )
        message = f"{error.message}{then}"
        log.error("vault %s: refresh failed: %s %s: %s", self.vault, error.status_text, error.code, message)

    def _merge(self, listed: dict[str, Job], now: float) -> None:
        for job in listed.values():
            known = self._jobs.get(job.job_id)
            if known is not None and known.size_bytes is not None and job.size_bytes is None:
                job = _with_size(job, known.size_bytes)
            self._jobs[job.job_id] = job
        oldest = now - self._lookback
        for job_id in [jid for jid, job in self._jobs.items() if job.start_time < oldest]:
            del self._jobs[job_id]
            self._counted.discard(job_id)
            self._details_done.discard(job_id)
        for job in self._jobs.values():
            if job.finished and job.job_id not in self._counted:
                self._count_finished(job)
            if job.size_bytes is not None and job.finished and job.job_id not in self._details_done:
                self._add_size(job, job.size_bytes)
        present = {entity_key(job) for job in self._jobs.values()}
        for key in [key for key in self._entities if key not in present]:
            del self._entities[key]
        self._watermark = now

    def _count_finished(self, job: Job) -> None:
        self._counted.add(job.job_id)
        totals = self._entities.setdefault(entity_key(job), _EntityTotals())
        totals.finished_by_status[job.status] += 1
        ended = job.finished_at
        if job.succeeded and ended is not None:
            if totals.last_success_end is None or ended > totals.last_success_end:
                totals.last_success_end = ended
        duration = job.reported_duration
        if duration is not None:
            key = (job.backup_management_type, job.operation)
            self._histograms.setdefault(key, _Histogram()).observe(duration)

    def _add_size(self, job: Job, size: int) -> None:
        self._details_done.add(job.job_id)
        totals = self._entities.setdefault(entity_key(job), _EntityTotals())
        totals.size_bytes_total += size
        if totals.last_size is None or job.start_time >= totals.last_size[0]:
            totals.last_size = (job.start_time, size)

    def _detail_candidates(self) -> list[Job]:
        waiting = [
            job
            for job in self._jobs.values()
            if job.finished
            and job.job_id not in self._details_done
            and job.operation.lower() not in NO_SIZE_OPERATIONS
        ]
        latest: dict[EntityKey, Job] = {}
        for job in self._jobs.values():
            if job.finished and (
                entity_key(job) not in latest or job.start_time > latest[entity_key(job)].start_time
            ):
                latest[entity_key(job)] = job
        latest_ids = {job.job_id for job in latest.values()}
        # the latest finished job of each entity first (it gives last_job_size_bytes), then newest first
        waiting.sort(key=lambda job: (job.job_id in latest_ids, job.start_time), reverse=True)
        return waiting[: self._detail_budget]

    def _fetch_details(self, deadline: float) -> None:
        with self._state_lock:
            candidates = self._detail_candidates()
        for job in candidates:
            try:
                detail = parse_job(self._client.get_job(self.vault, job.job_id, deadline))
            except ArmNotFound:
                detail = None
            except MalformedJob as error:
                log.warning("vault %s: job %s has malformed details (%s)", self.vault, job.job_id, error)
                detail = None
            except ArmError as error:
                log.warning(
                    "vault %s: job details postponed: %s %s: %s",
                    self.vault,
                    error.status_text,
                    error.code,
                    error.message,
                )
                return
            with self._state_lock:
                if job.job_id not in self._jobs:
                    continue
                if detail is not None and detail.size_bytes is not None:
                    self._jobs[job.job_id] = _with_size(self._jobs[job.job_id], detail.size_bytes)
                    self._add_size(job, detail.size_bytes)
                else:
                    self._details_done.add(job.job_id)

    # --- snapshot ------------------------------------------------------------------------------

    def snapshot(self) -> VaultSnapshot:
        now = self._clock()
        with self._state_lock:
            latest: dict[EntityKey, Job] = {}
            job_counts: Counter[tuple[str, str, str]] = Counter()
            for job in self._jobs.values():
                key = entity_key(job)
                if key not in latest or (job.start_time, job.job_id) > (
                    latest[key].start_time,
                    latest[key].job_id,
                ):
                    latest[key] = job
                job_counts[(job.backup_management_type, job.operation, job.status)] += 1
            entities = []
            for key, job in latest.items():
                totals = self._entities.get(key) or _EntityTotals()
                duration = job.reported_duration if job.finished else max(0.0, now - job.start_time)
                entities.append(
                    EntitySnapshot(
                        key=key,
                        last_job=job,
                        last_job_duration_seconds=duration,
                        last_success_timestamp=totals.last_success_end,
                        last_size_bytes=totals.last_size[1] if totals.last_size else None,
                        finished_by_status=dict(totals.finished_by_status),
                        size_bytes_total=totals.size_bytes_total,
                    )
                )
            return VaultSnapshot(
                vault=self.vault,
                up=self._up,
                refresh_duration_seconds=self._refresh_duration,
                entities=tuple(entities),
                job_counts=dict(job_counts),
                durations={
                    key: HistogramSnapshot(tuple(h.counts), h.total) for key, h in self._histograms.items()
                },
                malformed_jobs=dict(self._malformed),
            )


def _with_size(job: Job, size: int) -> Job:
    return replace(job, size_bytes=size)
