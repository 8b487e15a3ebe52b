"""The metric contract, in one place, and the Prometheus collector that serves it.

`METRICS` lists every family the exporter emits (dashboards, alerts and the README table are checked
against it). `render()` turns vault snapshots into metric families and does no I/O; `BackupCollector`
is the registry's view of it: at each scrape it asks the scheduler for fresh snapshots and renders them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from . import __version__
from .budget import current_budget
from .jobs import FINISHED_STATUSES, is_backup_operation, utf8_text
from .snapshot import (
    DURATION_BUCKETS_SECONDS,
    ApiSnapshot,
    HistogramSnapshot,
    InventorySnapshot,
    VaultSnapshot,
)

VAULT_LABELS = ("subscription_id", "resource_group", "vault")
ENTITY_LABELS = VAULT_LABELS + ("backup_management_type", "entity", "operation")
ITEM_LABELS = VAULT_LABELS + ("backup_management_type", "entity")
# Aggregates over all the vaults an exporter collects: `shard` (its --shard.index) keeps shards apart while
# `max without (instance)` merges replicas of one shard, as it does for every other series.
KIND_LABELS = ("shard", "backup_management_type", "operation")
BACKUPS_ONLY = " Backup operations only (Backup, Backup (Full), Backup (Log)...)."
INVENTORY_NOTE = (
    " From the protection inventory, read every --inventory-interval (items) or --vault-list-interval."
)
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
    MetricSpec("azure_backup_last_job_duration_seconds", "gauge",
               "Duration of the most recent job as Azure reports it; time elapsed so far while it runs."
               + BACKUPS_ONLY + CACHE_NOTE, ENTITY_LABELS),
    MetricSpec("azure_backup_last_success_timestamp_seconds", "gauge",
               "End time of the most recent Completed or CompletedWithWarnings job, for entities the "
               "protection inventory does not list (a listed item's last success is its "
               "azure_backup_protected_item_last_recovery_point_timestamp_seconds)." + BACKUPS_ONLY
               + CACHE_NOTE, ENTITY_LABELS),
    MetricSpec("azure_backup_last_job_size_bytes", "gauge",
               'The size of the most recent finished job that reported one ("Backup Size", else '
               '"Data Transferred (in MB)").' + BACKUPS_ONLY + CACHE_NOTE,
               ENTITY_LABELS),
    MetricSpec("azure_backup_last_job_error_info", "gauge",
               "1 while the most recent job carries error details, with its error code." + CACHE_NOTE,
               ENTITY_LABELS + ("error_code",)),
    MetricSpec("azure_backup_consecutive_failures", "gauge",
               "Failed jobs of each entity and operation since its last success (Completed or "
               "CompletedWithWarnings), within the lookback; 0 after a success. Unlike increase() over a "
               "counter, it survives exporter and Prometheus restarts." + BACKUPS_ONLY + CACHE_NOTE,
               ENTITY_LABELS),
    MetricSpec("azure_backup_jobs", "gauge",
               "Jobs started within the lookback in the vaults this exporter collects, by status."
               + CACHE_NOTE, KIND_LABELS + ("status",)),
    MetricSpec("azure_backup_jobs_finished_total", "counter",
               "Jobs seen finished in the vaults this exporter collects, each counted once (jobs already "
               "finished in the lookback at start-up count at start-up)." + CACHE_NOTE,
               KIND_LABELS + ("status",)),
    MetricSpec("azure_backup_job_duration_seconds", "histogram",
               "Durations of finished jobs in the vaults this exporter collects, each observed once."
               + CACHE_NOTE, KIND_LABELS),
    MetricSpec("azure_backup_job_size_bytes_total", "counter",
               'Sum of the sizes ("Backup Size", else "Data Transferred (in MB)") of the vault\'s finished '
               'backup jobs, each counted once.' + CACHE_NOTE,
               VAULT_LABELS),
    MetricSpec("azure_backup_jobs_malformed_total", "counter",
               "Job records skipped because they could not be parsed (the log says why)." + CACHE_NOTE,
               VAULT_LABELS),
    MetricSpec("azure_backup_protected_item_info", "gauge",
               "1 for each protected item Azure lists, with its type, policy and source resource."
               + INVENTORY_NOTE,
               ITEM_LABELS + ("item_type", "workload_type", "policy", "source_resource_id")),
    MetricSpec("azure_backup_protected_item_protection_state", "gauge",
               "1 for the item's protectionState as Azure writes it." + INVENTORY_NOTE,
               ITEM_LABELS + ("state",)),
    MetricSpec("azure_backup_protected_item_health", "gauge",
               "1 for the item's healthStatus (VMs) or protectedItemHealthStatus (workloads); absent when "
               "Azure gives none." + INVENTORY_NOTE, ITEM_LABELS + ("health",)),
    MetricSpec("azure_backup_protected_item_last_backup_status", "gauge",
               "1 for the item's lastBackupStatus; absent before the first backup." + INVENTORY_NOTE,
               ITEM_LABELS + ("status",)),
    MetricSpec("azure_backup_protected_item_last_recovery_point_timestamp_seconds", "gauge",
               "The item's newest recovery point (lastRecoveryPoint, else for file shares and databases the "
               "last successful backup); absent without one." + INVENTORY_NOTE, ITEM_LABELS),
    MetricSpec("azure_backup_protected_item_backup_interval_seconds", "gauge",
               "The longest gap between two scheduled recovery points under the item's policy, by kind "
               "(backup: any non-log backup; log); absent without a schedule." + INVENTORY_NOTE,
               ITEM_LABELS + ("backup_kind",)),
    MetricSpec("azure_backup_vault_info", "gauge",
               "1, with the vault's location, storage redundancy and cross-region restore as Azure writes "
               "them." + INVENTORY_NOTE,
               VAULT_LABELS + ("location", "storage_redundancy", "cross_region_restore")),
    MetricSpec("azure_backup_vault_security_info", "gauge",
               "1, with the vault's defences as Azure writes them (soft delete, enhanced security, "
               "immutability, multi-user authorization, public network access); empty when not given."
               + INVENTORY_NOTE,
               VAULT_LABELS + ("soft_delete", "enhanced_security", "immutability", "multi_user_authorization",
                               "public_network_access")),
    MetricSpec("azure_backup_inventory_up", "gauge",
               "1 if the last reading of the vault's protection inventory succeeded, else 0; a failed "
               "reading keeps the values of the last good one.", VAULT_LABELS),
    MetricSpec("azure_backup_vault_up", "gauge",
               "1 if the last refresh of the vault succeeded, else 0." + CACHE_NOTE, VAULT_LABELS),
    MetricSpec("azure_backup_vault_refresh_duration_seconds", "gauge",
               "How long the last refresh of the vault took." + CACHE_NOTE, VAULT_LABELS),
    MetricSpec("azure_backup_subscription_up", "gauge",
               "1 if the last listing of the subscription's vaults (--subscription) succeeded, else 0; "
               "a failed listing keeps the vaults listed before.", ("subscription_id",)),
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


def family(name: str) -> Metric:
    """The family `name` of `METRICS`, without samples."""
    return _family(name)


def _family(name: str) -> Metric:
    spec = _SPECS[name]
    if spec.kind == "counter":
        return CounterMetricFamily(name.removesuffix("_total"), spec.help, labels=spec.labels)
    if spec.kind == "histogram":
        return HistogramMetricFamily(name, spec.help, labels=spec.labels)
    return GaugeMetricFamily(name, spec.help, labels=spec.labels)


def _bucket_bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


# Rendered from every vault at each scrape: what changes with each refresh (`up`, its duration) and the
# aggregates over all vaults. Every other family is a vault's own, which `exposition.py` keeps rendered
# while the vault's snapshot stays the same; but for the duration of a running job, which grows with the
# time: `render_shared` gives those samples of `azure_backup_last_job_duration_seconds`.
SHARED_FAMILIES = frozenset({
    "azure_backup_vault_up", "azure_backup_vault_refresh_duration_seconds", "azure_backup_inventory_up",
    "azure_backup_jobs", "azure_backup_jobs_finished_total", "azure_backup_job_duration_seconds",
    "azure_backup_subscription_up", "azure_backup_api_requests_total",
    "azure_backup_api_ratelimit_remaining_reads", "azure_backup_exporter_build_info",
})  # fmt: skip

RUNNING_DURATIONS = "azure_backup_last_job_duration_seconds"  # of running jobs: in render_shared too

_Add = Callable[..., None]


def _families(names: Iterable[str]) -> tuple[dict[str, Metric], _Add]:
    families = {name: _family(name) for name in names}

    def add(name: str, labels: Sequence[str], value: float, **kwargs: object) -> None:
        # the last guard: a label value that cannot be encoded would fail the whole exposition (a 500)
        families[name].add_metric([utf8_text(v) for v in labels], value, **kwargs)  # type: ignore[attr-defined]

    return families, add


def render(
    vaults: Sequence[VaultSnapshot],
    api: ApiSnapshot,
    version: str = __version__,
    subscriptions_up: Mapping[str, bool] | None = None,
    shard: int = 0,
) -> list[Metric]:
    """Metric families for the given snapshots, in the order of `METRICS`; no I/O, no clock.

    `shard`: this exporter's --shard.index, the `shard` label of the aggregates over its vaults.
    """
    merged = {spec.name: _family(spec.name) for spec in METRICS}
    for snap in sorted(vaults, key=lambda s: s.vault.key):
        for family in render_vault(snap):
            merged[_spec_name(family)].samples.extend(family.samples)
    for family in render_shared(vaults, api, version, subscriptions_up, shard):
        merged[_spec_name(family)].samples.extend(family.samples)
    return list(merged.values())


def empty_families() -> list[Metric]:
    """Every family, without samples, in the order of `METRICS`: what their headers are."""
    return [_family(spec.name) for spec in METRICS]


def _spec_name(family: Metric) -> str:
    return f"{family.name}_total" if family.type == "counter" else family.name


def render_vault(snap: VaultSnapshot) -> list[Metric]:
    """The vault's own families (all but `SHARED_FAMILIES`), in the order of `METRICS`."""
    families, add = _families(spec.name for spec in METRICS if spec.name not in SHARED_FAMILIES)
    vault = (snap.vault.subscription_id, snap.vault.resource_group, snap.vault.name)
    listed = _listed_items(snap.inventory)
    for entity in sorted(snap.entities, key=lambda e: e.key):
        job = entity.last_job
        labels = vault + (entity.key.backup_management_type, entity.key.entity, entity.key.operation)
        add("azure_backup_last_job_status", labels + (job.status,), 1.0)
        add("azure_backup_last_job_start_timestamp_seconds", labels, job.start_time)
        if job.error_code is not None:
            add("azure_backup_last_job_error_info", labels + (job.error_code,), 1.0)
        if not is_backup_operation(entity.key.operation):
            continue  # a restore, a configuration or a deletion: its status and start say what matters
        if entity.last_job_duration_seconds is not None and job.finished:  # a running one's: render_shared
            add("azure_backup_last_job_duration_seconds", labels, entity.last_job_duration_seconds)
        if (
            entity.last_success_timestamp is not None
            and (
                entity.key.backup_management_type,
                entity.key.entity,
            )
            not in listed
        ):
            add("azure_backup_last_success_timestamp_seconds", labels, entity.last_success_timestamp)
        if entity.last_size_bytes is not None:
            add("azure_backup_last_job_size_bytes", labels, float(entity.last_size_bytes))
        add("azure_backup_consecutive_failures", labels, float(entity.consecutive_failures))
    add("azure_backup_job_size_bytes_total", vault, float(snap.size_bytes_total))
    add("azure_backup_jobs_malformed_total", vault, float(sum(snap.malformed_jobs.values())))
    if snap.inventory is not None and snap.inventory.read:
        _render_inventory(add, vault, snap.inventory)
    return list(families.values())


