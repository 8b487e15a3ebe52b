"""Deterministic estate generation: the same seed and start time give the same vaults, items and jobs.

Each vault draws from its own `random.Random`, so a vault's content does not depend on the others.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from .catalog import KIND_WEIGHTS, KINDS, REGIONS, EntityKind, ErrorSpec
from .config import SimulatorConfig
from .model import STYLE_ALL, Entity, Job, Vault, as_uuid4
from .policies import Policy, Schedule

DAY = 86400.0
MB = 1024 * 1024
INITIAL_BACKUP_SCALE = 30.0
"""The first backup after ConfigureBackup copies everything: it runs this many times longer than a daily
one, from hours to a day or two (so durations with days appear, in both wire formats)."""

ROLES = ("stopped", "never", "soft-deleted", "silent")
"""Items in a state a monitor must notice, one guaranteed per vault (by index) and others by chance:
protection stopped with data retained, protected but never backed up yet, soft-deleted (DeleteBackupData
with soft delete on), and a MARS server gone silent (still protected, no backup for days)."""
SCHEDULE_JITTER = 1800.0
"""Scheduled backups start up to this long after their policy's run time."""

_KIND_KEYS = [key for key, _ in KIND_WEIGHTS]
_KIND_CUMULATIVE = []
_total = 0
for _, weight in KIND_WEIGHTS:
    _total += weight
    _KIND_CUMULATIVE.append(_total)


@dataclass(frozen=True)
class Outcome:
    """What a job will have done when it ends."""

    duration: float
    status: str
    size: int
    error: ErrorSpec | None


def vault_rng(seed: int, index: int) -> random.Random:
    return random.Random(seed * 1_000_003 + index * 7919 + 17)


def subscription_ids(seed: int, count: int) -> list[str]:
    rng = random.Random(f"subscriptions:{seed}")
    ids = []
    for _ in range(count):
        text = f"{as_uuid4(rng.getrandbits(128)):032x}"
        ids.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
    return ids


def restore_operation(entity: Entity) -> str:
    """SQL and SAP HANA restores say `Restore (Full)` (recorded); other kinds `Restore`."""
    return "Restore (Full)" if entity.kind.key in ("sql", "hana") else "Restore"


def hidden_from_list(entity: Entity, operation: str, user_triggered: bool) -> bool:
    """Microsoft's docs: scheduled SQL log backups are not shown among backup jobs (too frequent), and
    for SAP HANA no scheduled job is shown, log backups included (azure-api-protected-items.md s. 4)."""
    if user_triggered or not operation.startswith("Backup"):
        return False
    return entity.kind.key == "hana" or (entity.kind.key == "sql" and operation == "Backup (Log)")


def operation_for(entity: Entity, start: float, log_backup: bool) -> str:
    """SQL and SAP HANA jobs name their flavour: `Backup (Full)`, `Backup (Differential)`, `Backup (Log)`."""
    if entity.kind.key not in ("sql", "hana"):
        return "Backup"
    if log_backup:
        return "Backup (Log)"
    schedule = entity.policy.schedule if entity.policy else None
    if schedule is None or not schedule.full_days:
        return "Backup (Full)"
    run = schedule.run_at_or_before(start)
    return "Backup (Full)" if run is not None and schedule.is_full(run) else "Backup (Differential)"


