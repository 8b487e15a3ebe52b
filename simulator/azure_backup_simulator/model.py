"""The simulated estate's objects, kept compact (`__slots__`) because a large estate holds ~500,000 jobs."""

from __future__ import annotations

from bisect import bisect_right

from .catalog import EntityKind, ErrorSpec
from .policies import Policy

RUNNING_STATUSES = ("InProgress", "Cancelling")
STYLE_LOWER_SUBSCRIPTIONS, STYLE_INTEGER_ACTIONS, STYLE_V2_JOB_TYPES = 1, 2, 4
STYLE_ALL = 7


def format_guid(value: int) -> str:
    """A 128-bit integer as a lower-case GUID string (jobs store the integer: smaller than the text)."""
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def as_uuid4(bits: int) -> int:
    """Set the version and variant bits so the integer renders as a valid version-4 GUID."""
    bits &= ~(0xF000 << 64) & ~(0xC000 << 48)
    return bits | (0x4000 << 64) | (0x8000 << 48)


DEFAULT_SETTINGS: dict[str, object] = {
    "soft_delete": "Enabled",
    "soft_delete_retention_days": 14,
    "enhanced_security": "Enabled",
    "immutability": "Disabled",
    "multi_user_authorization": "Disabled",
    "public_network_access": "Enabled",
    "storage_redundancy": "GeoRedundant",
    "cross_region_restore": "Disabled",
}
"""A new vault's settings, as Azure creates one (soft delete on for 14 days, geo-redundant)."""


class Vault:
    """A Recovery Services vault: where it lives, its protected items and its jobs sorted by start time."""

    __slots__ = (
        "subscription",
        "resource_group",
        "name",
        "location",
        "legacy_format",
        "style",
        "entities",
        "starts",
        "jobs",
        "_by_guid",
        "created",
        "policies",
        "settings",
    )

    def __init__(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        location: str,
        legacy_format: bool,
        created: float,
        style: int = 0,
    ) -> None:
        self.subscription = subscription
        self.resource_group = resource_group
        self.name = name
        self.location = location
        self.legacy_format = legacy_format
        self.style = style
        """Bits of the recorded wire variants (STYLE_*) this vault answers with, beside legacy_format."""
        self.created = created
        self.entities: dict[str, Entity] = {}
        self.starts: list[float] = []
        self.jobs: list[Job] = []
        self._by_guid: dict[int, Job] | None = None
        self.policies: dict[str, Policy] = {}
        self.settings: dict[str, object] = dict(DEFAULT_SETTINGS)
        """The vault's redundancy and security settings (keys of DEFAULT_SETTINGS)."""

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{self.name}"
        )

    @property
    def lower_case_subscriptions(self) -> bool:
        """Job ids start `/subscriptions/` (recorded from 2021), not `/Subscriptions/` (2016-2021)."""
        return bool(self.style & STYLE_LOWER_SUBSCRIPTIONS) and not self.legacy_format

    @property
    def integer_actions(self) -> bool:
        """actionsInfo as `[1]` (recorded 2016-2023), not `["Cancellable"]` (2021-2024)."""
        return self.legacy_format or bool(self.style & STYLE_INTEGER_ACTIONS)

    @property
    def v2_job_types(self) -> bool:
        """Azure Files and SQL/HANA jobs say AzureStorageJobV2 / AzureWorkloadJobV2 (recorded from 2021)."""
        return bool(self.style & STYLE_V2_JOB_TYPES) and not self.legacy_format

    @property
    def key(self) -> tuple[str, str, str]:
        return self.subscription.lower(), self.resource_group.lower(), self.name.lower()

    def add_job(self, job: Job) -> None:
        """Insert keeping (start, seq) order; live jobs start now, so this is nearly always an append."""
        if not self.starts or job.start >= self.starts[-1]:
            self.starts.append(job.start)
            self.jobs.append(job)
        else:
            index = bisect_right(self.starts, job.start)
            self.starts.insert(index, job.start)
            self.jobs.insert(index, job)
        if self._by_guid is not None:
            self._by_guid[job.guid] = job

    def sort_jobs(self) -> None:
        self.jobs.sort(key=lambda job: (job.start, job.seq))
        self.starts = [job.start for job in self.jobs]

    def find_job(self, guid: int) -> Job | None:
        """Job by id; the index is built on first use so that generation stays fast and small."""
        if self._by_guid is None:
            self._by_guid = {job.guid: job for job in self.jobs}
        return self._by_guid.get(guid)


