"""Immutable pictures of a vault's state, handed from the trackers to the collector.

They sit between the two so that the collector renders plain values (and can be tested on fixed
snapshots), while the trackers own all I/O. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from .inventory import VaultSettings
from .jobs import Job, VaultRef

# Upper bounds of the backup duration histogram: one minute to one day.
DURATION_BUCKETS_SECONDS: tuple[float, ...] = (
    60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0, 86400.0,
)  # fmt: skip


@dataclass(frozen=True, order=True)
class EntityKey:
    """What one `last_job_*` series describes: an entity and an operation on it."""

    backup_management_type: str
    entity: str
    operation: str


@dataclass(frozen=True)
class EntitySnapshot:
    key: EntityKey
    last_job: Job
    last_job_duration_seconds: float | None
    last_success_timestamp: float | None
    last_size_bytes: int | None
    consecutive_failures: int = 0  # failed jobs since the last success, within the lookback


@dataclass(frozen=True)
class HistogramSnapshot:
    """Non-cumulative counts per bucket of `DURATION_BUCKETS_SECONDS`, then the +Inf overflow."""

    bucket_counts: tuple[int, ...]
    sum_seconds: float

    @property
    def count(self) -> int:
        return sum(self.bucket_counts)

    def __add__(self, other: HistogramSnapshot) -> HistogramSnapshot:
        """The histogram of both sets of observations (two vaults' jobs of one kind)."""
        counts = tuple(a + b for a, b in zip(self.bucket_counts, other.bucket_counts, strict=True))
        return HistogramSnapshot(counts, self.sum_seconds + other.sum_seconds)


@dataclass(frozen=True)
class ItemSnapshot:
    """One protected item as the inventory last listed it; `entity` is what its backup jobs carry."""

    backup_management_type: str
    entity: str
    item_type: str
    workload_type: str
    policy: str
    source_resource_id: str
    protection_state: str
    health: str
    last_backup_status: str
    last_recovery_point_timestamp: float | None
    intervals: Mapping[str, float]  # backup kind (backup, log) -> longest scheduled gap, in seconds


@dataclass(frozen=True)
class InventorySnapshot:
    """A vault's protection inventory: `up` says whether its last reading worked, `read` whether any did."""

    up: bool
    read: bool
    items: tuple[ItemSnapshot, ...] = ()
    settings: VaultSettings | None = None


@dataclass(frozen=True)
class VaultSnapshot:
    vault: VaultRef
    up: bool
    refresh_duration_seconds: float | None
    entities: tuple[EntitySnapshot, ...] = ()
    job_counts: Mapping[tuple[str, str, str], int] = field(default_factory=dict)  # in the lookback
    durations: Mapping[tuple[str, str], HistogramSnapshot] = field(default_factory=dict)
    malformed_jobs: Mapping[str, int] = field(default_factory=dict)
    inventory: InventorySnapshot | None = None  # None: the inventory is not read (or not yet tried)
    # finished jobs counted since the exporter started, by (management type, operation, status)
    jobs_finished: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    size_bytes_total: int = 0  # sizes of finished jobs added since the exporter started
    # Equal versions of one vault, not None, mean equal snapshots but for `up`, `refresh_duration_seconds`,
    # `inventory.up` and the durations of running jobs: the collector then keeps the vault's rendering.
    version: Hashable | None = None


@dataclass(frozen=True)
class ApiSnapshot:
    """Counts of requests to Azure by (endpoint, code), and the last remaining-reads per subscription."""

    requests: Mapping[tuple[str, str], int] = field(default_factory=dict)
    ratelimit_remaining_reads: Mapping[str, int] = field(default_factory=dict)