def vault_policies(rng: random.Random) -> dict[str, Policy]:
    """The vault's policies: what each kind of item is protected by (several shapes per kind).

    Daily VMs, weekly VMs (three days, W. Europe), enhanced hourly VMs (every 4 h from 08:00 for 12 h as
    recorded, and every 8 h all day in India), file shares several times a day (hourly, Pacific: the spec
    and its example allow it, the recordings show only daily ones) or daily, SQL and SAP HANA with a
    weekly Full, Differential the other days and Log backups, in India and Pacific time. MARS and
    DPM/MABS schedules run but are not listed (their recorded items carry no policy)."""
    evening = (18 * 60 + rng.randrange(0, 22) * 30) % 1440
    share_time = (19 * 60 + rng.randrange(0, 16) * 30) % 1440
    weekly_days = tuple(sorted(rng.sample(range(7), 3)))
    policies = [
        Policy("DefaultPolicy", "AzureIaasVM", Schedule("Daily", (evening,))),
        Policy(
            "WeeklyPolicy",
            "AzureIaasVM",
            Schedule("Weekly", (23 * 60,), weekly_days, time_zone="W. Europe Standard Time"),
        ),
        Policy(
            "EnhancedPolicy",
            "AzureIaasVM",
            Schedule("Hourly", interval_hours=4, window_start=8 * 60, window_hours=12),
            "V2",
        ),
        Policy(
            "EnhancedPolicy-8h",
            "AzureIaasVM",
            Schedule(
                "Hourly", interval_hours=8, window_start=0, window_hours=24, time_zone="India Standard Time"
            ),
            "V2",
        ),
        Policy(
            "afs-hourly",
            "AzureStorage",
            Schedule(
                "Hourly",
                interval_hours=4,
                window_start=8 * 60,
                window_hours=12,
                time_zone="Pacific Standard Time",
            ),
        ),
        Policy("afs-daily", "AzureStorage", Schedule("Daily", (share_time,))),
        Policy(
            "HourlyLogBackup",
            "AzureWorkload",
            Schedule("Weekly", (22 * 60,), full_days=(rng.randrange(7),), time_zone="India Standard Time"),
            workload_type="SQLDataBase",
        ),
        Policy(
            "hana-weekly-full",
            "AzureWorkload",
            Schedule("Weekly", (20 * 60,), full_days=(5,), time_zone="Pacific Standard Time"),
            workload_type="SAPHanaDatabase",
        ),
        Policy("mars-daily", "MAB", Schedule("Daily", ((evening + 60) % 1440,)), listed=False),
        Policy("dpm-daily", "DPM", Schedule("Daily", ((evening + 90) % 1440,)), listed=False),
    ]
    return {policy.name: policy for policy in policies}


_POLICY_CHOICES = {
    "vm": (("DefaultPolicy", 0.7), ("WeeklyPolicy", 1.0)),
    "vm-enhanced": (("EnhancedPolicy", 0.5), ("EnhancedPolicy-8h", 1.0)),
    "files": (("afs-hourly", 0.5), ("afs-daily", 1.0)),
    "sql": (("HourlyLogBackup", 1.0),),
    "hana": (("hana-weekly-full", 1.0),),
    "mars": (("mars-daily", 1.0),),
    "dpm": (("dpm-daily", 1.0),),
    "mabs": (("dpm-daily", 1.0),),
}


def pick_policy(vault: Vault, kind_key: str, draw: float) -> Policy | None:
    for name, bound in _POLICY_CHOICES.get(kind_key, ()):
        if draw < bound:
            return vault.policies.get(name)
    return None


