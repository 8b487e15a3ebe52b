"""The live estate: vaults and jobs in memory, a clock, and the schedule that starts and finishes jobs.

Time advances lazily: every request first applies the schedule events due by now (`advance`), so no
background thread is needed and a test can move the clock forward through the control API.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import threading
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from .catalog import JOB_TYPE_KIND, KINDS, MANAGEMENT_TYPE_KIND, ErrorSpec
from .config import SimulatorConfig
from .filters import JobFilter
from .generator import SCHEDULE_JITTER, HistoryBuilder, Planner, operation_for, subscription_ids
from .model import Entity, Job, Vault, as_uuid4

_FINISH, _SCHEDULED, _LOG = 0, 1, 2
SETTING_VALUES: dict[str, tuple[str, ...] | str] = {
    "soft_delete": ("Enabled", "Disabled", "AlwaysON"),
    "soft_delete_retention_days": "days",
    "enhanced_security": ("Enabled", "Disabled", "AlwaysON"),
    "immutability": ("Disabled", "Unlocked", "Locked"),
    "multi_user_authorization": ("Enabled", "Disabled"),
    "public_network_access": ("Enabled", "Disabled"),
    "storage_redundancy": ("GeoRedundant", "LocallyRedundant", "ZoneRedundant"),
    "cross_region_restore": ("Enabled", "Disabled"),
}
"""The vault settings the control API changes, with their values as Azure writes them."""
CANCEL_SECONDS = 2.0
"""How long a cancelled job stays `Cancelling` before it becomes `Cancelled`."""
EXPORT_SECONDS = 2.0
"""How long a jobs export runs before its report is ready."""


class Clock:
    """Simulated UTC time: starts at the configured origin, runs in real time, can be moved forward."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self._monotonic_start = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        return self.origin + (time.monotonic() - self._monotonic_start) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