def vault_gauges(snap: VaultSnapshot) -> list[tuple[str, float]]:
    """(family, value) of the vault's series that change with each refresh: its `up`s and its duration."""
    gauges = [("azure_backup_vault_up", 1.0 if snap.up else 0.0)]
    if snap.refresh_duration_seconds is not None:
        gauges.append(("azure_backup_vault_refresh_duration_seconds", snap.refresh_duration_seconds))
    if snap.inventory is not None:
        gauges.append(("azure_backup_inventory_up", 1.0 if snap.inventory.up else 0.0))
    return gauges


VAULT_GAUGES = frozenset(
    {"azure_backup_vault_up", "azure_backup_vault_refresh_duration_seconds", "azure_backup_inventory_up"}
)


def render_shared(
    vaults: Sequence[VaultSnapshot],
    api: ApiSnapshot,
    version: str = __version__,
    subscriptions_up: Mapping[str, bool] | None = None,
    shard: int = 0,
    with_vault_gauges: bool = True,
) -> list[Metric]:
    """`SHARED_FAMILIES`, in the order of `METRICS`: the vaults' `up`s (`vault_gauges`, unless
    `with_vault_gauges` is False), running jobs' durations so far, and the aggregates over the vaults."""
    families, add = _families(
        spec.name for spec in METRICS if spec.name in SHARED_FAMILIES or spec.name == RUNNING_DURATIONS
    )
    finished: Counter[tuple[str, str, str]] = Counter()
    in_lookback: Counter[tuple[str, str, str]] = Counter()
    durations: dict[tuple[str, str], HistogramSnapshot] = {}
    for snap in sorted(vaults, key=lambda s: s.vault.key):
        vault = (snap.vault.subscription_id, snap.vault.resource_group, snap.vault.name)
        for name, value in vault_gauges(snap) if with_vault_gauges else ():
            add(name, vault, value)
        for entity in sorted(snap.entities, key=lambda e: e.key):
            if not entity.last_job.finished and is_backup_operation(entity.key.operation):
                labels = vault + (entity.key.backup_management_type, entity.key.entity, entity.key.operation)
                if entity.last_job_duration_seconds is not None:  # the time so far: it grows at each scrape
                    add("azure_backup_last_job_duration_seconds", labels, entity.last_job_duration_seconds)
        finished.update(snap.jobs_finished)
        in_lookback.update(snap.job_counts)
        for kind, histogram in snap.durations.items():
            durations[kind] = histogram + durations[kind] if kind in durations else histogram
    # Every finished status starts at 0, so that the first job of a status is an increase that
    # rate()/increase() can see, not the birth of a series.
    shard_label = (str(shard),)
    for kind in sorted({(bmt, operation) for bmt, operation, _ in finished}):
        for status in sorted(FINISHED_STATUSES):
            count = float(finished[kind + (status,)])
            add("azure_backup_jobs_finished_total", shard_label + kind + (status,), count)
    for (bmt, operation, status), count in sorted(in_lookback.items()):
        add("azure_backup_jobs", shard_label + (bmt, operation, status), float(count))
    for kind, histogram in sorted(durations.items()):
        cumulative, buckets = 0, []
        bounds = DURATION_BUCKETS_SECONDS + (float("inf"),)
        for bound, count in zip(bounds, histogram.bucket_counts, strict=True):
            cumulative += count
            buckets.append((_bucket_bound(bound), float(cumulative)))
        families["azure_backup_job_duration_seconds"].add_metric(  # type: ignore[call-arg]
            [utf8_text(v) for v in shard_label + kind], buckets, histogram.sum_seconds
        )
    for subscription, up in sorted((subscriptions_up or {}).items()):
        add("azure_backup_subscription_up", (subscription,), 1.0 if up else 0.0)
    for (endpoint, code), count in sorted(api.requests.items()):
        add("azure_backup_api_requests_total", (endpoint, code), float(count))
    for subscription, remaining in sorted(api.ratelimit_remaining_reads.items()):
        add("azure_backup_api_ratelimit_remaining_reads", (subscription,), float(remaining))
    add("azure_backup_exporter_build_info", (version,), 1.0)
    return list(families.values())