def vault_settings(seed: int, index: int) -> dict[str, object]:
    """Redundancy and security settings in several states across consecutive vaults (from the seed):
    each three-valued setting takes all its values over three vaults, each two-valued one over four."""
    i = index + random.Random(f"settings:{seed}").randrange(12)
    redundancy = ("GeoRedundant", "LocallyRedundant", "ZoneRedundant")[(i + 2) % 3]
    soft_delete = ("Enabled", "AlwaysON", "Disabled")[i % 3]
    return {
        "soft_delete": soft_delete,
        "soft_delete_retention_days": 14 if soft_delete != "Disabled" else 0,
        "enhanced_security": "Disabled" if i % 5 == 4 else "Enabled",
        "immutability": ("Disabled", "Unlocked", "Locked")[(i + 1) % 3],
        "multi_user_authorization": ("Disabled", "Enabled")[i % 2],
        "public_network_access": ("Enabled", "Disabled")[(i // 2) % 2],
        "storage_redundancy": redundancy,
        "cross_region_restore": ("Enabled", "Disabled")[(i // 3) % 2]
        if redundancy == "GeoRedundant"
        else "Disabled",
    }


class Planner:
    """Draws the duration, outcome and size of a job from the entity's kind and the configured rates."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config

    @staticmethod
    def minutes(kind: EntityKind, operation: str) -> tuple[float, float]:
        """Range of a job's duration in minutes, by kind and operation."""
        low, high = kind.backup_minutes
        if operation == "Backup (Log)":
            return 0.3, 4.0
        if operation == "Backup (Differential)":
            return low * 0.3, high * 0.4
        if operation.startswith("Restore"):
            return 10.0, 120.0
        if not operation.startswith("Backup"):
            return 0.2, 2.0
        return low, high

    def plan(
        self, rng: random.Random, kind: EntityKind, operation: str, duration_scale: float = 1.0
    ) -> Outcome:
        low, high = self.minutes(kind, operation)
        duration = rng.uniform(low, high) * 60.0 * duration_scale
        draw = rng.random()
        failure, warning = self.config.failure_rate, self.config.warning_rate
        if draw < failure:
            return Outcome(duration * rng.uniform(0.05, 0.5), "Failed", 0, rng.choice(kind.errors))
        if draw < failure + 0.004:
            return Outcome(duration * rng.uniform(0.1, 0.9), "Cancelled", 0, None)
        size = self._size(rng, kind, operation)
        if draw < failure + 0.004 + warning:
            notice = kind.warnings[int(duration) % len(kind.warnings)] if kind.warnings else None
            return Outcome(duration, "CompletedWithWarnings", size, notice)
        return Outcome(duration, "Completed", size, None)

    @staticmethod
    def _size(rng: random.Random, kind: EntityKind, operation: str) -> int:
        if not operation.startswith(("Backup", "Restore")) or kind.backup_megabytes[1] <= 0:
            return 0
        low, high = kind.backup_megabytes
        if operation == "Backup (Log)":
            low, high = 0.2, 800.0
        elif operation == "Backup (Differential)":
            low, high = low * 0.05, high * 0.3
        megabytes = math.exp(rng.uniform(math.log(low), math.log(high)))
        return int(megabytes * MB)


class HistoryBuilder:
    """Creates vaults, their protected items, and the jobs of the days before the start time."""

    def __init__(
        self, config: SimulatorConfig, planner: Planner, origin: float, next_seq: Callable[[], int]
    ) -> None:
        self.config = config
        self.planner = planner
        self.origin = origin
        self.next_seq = next_seq

    def build_vault(self, index: int, subscription: str, resource_group: str) -> tuple[Vault, list[Job]]:
        """One vault with entities and history; returns it and its still-running jobs."""
        rng = vault_rng(self.config.seed, index)
        region = REGIONS[index % len(REGIONS)]
        name = f"rsv-{region[:6]}-{index:04d}"
        legacy = rng.random() < self.config.legacy_format_share
        style = zlib.crc32(name.encode()) & STYLE_ALL  # not drawn from rng: the rest of the vault stays put
        vault = Vault(subscription, resource_group, name, region, legacy, self.origin - 400 * DAY, style)
        vault.policies = vault_policies(rng)
        vault.settings = vault_settings(self.config.seed, index)
        count = self.config.entities_per_vault
        roles_rng = random.Random(f"roles:{self.config.seed}:{index}")
        roles = [ROLES[index % len(ROLES)]] + [role for role in ROLES if roles_rng.random() < 0.2]
        roles = list(dict.fromkeys(roles))[:count]
        by_position = dict(zip(roles_rng.sample(range(count), len(roles)), roles, strict=True))
        for position in range(count):
            self._add_entity(vault, rng, position, "mars" if by_position.get(position) == "silent" else None)
        running: list[Job] = []
        for position, entity in enumerate(list(vault.entities.values())):
            running.extend(self._entity_history(vault, entity, rng, by_position.get(position)))
        if rng.random() < 0.1:
            running.extend(self._vault_job(vault, rng))
        vault.sort_jobs()
        return vault, running

    def _add_entity(self, vault: Vault, rng: random.Random, position: int, forced_kind: str | None) -> Entity:
        pick = rng.random() * _KIND_CUMULATIVE[-1]
        kind_key = _KIND_KEYS[next(i for i, bound in enumerate(_KIND_CUMULATIVE) if pick < bound)]
        kind_key = forced_kind or kind_key
        kind = KINDS[kind_key]
        name = f"{rng.choice(kind.name_prefixes)}-{position + 1:02d}"
        host = name
        if kind_key in ("sql", "hana"):
            host = f"{kind_key}vm-{position + 1:02d}"
        if kind_key in ("dpm", "mabs"):
            host = f"{kind_key}srv-{rng.randint(1, 3):02d}.contoso.local"
        elif kind_key == "mars":
            host = f"{name}.contoso.local"
        policy = pick_policy(vault, kind_key, rng.random())
        entity = Entity(vault, kind, name, host, policy, rng.uniform(0, 3600.0))
        vault.entities[name.lower()] = entity
        return entity

    def _entity_history(
        self, vault: Vault, entity: Entity, rng: random.Random, role: str | None = None
    ) -> list[Job]:
        history_days = self.config.history_days
        history_start = self.origin - history_days * DAY
        protected_from = history_start
        if rng.random() < 0.1:
            protected_from = self.origin - rng.uniform(0.3, max(0.3, history_days)) * DAY
        stop_at = math.inf
        delete = False
        if rng.random() < 0.01:
            stop_at = self.origin - rng.uniform(0.1, max(0.1, history_days - 0.5)) * DAY
            delete = rng.random() < 0.5
        quiet_from = math.inf  # a silent server: no job from then on, and no DisableBackup either
        if role in ("stopped", "soft-deleted"):
            stop_at = self.origin - rng.uniform(0.3, max(0.3, history_days - 0.5)) * DAY
            delete = role == "soft-deleted"
        elif role == "never":
            protected_from = self.origin - rng.uniform(0.02, 0.08) * DAY
        elif role == "silent":  # keeps at least a day and a half of backups before it goes quiet
            quiet_from = self.origin - min(rng.uniform(2.0, 4.0), max(0.5, history_days - 1.5)) * DAY
        starts: list[tuple[float, str, bool]] = []
        if protected_from > history_start:
            starts.append((protected_from, "ConfigureBackup", True))
        schedule = entity.policy.schedule if entity.policy else None
        if schedule is not None:
            run = schedule.next_run(history_start - DAY)
            while run < self.origin:
                starts.append((run + rng.uniform(0, SCHEDULE_JITTER), "", False))
                run = schedule.next_run(run)
        first_day = math.floor(history_start / DAY)
        last_day = math.floor(self.origin / DAY)
        for day in range(first_day - 1, last_day + 1):
            day_start = day * DAY
            if rng.random() < 0.02:
                starts.append((day_start + rng.uniform(8, 17) * 3600.0, "", True))
            if rng.random() < 0.01:
                starts.append((day_start + rng.uniform(8, 17) * 3600.0, restore_operation(entity), True))
        if entity.kind.has_log_backups:
            interval = self.config.log_backup_interval_hours * 3600.0
            moment = math.floor(history_start / interval) * interval + entity.log_offset
            while moment < self.origin:
                starts.append((moment, "Backup (Log)", False))
                moment += interval
        if stop_at < math.inf:
            starts.append((stop_at, "DisableBackup", True))
            if delete:
                starts.append((stop_at + 120.0, "DeleteBackupData", True))
        running = []
        initial_pending = False
        for start, operation, user in sorted(starts):
            if not (max(history_start, protected_from) <= start < min(self.origin, quiet_from)):
                continue
            if start > stop_at and operation not in ("DisableBackup", "DeleteBackupData"):
                continue
            if operation == "Backup (Log)" and (initial_pending or start < entity.busy_until):
                continue  # no log chain before the first full backup has finished
            scale = 1.0
            if not operation:
                if start < entity.busy_until:
                    continue
                operation = operation_for(entity, start, False)
                if initial_pending:
                    initial_pending, scale = False, INITIAL_BACKUP_SCALE
                    if entity.kind.has_log_backups:
                        operation = "Backup (Full)"
            job = self.create(entity, operation, start, user, rng, self.origin, scale)
            if scale != 1.0:
                entity.busy_until = job.planned_end or job.end or start
            initial_pending = initial_pending or operation == "ConfigureBackup"
            vault.jobs.append(job)
            if job.running:
                running.append(job)
        if stop_at < self.origin:
            entity.active = False
            entity.stopped_at = stop_at
            if delete and stop_at + 120.0 < self.origin:
                entity.deleted_at = stop_at + 120.0
                entity.purged = vault.settings.get("soft_delete") == "Disabled"
        if quiet_from < self.origin:
            entity.active = False
        return running

    def _vault_job(self, vault: Vault, rng: random.Random) -> list[Job]:
        entity = Entity(vault, KINDS["vault"], vault.name, vault.name, None, 0.0)
        vault.entities["\0vault"] = entity
        entity.active = False
        entity.injected = True  # a vault-level job, not a protected item
        start = self.origin - rng.uniform(0.2, max(0.2, self.config.history_days)) * DAY
        job = self.create(entity, "UpdateCustomerManagedKey", start, True, rng, self.origin)
        vault.jobs.append(job)
        return [job] if job.running else []

    def create(
        self,
        entity: Entity,
        operation: str,
        start: float,
        user_triggered: bool,
        rng: random.Random,
        now: float,
        duration_scale: float = 1.0,
    ) -> Job:
        """A job planned from `start`: finished if its planned end is before `now`, else running.

        A running job keeps its planned outcome (status, size, error) until the clock reaches its end.
        """
        outcome = self.planner.plan(rng, entity.kind, operation, duration_scale)
        end = start + outcome.duration
        job = Job(
            self.next_seq(),
            as_uuid4(rng.getrandbits(128)),
            entity,
            operation,
            outcome.status,
            start,
            end,
            outcome.size,
            outcome.error,
            user_triggered,
        )
        job.hidden = hidden_from_list(entity, operation, user_triggered)
        if end > now:
            job.status, job.end = "InProgress", None
            job.planned_end, job.planned_status = end, outcome.status
        return job