class Entity:
    """A protected item (VM, database, file share, server...): its policy, and where its protection stands.

    `active` says whether it still backs up on schedule; `stopped_at` (DisableBackup: protection stopped,
    data retained) and `deleted_at` (DeleteBackupData: soft-deleted, or gone when the vault's soft delete
    is off) say why not. A MARS server gone silent is inactive with neither: still protected, no jobs."""

    __slots__ = (
        "vault",
        "kind",
        "name",
        "host",
        "policy",
        "log_offset",
        "active",
        "busy_until",
        "stopped_at",
        "deleted_at",
        "purged",
        "injected",
        "epoch",
    )

    def __init__(
        self,
        vault: Vault,
        kind: EntityKind,
        name: str,
        host: str,
        policy: Policy | None,
        log_offset: float,
    ) -> None:
        self.vault = vault
        self.kind = kind
        self.name = name
        self.host = host
        self.policy = policy
        self.log_offset = log_offset
        self.active = True
        self.busy_until = 0.0
        """End of a long initial backup: scheduled backups due before it are skipped, as Azure does."""
        self.stopped_at: float | None = None
        self.deleted_at: float | None = None
        self.purged = False
        """Its data was deleted while the vault's soft delete was off: Azure no longer lists it."""
        self.epoch = 0
        """Bumped when protection resumes: schedule events of an older epoch are dropped."""
        self.injected = False
        """Made up for a job injected through the control API: not a protected item Azure would list."""


class Job:
    """One backup job. A running job carries its planned end and outcome; `extra` holds injected overrides."""

    __slots__ = (
        "seq",
        "guid",
        "entity",
        "operation",
        "status",
        "start",
        "end",
        "size",
        "error",
        "user_triggered",
        "planned_end",
        "planned_status",
        "extra",
        "hidden",
    )

    def __init__(
        self,
        seq: int,
        guid: int,
        entity: Entity,
        operation: str,
        status: str,
        start: float,
        end: float | None,
        size: int,
        error: ErrorSpec | None,
        user_triggered: bool,
    ) -> None:
        self.seq = seq
        self.guid = guid
        self.entity = entity
        self.operation = operation
        self.status = status
        self.start = start
        self.end = end
        self.size = size
        self.error = error
        self.user_triggered = user_triggered
        self.planned_end: float | None = None
        self.planned_status: str | None = None
        self.extra: dict | None = None
        self.hidden = False
        """A scheduled job that Azure leaves out of the job list (SQL log backups, every scheduled SAP
        HANA job); it still happened: recovery points and the item's last backup come from it."""

    @property
    def name(self) -> str:
        return format_guid(self.guid)

    @property
    def running(self) -> bool:
        return self.status in RUNNING_STATUSES


def management_type(job: Job) -> str:
    """The job's backupManagementType: its kind's, unless injected otherwise."""
    if job.extra and job.extra.get("backup_management_type"):
        return job.extra["backup_management_type"]
    return job.entity.kind.backup_management_type


def job_type(job: Job) -> str:
    if job.extra and job.extra.get("job_type"):
        return job.extra["job_type"]
    kind_type = job.entity.kind.job_type
    if kind_type in ("AzureStorageJob", "AzureWorkloadJob") and job.entity.vault.v2_job_types:
        return kind_type + "V2"
    return kind_type
