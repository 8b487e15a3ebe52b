"""What Azure told us about one vault's jobs, and what it implies: pure, no I/O, no lock, no clock.

The readers feed it parsed jobs (`apply_listing`) and sizes (`apply_size`); the time is always an
argument. It keeps the jobs of the lookback and, derived from them, what outlives a single listing:
each finished job counted once (per management type, operation and status), durations observed once,
sizes added once (per vault), the last success and last size of each entity, and each malformed record
counted once. `snapshot()` projects it all
into the immutable values the collector renders.

Rules it holds:
- a job is counted when first seen finished, whatever the number of listings that return it again;
- a job that leaves the lookback is forgotten, and an entity with no job left in it vanishes;
- a job dated more than a day in the future is malformed, never an entity's latest job;
- a size once known is kept when a later listing (which never carries `extendedInfo`) repeats the job;
- a running job that a listing covering its start no longer returns is a candidate for a check by id
  (`unlisted_running`); only the reader's confirmation (404) removes it (`vanished`);
- a database that Azure names two ways (`msdb` for ConfigureBackup, `msdb [sql-vm]` for Backup) is
  one `entity` in the snapshot (`entities.canonical_entities`); what is kept stays keyed as written.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .entities import WORKLOAD_MANAGEMENT_TYPE, canonical_entities, relabel
from .jobs import Job, MalformedJob, VaultRef, is_backup_operation, is_plausible
from .snapshot import (
    DURATION_BUCKETS_SECONDS,
    EntityKey,
    EntitySnapshot,
    HistogramSnapshot,
    VaultSnapshot,
)

# A warm listing starts this long before the last one ended, for jobs that show up late in the list.
WARM_OVERLAP_SECONDS = 600.0
MAX_MALFORMED_REMEMBERED = 10_000
# A record the listing could not parse: its name when it had one, and why.
Malformed = tuple[str | None, MalformedJob]


def _failures_since_success(finished: list[Job]) -> int:
    """Failed jobs after the latest successful one (by start), among the finished jobs of the lookback.

    A cancelled job neither counts nor resets: it says nothing of whether backups work.
    """
    count = 0
    for job in sorted(finished, key=lambda job: (job.start_time, job.job_id), reverse=True):
        if job.succeeded:
            break
        if job.status == "Failed":
            count += 1
    return count


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

    last_success_end: float | None = None
    last_size: tuple[float, int] | None = None  # (start time of the job, size)


def _merge(into: _EntityTotals | None, more: _EntityTotals) -> _EntityTotals:
    """The totals of two names of one entity (see `entities`), as if they had been kept as one."""
    if into is None:
        return more
    successes = [end for end in (into.last_success_end, more.last_success_end) if end is not None]
    sizes = [size for size in (into.last_size, more.last_size) if size is not None]
    return _EntityTotals(
        last_success_end=max(successes) if successes else None,
        last_size=max(sizes) if sizes else None,
    )


class VaultLedger:
    """One vault's jobs and the totals they imply. Not thread-safe: its owner serialises access."""

    def __init__(self, lookback_seconds: float) -> None:
        self.lookback_seconds = lookback_seconds
        self._jobs: dict[str, Job] = {}
        self._counted: set[str] = set()
        self._details_done: set[str] = set()
        self._entities: dict[EntityKey, _EntityTotals] = {}
        self._histograms: dict[tuple[str, str], _Histogram] = {}
        # for the life of the process, whatever leaves the lookback: counters never go down
        self._finished: Counter[tuple[str, str, str]] = Counter()  # (management type, operation, status)
        self._size_bytes_total = 0
        self._malformed: Counter[str] = Counter()
        self._malformed_seen: set[str] = set()
        self._watermark: float | None = None
        # Bumped by every change a snapshot would show: equal generations give equal snapshots, but for the
        # time running jobs have run so far; the collector keeps its rendering meanwhile.
        self.generation = 0

    # --- what to read next -------------------------------------------------------------------------

    def window_start(self, now: float) -> float:
        """Where the next listing starts: the whole lookback when cold; else the last listing's end
        less an overlap, or the start of the oldest job still running, whichever is older."""
        oldest = now - self.lookback_seconds
        if self._watermark is None:
            return oldest
        start = self._watermark - WARM_OVERLAP_SECONDS
        running = [job.start_time for job in self._jobs.values() if not job.finished]
        if running:
            start = min(start, min(running))
        return max(start, oldest)

    def unlisted_running(self, since: float, listed: Collection[str]) -> list[Job]:
        """Running jobs started at or after `since` that a listing from `since` did not return."""
        return [
            job
            for job in self._jobs.values()
            if not job.finished and job.start_time >= since and job.job_id not in listed
        ]

    def detail_candidates(self, budget: int) -> list[Job]:
        """Finished backup jobs whose details (size) are worth a request, most useful first, at most `budget`.

        The latest finished job of each entity first (it gives `last_job_size_bytes`), then newest first.
        Only backups: the exporter shows their sizes, and a restore's transferred data is not one.
        """
        waiting = [
            job
            for job in self._jobs.values()
            if job.finished and job.job_id not in self._details_done and is_backup_operation(job.operation)
        ]
        latest: dict[EntityKey, Job] = {}
        for job in self._jobs.values():
            key = entity_key(job)
            if job.finished and (key not in latest or job.start_time > latest[key].start_time):
                latest[key] = job
        latest_ids = {job.job_id for job in latest.values()}
        waiting.sort(key=lambda job: (job.job_id in latest_ids, job.start_time), reverse=True)
        return waiting[:budget]

    # --- what was read -----------------------------------------------------------------------------

    def apply_listing(
        self,
        listed: Mapping[str, Job],
        malformed: Sequence[Malformed],
        vanished: Iterable[str],
        now: float,
    ) -> list[Malformed]:
        """Fold in a complete listing that ended at `now`; returns the malformed records new to us.

        A job dated more than a day after `now` is malformed (`future_time`): kept, it would stay the
        entity's latest job until that date.
        """
        future = [job for job in listed.values() if not is_plausible(job, now)]
        if future:
            listed = {job_id: job for job_id, job in listed.items() if is_plausible(job, now)}
            malformed = [
                *malformed,
                *((job.job_id, MalformedJob("future_time", job.job_id)) for job in future),
            ]
        if self._watermark is None:
            self._skip_history(listed.values())
        new_malformed = self._count_malformed(malformed)
        changed = bool(new_malformed)
        for job_id in vanished:
            changed |= self._jobs.pop(job_id, None) is not None
        for job in listed.values():
            known = self._jobs.get(job.job_id)
            if known is not None and known.size_bytes is not None and job.size_bytes is None:
                job = replace(job, size_bytes=known.size_bytes)
            if job != known:
                self._jobs[job.job_id] = job
                changed = True
        oldest = now - self.lookback_seconds
        for job_id in [jid for jid, job in self._jobs.items() if job.start_time < oldest]:
            changed = True
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
        if changed:
            self.generation += 1
        return new_malformed

    def _skip_history(self, jobs: Iterable[Job]) -> None:
        """At the first listing, only each entity's latest finished backup, and its latest successful one,
        are worth their details (`last_job_size_bytes`; a failed backup reports no size): the sizes of the
        older ones would only add to a counter's first sample, which `rate()` never sees, at a request
        each (a week of a thousand vaults: tens of thousands)."""
        latest: dict[tuple[EntityKey, bool], Job] = {}
        finished = [job for job in jobs if job.finished and is_backup_operation(job.operation)]
        for job in finished:
            for key in {(entity_key(job), False), (entity_key(job), job.succeeded)}:
                kept = latest.get(key)
                if kept is None or (job.start_time, job.job_id) > (kept.start_time, kept.job_id):
                    latest[key] = job
        keep = {job.job_id for job in latest.values()}
        self._details_done.update(job.job_id for job in finished if job.job_id not in keep)

    def apply_size(self, job_id: str, size_bytes: int | None) -> None:
        """The details of a job were read: its size, or None when they report none (or are gone)."""
        job = self._jobs.get(job_id)
        if job is None:  # it left the lookback meanwhile
            return
        if size_bytes is None:
            self._details_done.add(job_id)
            return
        self._jobs[job_id] = replace(job, size_bytes=size_bytes)
        self._add_size(job, size_bytes)
        self.generation += 1

    def _count_malformed(self, malformed: Sequence[Malformed]) -> list[Malformed]:
        """Count each bad record once, although overlapping windows list it again."""
        new = []
        for name, error in malformed:
            if name is not None and name in self._malformed_seen:
                continue
            if name is not None and len(self._malformed_seen) < MAX_MALFORMED_REMEMBERED:
                self._malformed_seen.add(name)
            self._malformed[error.reason] += 1
            new.append((name, error))
        return new

    def _count_finished(self, job: Job) -> None:
        self._counted.add(job.job_id)
        totals = self._entities.setdefault(entity_key(job), _EntityTotals())
        self._finished[(job.backup_management_type, job.operation, job.status)] += 1
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
        self._size_bytes_total += size
        if totals.last_size is None or job.start_time >= totals.last_size[0]:
            totals.last_size = (job.start_time, size)

    # --- projection --------------------------------------------------------------------------------

    def snapshot(
        self, vault: VaultRef, now: float, up: bool, refresh_duration_seconds: float | None
    ) -> VaultSnapshot:
        """The vault as the collector renders it at `now` (a running job's duration is its age then)."""
        names = canonical_entities(
            (job.workload_type, job.entity)
            for job in self._jobs.values()
            if job.backup_management_type == WORKLOAD_MANAGEMENT_TYPE
        )
        labelled: dict[EntityKey, EntityKey] = {}  # as kept -> as shown
        latest: dict[EntityKey, Job] = {}
        finished: dict[EntityKey, list[Job]] = {}
        job_counts: Counter[tuple[str, str, str]] = Counter()
        for job in self._jobs.values():
            kept = entity_key(job)
            if kept not in labelled:
                labelled[kept] = replace(kept, entity=relabel(names, job.workload_type, job.entity))
            key = labelled[kept]
            if key not in latest or (job.start_time, job.job_id) > (
                latest[key].start_time,
                latest[key].job_id,
            ):
                latest[key] = job
            job_counts[(job.backup_management_type, job.operation, job.status)] += 1
            if job.finished:
                finished.setdefault(key, []).append(job)
        merged: dict[EntityKey, _EntityTotals] = {}
        for kept, totals in self._entities.items():
            shown = labelled.get(kept, kept)
            merged[shown] = _merge(merged.get(shown), totals)
        entities = []
        for key, job in latest.items():
            totals = merged.get(key) or _EntityTotals()
            duration = job.reported_duration if job.finished else max(0.0, now - job.start_time)
            entities.append(
                EntitySnapshot(
                    key=key,
                    last_job=replace(job, entity=key.entity),
                    last_job_duration_seconds=duration,
                    last_success_timestamp=totals.last_success_end,
                    last_size_bytes=totals.last_size[1] if totals.last_size else None,
                    consecutive_failures=_failures_since_success(finished.get(key, [])),
                )
            )
        return VaultSnapshot(
            vault=vault,
            up=up,
            refresh_duration_seconds=refresh_duration_seconds,
            entities=tuple(entities),
            job_counts=dict(job_counts),
            jobs_finished=dict(self._finished),
            size_bytes_total=self._size_bytes_total,
            durations={
                key: HistogramSnapshot(tuple(h.counts), h.total) for key, h in self._histograms.items()
            },
            malformed_jobs=dict(self._malformed),
        )