def _listed_items(inventory: InventorySnapshot | None) -> frozenset[tuple[str, str]]:
    """(management type, entity) of the items the inventory lists; none before it was read."""
    if inventory is None or not inventory.read:
        return frozenset()
    return frozenset((item.backup_management_type, item.entity) for item in inventory.items)


def _render_inventory(
    add: Callable[..., None], vault: tuple[str, str, str], inventory: InventorySnapshot
) -> None:
    for item in inventory.items:
        labels = vault + (item.backup_management_type, item.entity)
        add(
            "azure_backup_protected_item_info",
            labels + (item.item_type, item.workload_type, item.policy, item.source_resource_id),
            1.0,
        )
        if item.protection_state:  # optional in the spec, though every recorded item has one
            add("azure_backup_protected_item_protection_state", labels + (item.protection_state,), 1.0)
        if item.health:
            add("azure_backup_protected_item_health", labels + (item.health,), 1.0)
        if item.last_backup_status:
            add("azure_backup_protected_item_last_backup_status", labels + (item.last_backup_status,), 1.0)
        if item.last_recovery_point_timestamp is not None:
            add(
                "azure_backup_protected_item_last_recovery_point_timestamp_seconds",
                labels,
                item.last_recovery_point_timestamp,
            )
        for kind, seconds in sorted(item.intervals.items()):
            add("azure_backup_protected_item_backup_interval_seconds", labels + (kind,), seconds)
    settings = inventory.settings
    if settings is not None:
        add(
            "azure_backup_vault_info",
            vault + (settings.location, settings.storage_redundancy, settings.cross_region_restore),
            1.0,
        )
        add(
            "azure_backup_vault_security_info",
            vault
            + (
                settings.soft_delete,
                settings.enhanced_security,
                settings.immutability,
                settings.multi_user_authorization,
                settings.public_network_access,
            ),
            1.0,
        )


# --- the collector ---------------------------------------------------------------------------------


class BackupCollector(Collector):
    """Renders the snapshots that `snapshots(budget)` returns at each scrape.

    `snapshots` is the scheduler's `scrape`: it refreshes what is due within the scrape's budget
    (set by the web layer, see `budget.py`) and returns every vault's snapshot.
    """

    def __init__(
        self,
        snapshots: Callable[[float | None], Sequence[VaultSnapshot]],
        api_snapshot: Callable[[], ApiSnapshot],
        subscriptions_up: Callable[[], Mapping[str, bool]] = dict,
        shard: int = 0,
    ) -> None:
        self._snapshots = snapshots
        self._api_snapshot = api_snapshot
        self._subscriptions_up = subscriptions_up
        self._shard = shard

    def collect(self) -> Iterable[Metric]:
        vaults = self._snapshots(current_budget())
        return render(
            vaults, self._api_snapshot(), subscriptions_up=self._subscriptions_up(), shard=self._shard
        )
