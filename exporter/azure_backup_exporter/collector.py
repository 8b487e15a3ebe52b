"""The metric contract, in one place, and the Prometheus collector that serves it.

`METRICS` lists every family the exporter emits (dashboards, alerts and the README table are checked
against it). `render()` turns tracker snapshots into metric families and does no I/O;
`BackupCollector` brings the vaults up to date at each scrape (concurrently, within the scrape's time
budget) and then renders them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from . import __version__
from .jobs import FINISHED_STATUSES, VaultRef, utf8_text
from .snapshot import DURATION_BUCKETS_SECONDS, ApiSnapshot, VaultSnapshot

log = logging.getLogger(__name__)

VAULT_LABELS = ("subscription_id", "resource_group", "vault")
ENTITY_LABELS = VAULT_LABELS + ("backup_management_type", "entity", "operation")
CACHE_NOTE = " Served from the last refresh when scraped sooner than --min-refresh-interval after it."


@dataclass(frozen=True)
class MetricSpec:
    """One family: `name` as exposed (counters with `_total`, histograms by base name)."""

    name: str
    kind: str
    help: str
    labels: tuple[str, ...]


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("azure_backup_last_job_status", "gauge",
               "1 for the status of the most recent job (latest start) of each entity and operation "
               "in the lookback." + CACHE_NOTE, ENTITY_LABELS + ("status",)),
    MetricSpec("azure_backup_last_job_start_timestamp_seconds", "gauge",
               "Start time of the most recent job of each entity and operation." + CACHE_NOTE,
               ENTITY_LABELS),
    MetricSpec("azure_backup_last_job_end_timestamp_seconds", "gauge",
               "End time of the most recent job of each entity and operation; absent while it runs."
               + CACHE_NOTE, ENTITY_LABELS),
    MetricSpec("azure_backup_last_job_duration_seconds", "gauge",
               "Duration of the most recent job as Azure reports it; time elapsed so far while it runs."
               + CACHE_NOTE, ENTITY_LABELS),
    MetricSpec("azure_backup_last_success_timestamp_seconds", "gauge",
               "End time of the most recent Completed or CompletedWithWarnings job." + CACHE_NOTE,
               ENTITY_LABELS),
    MetricSpec("azure_backup_last_job_size_bytes", "gauge",
               'The "Backup Size" of the most recent finished job that reported one.' + CACHE_NOTE,
               ENTITY_LABELS),
    MetricSpec("azure_backup_last_job_error_info", "gauge",
               "1 while the most recent job carries error details, with its error code." + CACHE_NOTE,
               ENTITY_LABELS + ("error_code",)),
    MetricSpec("azure_backup_jobs", "gauge",
               "Jobs started within the lookback, by status." + CACHE_NOTE,
               VAULT_LABELS + ("backup_management_type", "operation", "status")),
    MetricSpec("azure_backup_jobs_finished_total", "counter",
               "Jobs seen finished, each counted once (jobs already finished in the lookback at "
               "start-up count at start-up)." + CACHE_NOTE, ENTITY_LABELS + ("status",)),
    MetricSpec("azure_backup_job_duration_seconds", "histogram",
               "Durations of finished jobs, each observed once." + CACHE_NOTE,
               VAULT_LABELS + ("backup_management_type", "operation")),
    MetricSpec("azure_backup_job_size_bytes_total", "counter",
               'Sum of the "Backup Size" of finished jobs, each counted once.' + CACHE_NOTE,
               ENTITY_LABELS),
    MetricSpec("azure_backup_jobs_malformed_total", "counter",
               "Job records skipped because they could not be parsed (the log says why)." + CACHE_NOTE,
               VAULT_LABELS),
    MetricSpec("azure_backup_vault_up", "gauge",
               "1 if the last refresh of the vault succeeded, else 0." + CACHE_NOTE, VAULT_LABELS),
    MetricSpec("azure_backup_vault_refresh_duration_seconds", "gauge",
               "How long the last refresh of the vault took." + CACHE_NOTE, VAULT_LABELS),
    MetricSpec("azure_backup_api_requests_total", "counter",
               "Requests to Azure by kind of request and HTTP status (retries included).",
               ("endpoint", "code")),
    MetricSpec("azure_backup_api_ratelimit_remaining_reads", "gauge",
               "Last x-ms-ratelimit-remaining-subscription-reads seen from Azure Resource Manager.",
               ("subscription_id",)),
    MetricSpec("azure_backup_exporter_build_info", "gauge",
               "Version of the exporter; always 1.", ("version",)),
)  # fmt: skip

_SPECS = {spec.name: spec for spec in METRICS}


def _family(name: str) -> Metric:
    spec = _SPECS[name]
    if spec.kind == "counter":
        return CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=spec.labels)
    if spec.kind == "histogram":
        return HistogramMetricFamily(name, spec.help, labels=spec.labels)
    return GaugeMetricFamily(name, spec.help, labels=spec.labels)


def _bucket_bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def render(vaults: Sequence[VaultSnapshot], api: ApiSnapshot, version: str = __version__) -> list[Metric]:
    """Metric families for the given snapshots, in the order of `METRICS`; no I/O, no clock."""
    families = {spec.name: _family(spec.name) for spec in METRICS}

    def add(name: str, labels: Sequence[str], value: float, **kwargs: object) -> None:
        # the last guard: a label value that cannot be encoded would fail the whole exposition (a 500)
        families[name].add_metric([utf8_text(v) for v in labels], value, **kwargs)  # type: ignore[attr-defined]

    for snap in sorted(vaults, key=lambda s: s.vault.key):
        vault = (snap.vault.subscription_id, snap.vault.resource_group, snap.vault.name)
        add("azure_backup_vault_up", vault, 1.0 if snap.up else 0.0)
        if snap.refresh_duration_seconds is not None:
            add("azure_backup_vault_refresh_duration_seconds", vault, snap.refresh_duration_seconds)
        for entity in sorted(snap.entities, key=lambda e: e.key):
            job = entity.last_job
            labels = vault + (entity.key.backup_management_type, entity.key.entity, entity.key.operation)
            add("azure_backup_last_job_status", labels + (job.status,), 1.0)
            add("azure_backup_last_job_start_timestamp_seconds", labels, job.start_time)
            if job.end_time is not None:
                add("azure_backup_last_job_end_timestamp_seconds", labels, job.end_time)
            if entity.last_job_duration_seconds is not None:
                add("azure_backup_last_job_duration_seconds", labels, entity.last_job_duration_seconds)
            if entity.last_success_timestamp is not None:
                add("azure_backup_last_success_timestamp_seconds", labels, entity.last_success_timestamp)
            if entity.last_size_bytes is not None:
                add("azure_backup_last_job_size_bytes", labels, float(entity.last_size_bytes))
            if job.error_code is not None:
                add("azure_backup_last_job_error_info", labels + (job.error_code,), 1.0)
            # Every finished status starts at 0, so that the first job of a status is an increase
            # that rate()/increase() can see, not the birth of a series.
            finished = dict.fromkeys(FINISHED_STATUSES, 0) | dict(entity.finished_by_status)
            for status, count in sorted(finished.items()):
                add("azure_backup_jobs_finished_total", labels + (status,), float(count))
            add("azure_backup_job_size_bytes_total", labels, float(entity.size_bytes_total))
        for (bmt, operation, status), count in sorted(snap.job_counts.items()):
            add("azure_backup_jobs", vault + (bmt, operation, status), float(count))
        for (bmt, operation), histogram in sorted(snap.durations.items()):
            cumulative, buckets = 0, []
            bounds = DURATION_BUCKETS_SECONDS + (float("inf"),)
            for bound, count in zip(bounds, histogram.bucket_counts, strict=True):
                cumulative += count
                buckets.append((_bucket_bound(bound), float(cumulative)))
            families["azure_backup_job_duration_seconds"].add_metric(  # type: ignore[call-arg]
                [utf8_text(v) for v in vault + (bmt, operation)], buckets, histogram.sum_seconds
            )
        add("azure_backup_jobs_malformed_total", vault, float(sum(snap.malformed_jobs.values())))
    for (endpoint, code), count in sorted(api.requests.items()):
        add("azure_backup_api_requests_total", (endpoint, code), float(count))
    for subscription, remaining in sorted(api.ratelimit_remaining_reads.items()):
        add("azure_backup_api_ratelimit_remaining_reads", (subscription,), float(remaining))
    add("azure_backup_exporter_build_info", (version,), 1.0)
    return list(families.values())


# --- the collector ---------------------------------------------------------------------------------

# How long past the deadline a scrape waits for refreshes to return (they stop at the deadline themselves).
WAIT_SLACK_SECONDS = 0.05
SCRAPE_BUDGET: ContextVar[float | None] = ContextVar("scrape_budget", default=None)


@contextmanager
def scrape_budget(seconds: float | None) -> Iterator[None]:
    """Run a scrape with this many seconds to refresh the vaults (the web layer sets it per request)."""
    token = SCRAPE_BUDGET.set(seconds)
    try:
        yield
    finally:
        SCRAPE_BUDGET.reset(token)


class Refreshable(Protocol):
    vault: VaultRef
    last_refresh_started: float | None
    last_refresh_succeeded: float | None

    def refresh(self, deadline: float) -> bool: ...

    def fetch_details(self, deadline: float) -> None: ...

    def snapshot(self) -> VaultSnapshot: ...


class VaultSource(Protocol):
    def vaults(self, deadline: float) -> list[VaultRef]: ...


class BackupCollector(Collector):
    """Refreshes the vaults that are due (concurrently, within the budget), then renders every vault.

    A refresh has two rounds: every due vault lists its jobs, then the vaults that listed fine fetch
    job details with what is left of the budget.

    Scrapes are served one at a time, so two Prometheus replicas scraping together cost one refresh
    when `min_refresh_interval` is longer than the time between their scrapes.
    """

    def __init__(
        self,
        source: VaultSource,
        make_tracker: Callable[[VaultRef], Refreshable],
        api_snapshot: Callable[[], ApiSnapshot],
        max_concurrency: int = 8,
        min_refresh_interval: float = 30.0,
        default_budget: float = 10.0,
    ) -> None:
        self._source = source
        self._make_tracker = make_tracker
        self._api_snapshot = api_snapshot
        self._min_refresh_interval = min_refresh_interval
        self._default_budget = default_budget
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="vault-refresh")
        self._collect_lock = threading.Lock()
        self._trackers: dict[tuple[str, str, str], Refreshable] = {}

    def collect(self) -> Iterable[Metric]:
        budget = SCRAPE_BUDGET.get() or self._default_budget
        deadline = time.monotonic() + budget
        acquired = self._collect_lock.acquire(timeout=budget)
        try:
            if acquired:
                self._refresh(deadline)
            snapshots = [tracker.snapshot() for tracker in list(self._trackers.values())]
        finally:
            if acquired:
                self._collect_lock.release()
        return render(snapshots, self._api_snapshot())

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _refresh(self, deadline: float) -> None:
        try:
            vaults = self._source.vaults(deadline)
        except Exception:
            log.exception("listing vaults failed; keeping the previous list")
        else:
            wanted = {vault.key: vault for vault in vaults}
            # a new dict, swapped in whole: a scrape that timed out waiting reads the old one meanwhile
            self._trackers = {
                key: self._trackers.get(key) or self._make_tracker(vault) for key, vault in wanted.items()
            }
        now = time.monotonic()
        due = [
            tracker
            for tracker in self._trackers.values()
            if tracker.last_refresh_started is None
            or now - tracker.last_refresh_started >= self._min_refresh_interval
        ]
        # the longest without a refresh that succeeded first, so that the vaults the budget left out
        # (or cut short) last time are not left out again
        due.sort(key=lambda tracker: tracker.last_refresh_succeeded or float("-inf"))
        listings = {self._pool.submit(self._refresh_one, tracker, deadline): tracker for tracker in due}
        if not listings:
            return
        done, _ = wait(listings, timeout=max(0.0, deadline - time.monotonic()) + WAIT_SLACK_SECONDS)
        refreshed = [listings[future] for future in done if future.result()]
        details = [self._pool.submit(tracker.fetch_details, deadline) for tracker in refreshed]
        if details:
            wait(details, timeout=max(0.0, deadline - time.monotonic()) + WAIT_SLACK_SECONDS)

    @staticmethod
    def _refresh_one(tracker: Refreshable, deadline: float) -> bool:
        if time.monotonic() >= deadline:
            log.warning("vault %s: not refreshed, the scrape's time budget ran out first", tracker.vault)
            return False
        return tracker.refresh(deadline)