class EstateError(Exception):
    """A request the estate cannot satisfy; `status` and `code` become the ARM-shaped answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class Operation:
    """An asynchronous operation (a cancellation, or an on-demand backup) and the job it acts on."""

    job: Job
    vault: Vault
    started: float
    kind: str = "cancel"

    @property
    def done(self) -> bool:
        """A backup request succeeds once its job exists; a cancellation once the job has stopped."""
        return self.kind == "backup" or not self.job.running


@dataclass
class JobsExport:
    """A `backupJobsExport` request: the jobs it matched, rendered when asked (a snapshot, as a report
    file is), and when its report becomes readable."""

    vault: Vault
    ready_at: float
    report: bytes


class Estate:
    """All subscriptions, resource groups, vaults and jobs, guarded by one lock."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        origin = config.start_time.timestamp() if config.start_time else time.time()
        self.clock = Clock(origin)
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self._event_seq = itertools.count()
        self._events: list[tuple[float, int, int, object]] = []
        self._live_rng = random.Random(f"live:{config.seed}")
        self.planner = Planner(config)
        self.builder = HistoryBuilder(config, self.planner, origin, lambda: next(self._seq))
        self.subscriptions: list[str] = subscription_ids(config.seed, config.subscriptions)
        self.resource_groups: dict[str, dict[str, str]] = {sub.lower(): {} for sub in self.subscriptions}
        self.vaults: dict[tuple[str, str, str], Vault] = {}
        self.running: dict[int, Job] = {}
        self.operations: dict[int, Operation] = {}
        self.exports: dict[int, JobsExport] = {}
        self._generate()

    # ---- generation and schedule -------------------------------------------------------------

    def _generate(self) -> None:
        config = self.config
        per_subscription = math.ceil(config.vaults / len(self.subscriptions)) if config.vaults else 0
        groups_per_subscription = max(1, math.ceil(per_subscription / 8))
        origin = self.clock.origin
        for index in range(config.vaults):
            subscription = self.subscriptions[index % len(self.subscriptions)]
            group = f"rg-backup-{(index // len(self.subscriptions)) % groups_per_subscription + 1:02d}"
            self.resource_groups[subscription.lower()].setdefault(group.lower(), group)
            vault, running = self.builder.build_vault(index, subscription, group)
            self.vaults[vault.key] = vault
            for job in running:
                self._track_running(job)
            for entity in vault.entities.values():
                self._schedule_first(entity, origin)

    def _push(self, when: float, kind: int, subject: object) -> None:
        heapq.heappush(self._events, (when, next(self._event_seq), kind, subject))

    def _track_running(self, job: Job) -> None:
        self.running[job.guid] = job
        if job.planned_end is not None:
            self._push(job.planned_end, _FINISH, job)

    def _schedule_first(self, entity: Entity, after: float) -> None:
        if not entity.active:
            return
        fast = self.config.fast_schedule_seconds
        rng = self._live_rng
        target = (entity, entity.epoch)
        if fast:
            self._push(after + rng.uniform(0, fast), _SCHEDULED, target)
            if entity.kind.has_log_backups:
                self._push(after + rng.uniform(0, fast / 3), _LOG, target)
            return
        if entity.policy is not None:
            self._push(self._next_run(entity, after), _SCHEDULED, target)
        if entity.kind.has_log_backups:
            interval = self.config.log_backup_interval_hours * 3600.0
            self._push(math.floor(after / interval) * interval + interval + entity.log_offset, _LOG, target)

    def _next_run(self, entity: Entity, after: float) -> float:
        """The start of the item's next scheduled backup: its policy's next run, plus a jitter."""
        assert entity.policy is not None
        run = entity.policy.schedule.next_run(after)
        return run + self._live_rng.uniform(0, SCHEDULE_JITTER)

    def advance(self) -> float:
        """Apply every schedule event due by now; returns now. Call with the lock held."""
        now = self.clock.now()
        events = self._events
        while events and events[0][0] <= now:
            when, _, kind, subject = heapq.heappop(events)
            if kind == _FINISH:
                self._finish_planned(subject, when)  # type: ignore[arg-type]
            else:
                self._start_scheduled(subject, when, kind == _LOG, now)  # type: ignore[arg-type]
        return now

    def _finish_planned(self, job: Job, when: float) -> None:
        if not job.running or job.planned_end != when:
            return
        job.status, job.end = job.planned_status or "Completed", when
        if job.status not in ("Failed", "CompletedWithWarnings"):
            job.error = None
        job.planned_end = job.planned_status = None
        self.running.pop(job.guid, None)

    def _start_scheduled(self, target: tuple[Entity, int], when: float, log_backup: bool, now: float) -> None:
        entity, epoch = target
        if not entity.active or epoch != entity.epoch:
            return
        fast = self.config.fast_schedule_seconds
        operation = operation_for(entity, when, log_backup)
        scale = 1.0
        if fast:
            period = fast / 3 if log_backup else fast
            # the job runs for up to 60 % of its period, whatever its real-life duration
            scale = 0.6 * period / (self.planner.minutes(entity.kind, operation)[1] * 60.0)
            next_time = when + period
        elif log_backup:
            next_time = when + self.config.log_backup_interval_hours * 3600.0
        else:
            run = entity.policy.schedule.run_at_or_before(when) if entity.policy else None
            next_time = self._next_run(entity, run if run is not None else when)
        if when < entity.busy_until:
            # the initial backup still runs: this one (and any log backup) is skipped
            self._push(next_time, _LOG if log_backup else _SCHEDULED, target)
            return
        job = self.builder.create(entity, operation, when, False, self._live_rng, now, scale)
        entity.vault.add_job(job)
        if job.running:
            self._track_running(job)
        self._push(next_time, _LOG if log_backup else _SCHEDULED, target)

    # ---- lookups -----------------------------------------------------------------------------

    def find_vault(self, subscription: str, resource_group: str, name: str) -> Vault:
        """The vault, or the ARM error a missing subscription, group or vault gets."""
        groups = self.resource_groups.get(subscription.lower())
        if groups is None:
            raise EstateError(
                404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found."
            )
        if resource_group.lower() not in groups:
            raise EstateError(
                404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found."
            )
        vault = self.vaults.get((subscription.lower(), resource_group.lower(), name.lower()))
        if vault is None:
            raise EstateError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.RecoveryServices/vaults/{name}' under resource group "
                f"'{resource_group}' was not found. For more details please go to "
                "https://aka.ms/ARMResourceNotFoundFix",
            )
        return vault

    def vault_by_id(self, resource_id: str) -> Vault:
        parts = [part for part in resource_id.strip().split("/") if part]
        lowered = [part.lower() for part in parts]
        if (
            len(parts) != 8
            or lowered[0] != "subscriptions"
            or lowered[2] != "resourcegroups"
            or lowered[4] != "providers"
            or lowered[5] != "microsoft.recoveryservices"
            or lowered[6] != "vaults"
        ):
            raise EstateError(
                400, "InvalidResourceId", f"'{resource_id}' is not a Recovery Services vault id."
            )
        return self.find_vault(parts[1], parts[3], parts[7])

    def find_job(self, vault: Vault, job_name: str) -> Job:
        guid = parse_guid(job_name)
        job = vault.find_job(guid) if guid is not None else None
        if job is None or (job.hidden and not self.config.list_hidden_scheduled_jobs):
            raise EstateError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.RecoveryServices/vaults/{vault.name}/backupJobs/{job_name}' "
                f"under resource group '{vault.resource_group}' was not found.",
            )
        return job

    def find_job_anywhere(self, job_name: str) -> Job:
        guid = parse_guid(job_name)
        if guid is not None:
            if guid in self.running:
                return self.running[guid]
            for vault in self.vaults.values():
                job = vault.find_job(guid)
                if job is not None:
                    return job
        raise EstateError(404, "ResourceNotFound", f"No job named '{job_name}' in the simulated estate.")

    def list_jobs(
        self, vault: Vault, job_filter: JobFilter, resume: tuple[float, int] | None, limit: int
    ) -> tuple[list[Job], tuple[float, int] | None]:
        """A page of jobs, newest first, and the (start, seq) key where the next page resumes (or None)."""
        starts, jobs = vault.starts, vault.jobs
        low = 0 if job_filter.window_start is None else bisect_left(starts, job_filter.window_start)
        high = len(jobs) if job_filter.window_end is None else bisect_right(starts, job_filter.window_end)
        if resume is not None:
            start, seq = resume
            position = bisect_right(starts, start)
            while position > 0 and starts[position - 1] == start and jobs[position - 1].seq > seq:
                position -= 1
            high = min(high, position)
        page: list[Job] = []
        index = high - 1
        show_hidden = self.config.list_hidden_scheduled_jobs
        while index >= low:
            job = jobs[index]
            if (show_hidden or not job.hidden) and job_filter.matches(job):
                if len(page) == limit:
                    return page, (job.start, job.seq)
                page.append(job)
            index -= 1
        return page, None

    def visible_vaults(self, hidden: set[str]) -> list[Vault]:
        return [vault for vault in self.vaults.values() if vault.resource_id.lower() not in hidden]

    # ---- changes from the control API and the cancel route ------------------------------------

    def add_vault(self, subscription: str, resource_group: str, name: str) -> Vault:
        key = (subscription.lower(), resource_group.lower(), name.lower())
        if key in self.vaults:
            raise EstateError(409, "Conflict", f"Vault '{name}' already exists.")
        if subscription.lower() not in self.resource_groups:
            self.subscriptions.append(subscription)
            self.resource_groups[subscription.lower()] = {}
        self.resource_groups[subscription.lower()].setdefault(resource_group.lower(), resource_group)
        vault = Vault(subscription, resource_group, name, "westeurope", False, self.clock.now())
        self.vaults[key] = vault
        return vault

    def inject_job(
        self,
        vault: Vault,
        entity_name: str,
        operation: str,
        status: str,
        start: float,
        end: float | None,
        size: int,
        extra: dict,
    ) -> Job:
        """A job exactly as asked; running jobs stay running until finished through the control API."""
        entity = vault.entities.get(entity_name.lower())
        if entity is None:
            kind_key = (
                JOB_TYPE_KIND.get(extra.get("job_type") or "")
                or MANAGEMENT_TYPE_KIND.get(extra.get("backup_management_type") or "")
                or "vm"
            )
            entity = Entity(vault, KINDS[kind_key], entity_name, entity_name, None, 0.0)
            entity.active = False
            entity.injected = True
            vault.entities[entity_name.lower()] = entity
        error = None
        if extra.get("error_code") is not None or extra.get("error_title"):
            base = entity.kind.errors[0]
            error = ErrorSpec(
                int(extra.get("error_code") or 0),
                str(extra.get("error_title") or base.title),
                base.message,
                base.recommendation,
            )
        job = Job(
            next(self._seq),
            as_uuid4(self._live_rng.getrandbits(128)),
            entity,
            operation,
            status,
            start,
            end,
            size,
            error,
            bool(extra.get("user_triggered", False)),
        )
        job.extra = {key: value for key, value in extra.items() if value is not None} or None
        vault.add_job(job)
        if job.running:
            self.running[job.guid] = job
        return job

    def finish_job(self, job: Job, status: str, size: int | None, error_code: int | None) -> Job:
        if not job.running:
            raise EstateError(409, "Conflict", f"Job '{job.name}' has already finished ({job.status}).")
        job.status, job.end = status, max(self.clock.now(), job.start)
        job.planned_end = job.planned_status = None
        if size is not None:
            job.size = size
        if status == "Failed":
            base = job.error or job.entity.kind.errors[0]
            job.error = ErrorSpec(
                error_code if error_code is not None else base.code,
                base.title,
                base.message,
                base.recommendation,
            )
        elif status == "CompletedWithWarnings" and job.entity.kind.warnings:
            job.error = job.entity.kind.warnings[0]
        else:
            job.error = None
        self.running.pop(job.guid, None)
        return job

    def cancel_job(self, vault: Vault, job: Job) -> int:
        """Start cancelling a running job; returns the operation id that tracks it."""
        if not job.running:
            raise EstateError(
                400,
                "BMSUserErrorJobNotCancellable",
                f"Job '{job.name}' cannot be cancelled: it is {job.status}.",
            )
        now = self.clock.now()
        job.status, job.planned_status = "Cancelling", "Cancelled"
        job.planned_end = now + CANCEL_SECONDS
        self._push(job.planned_end, _FINISH, job)
        operation_id = as_uuid4(self._live_rng.getrandbits(128))
        self.operations[operation_id] = Operation(job, vault, now)
        return operation_id

    def trigger_backup(self, vault: Vault, protected_item: str) -> int:
        """An on-demand backup of a protected item (`VM;iaasvmcontainerv2;rg;name`: the last part names it);
        returns the operation id whose status hands back the new job's id."""
        entity = vault.entities.get(protected_item.rsplit(";", 1)[-1].lower())
        if entity is None:
            raise EstateError(
                404,
                "ResourceNotFound",
                f"The protected item '{protected_item}' was not found in vault '{vault.name}'.",
            )
        now = self.clock.now()
        job = self.builder.create(entity, operation_for(entity, now, False), now, True, self._live_rng, now)
        vault.add_job(job)
        self._track_running(job)
        operation_id = as_uuid4(self._live_rng.getrandbits(128))
        self.operations[operation_id] = Operation(job, vault, now, "backup")
        return operation_id

    def protected_item(self, vault: Vault, name: str) -> Entity:
        """A protected item by friendly name (or its item name's last `;` part), as Azure lists it."""
        entity = vault.entities.get(name.rsplit(";", 1)[-1].lower())
        if entity is None or entity.injected or entity.purged:
            raise EstateError(
                404, "ResourceNotFound", f"The protected item '{name}' was not found in vault '{vault.name}'."
            )
        return entity

    def stop_protection(self, entity: Entity, delete_data: bool) -> list[Job]:
        """Stop protection (a DisableBackup job; data retained), and with `delete_data` delete the data
        (a DeleteBackupData job): the item is then soft-deleted, or gone if the vault's soft delete is off."""
        if entity.deleted_at is not None:
            raise EstateError(409, "Conflict", f"The data of '{entity.name}' is already deleted.")
        if entity.stopped_at is not None and not delete_data:
            raise EstateError(409, "Conflict", f"Protection of '{entity.name}' is already stopped.")
        now = self.clock.now()
        jobs = []
        if entity.stopped_at is None:
            jobs.append(self._user_job(entity, "DisableBackup", now))
            entity.stopped_at = now
        entity.active = False
        if delete_data:
            jobs.append(self._user_job(entity, "DeleteBackupData", now))
            entity.deleted_at = now
            entity.purged = entity.vault.settings.get("soft_delete") == "Disabled"
        return jobs

    def resume_protection(self, entity: Entity) -> Job:
        """Resume a stopped (or soft-deleted: undeleted first) item's protection under its policy."""
        if entity.stopped_at is None:
            raise EstateError(409, "Conflict", f"Protection of '{entity.name}' is not stopped.")
        now = self.clock.now()
        entity.stopped_at = entity.deleted_at = None
        entity.active = True
        entity.epoch += 1
        job = self._user_job(entity, "ConfigureBackup", now)
        self._schedule_first(entity, now)
        return job

    @staticmethod
    def update_settings(vault: Vault, changes: dict) -> None:
        """Change a vault's settings as its owner (or an attacker with its rights) could: what Azure makes
        irreversible (soft delete or enhanced security AlwaysON, immutability Locked) refuses with 409."""
        cleaned = {}
        for key, value in changes.items():
            allowed = SETTING_VALUES.get(key)
            if allowed is None:
                raise ValueError(f"unknown setting '{key}'; known: {', '.join(SETTING_VALUES)}")
            if allowed == "days":
                if isinstance(value, bool) or not isinstance(value, int) or not 14 <= value <= 180:
                    raise ValueError(f"'{key}' must be a whole number of days from 14 to 180")
            elif value not in allowed:
                raise ValueError(f"'{key}' must be one of {', '.join(allowed)}")
            cleaned[key] = value
        for key, locked in (
            ("soft_delete", "AlwaysON"),
            ("enhanced_security", "AlwaysON"),
            ("immutability", "Locked"),
        ):
            if key in cleaned and vault.settings.get(key) == locked and cleaned[key] != locked:
                raise EstateError(
                    409, "Conflict", f"'{key}' is {locked} on vault '{vault.name}': it cannot be changed."
                )
        vault.settings.update(cleaned)

    def _user_job(self, entity: Entity, operation: str, now: float) -> Job:
        job = self.builder.create(entity, operation, now, True, self._live_rng, now)
        if job.running and job.planned_status != "Completed":
            job.planned_status = "Completed"  # a protection change the test asked for succeeds
            job.error = None
        elif not job.running and job.status != "Completed":
            job.status, job.error = "Completed", None
        entity.vault.add_job(job)
        if job.running:
            self._track_running(job)
        return job

    def add_export(self, vault: Vault, report: bytes) -> int:
        """Register a jobs export whose report is ready after EXPORT_SECONDS; returns its operation id."""
        operation_id = as_uuid4(self._live_rng.getrandbits(128))
        self.exports[operation_id] = JobsExport(vault, self.clock.now() + EXPORT_SECONDS, report)
        return operation_id


def parse_guid(text: str) -> int | None:
    cleaned = text.strip().replace("-", "")
    if len(cleaned) != 32:
        return None
    try:
        return int(cleaned, 16)
    except ValueError:
        return None
