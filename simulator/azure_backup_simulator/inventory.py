"""Protected items as Azure lists them (ProtectedItemResource), their state read from the item's own jobs.

Nothing is stored twice: at each listing, one pass over the vault's jobs (hidden scheduled ones included:
they made recovery points) finds each item's newest finished backup and newest successful one, so the
item moves with the simulated clock exactly as its jobs do. Shapes follow the recordings per
`protectedItemType` (tests/fixtures/recorded-inventory-shapes.json):

- VMs: `lastBackupTime` always, `2001-01-01T00:00:00Z` with status `""` before the first backup;
  `lastRecoveryPoint` a few seconds after the newest successful backup started (the snapshot); a failed
  backup sets `lastBackupStatus: Failed` and `healthStatus: ActionRequired` and keeps the older point.
- File shares: no `lastBackupTime` before the first backup (`IRPending`), no `lastRecoveryPoint` ever.
- SQL / SAP HANA: status Healthy / Unhealthy / IRPending. `lastBackupTime` is the newest Full or
  Differential backup, `lastRecoveryPoint` the newest successful backup of any kind, log backups included
  (recorded: a HANA item whose recovery point is 15 minutes newer than its last backup time). SQL points
  in whole seconds, HANA in milliseconds, as recorded.
- Stopped items (DisableBackup): `ProtectionStopped`, VMs with `policyId`/`policyName` `""`, others with
  no `policyId`. Soft-deleted items (DeleteBackupData while the vault's soft delete is on) add
  `isScheduledForDeferredDelete`; with soft delete off they are gone.
- MARS (never recorded after 2017) and DPM/MABS (never recorded) follow the spec.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from .catalog import FINAL_STATUSES
from .model import Entity, Job, Vault
from .timefmt import format_timespan, format_timestamp

ITEM_RESOURCE_TYPE = "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems"
NEVER = "2001-01-01T00:00:00Z"
"""What a VM never backed up says as its lastBackupTime (recorded)."""
ARM_HOST = "https://management.azure.com"
"""Items' `vaultId` is an absolute URL on the public cloud's ARM (recorded)."""
SOFT_DELETE_SECONDS = 14 * 86400.0
"""How long a soft-deleted item stays listed (recorded: `deferredDeleteTimeRemaining` 13.23:59:39)."""
_GOOD = ("Completed", "CompletedWithWarnings")
_VM_KINDS = ("vm", "vm-enhanced")
_WORKLOAD_KINDS = ("sql", "hana")
_GREEN = {
    "code": 400239,
    "title": "IaasVmHealthGreenDefault",
    "message": "Backup pre-check status of this virtual machine is OK.",
    "recommendations": [],
}


@dataclass
class ItemState:
    """What an item's finished backups say: the newest one (any outcome), the newest that made a
    recovery point (of any kind, and of a non-log kind), the oldest recovery point and how many."""

    last: Job | None = None
    last_full_or_diff: Job | None = None
    good: Job | None = None
    oldest_good: Job | None = None
    points: int = 0
    failures: list[Job] = field(default_factory=list)


def listed_entities(vault: Vault, now: float) -> list[Entity]:
    """The items Azure lists: generated ones, less those deleted for good (soft delete off, or its
    retention over). Items made up for injected jobs and vault-level jobs are not protected items."""
    out = []
    for entity in vault.entities.values():
        if entity.injected or entity.purged:
            continue
        if entity.deleted_at is not None and now >= entity.deleted_at + SOFT_DELETE_SECONDS:
            continue
        out.append(entity)
    return out


def item_states(vault: Vault) -> dict[int, ItemState]:
    """Each entity's state (keyed by id(entity)) from one pass over the vault's jobs, oldest first."""
    states: dict[int, ItemState] = {}
    for job in vault.jobs:
        if job.status not in FINAL_STATUSES or not job.operation.startswith("Backup"):
            continue
        state = states.get(id(job.entity))
        if state is None:
            state = states[id(job.entity)] = ItemState()
        state.last = job
        if job.operation != "Backup (Log)":
            state.last_full_or_diff = job
        if job.status in _GOOD:
            state.good = job
            state.points += 1
            if state.oldest_good is None:
                state.oldest_good = job
    return states


def recovery_point_time(job: Job) -> float:
    """When the job's recovery point was taken: a few seconds after it started (VM snapshot, recorded
    about 4 s), the same for the other kinds."""
    return job.start + 4.0 + (job.guid % 997) / 1000.0


def _whole_seconds(moment: float) -> str:
    return format_timestamp(float(int(moment)))[:19] + "Z"


def _milliseconds(moment: float) -> str:
    text = format_timestamp(moment)
    return text[:23] + "Z" if "." in text else text


def _names(entity: Entity) -> dict[str, str]:
    """Container and item names per kind, as recorded (lower-case resource groups and hosts)."""
    vault = entity.vault
    group = f"rg-{vault.location}-workloads"
    name = entity.name.lower()
    key = entity.kind.key
    if key in _VM_KINDS:
        container = f"iaasvmcontainerv2;{group};{name}"
        return {
            "container": f"IaasVMContainer;{container}",
            "short": container,
            "item": f"VM;{container}",
            "group": group,
        }
    if key == "files":
        account = "st" + "".join(ch for ch in vault.name if ch.isalnum())[:20]
        container = f"storage;{group};{account}"
        digest = hashlib.sha256(f"{vault.resource_id}/{name}".encode()).hexdigest()
        return {
            "container": f"StorageContainer;{container}",
            "short": f"StorageContainer;{container}",
            "item": f"AzureFileShare;{digest}",
            "group": group,
            "account": account,
        }
    if key in _WORKLOAD_KINDS:
        container = f"VMAppContainer;compute;{group};{entity.host.lower()}"
        prefix = "SQLDataBase;mssqlserver" if key == "sql" else f"SAPHanaDatabase;{_sid(entity).lower()}"
        return {"container": container, "short": container, "item": f"{prefix};{name}", "group": group}
    container = f"Windows;{entity.host.lower()}" if key == "mars" else f"DPMContainer;{entity.host.lower()}"
    return {"container": container, "short": container, "item": name, "group": group}


def _sid(entity: Entity) -> str:
    """A SAP HANA system id: the database's name prefix (`hxe-02` in system `HXE`)."""
    return entity.name.split("-", 1)[0].upper()


def render_item(entity: Entity, state: ItemState | None, now: float) -> dict:
    """The ProtectedItemResource of `entity` at `now`."""
    state = state or ItemState()
    vault = entity.vault
    names = _names(entity)
    item_id = (
        f"{vault.resource_id}/backupFabrics/Azure/protectionContainers/{names['container']}"
        f"/protectedItems/{names['item']}"
    )
    key = entity.kind.key
    if key in _VM_KINDS:
        properties = _vm_properties(entity, state, names)
    elif key == "files":
        properties = _share_properties(entity, state, names)
    elif key in _WORKLOAD_KINDS:
        properties = _workload_properties(entity, state, names)
    elif key == "mars":
        properties = _mars_properties(entity, state, names)
    else:
        properties = _dpm_properties(entity, state, names)
    if key in _VM_KINDS or key == "files" or key in _WORKLOAD_KINDS:
        properties["vaultId"] = ARM_HOST + vault.resource_id
    if entity.deleted_at is not None:
        properties["deferredDeleteTimeInUTC"] = format_timestamp(entity.deleted_at)
        properties["isScheduledForDeferredDelete"] = True
        remaining = max(0.0, entity.deleted_at + SOFT_DELETE_SECONDS - now)
        properties["deferredDeleteTimeRemaining"] = format_timespan(remaining)
    if key in _VM_KINDS or key == "files" or key in _WORKLOAD_KINDS:
        properties["isArchiveEnabled"] = False
        properties["softDeleteRetentionPeriod"] = int(vault.settings.get("soft_delete_retention_days") or 0)
    return {"id": item_id, "name": names["item"], "type": ITEM_RESOURCE_TYPE, "properties": properties}


def _policy_id(entity: Entity) -> str:
    assert entity.policy is not None
    return f"{entity.vault.resource_id}/backupPolicies/{entity.policy.name}"


def _protection_state(entity: Entity, state: ItemState) -> str:
    if entity.stopped_at is not None:
        return "ProtectionStopped"
    return "Protected" if state.good is not None else "IRPending"


def _failed(job: Job | None) -> bool:
    return job is not None and job.status == "Failed"


def _vm_properties(entity: Entity, state: ItemState, names: dict[str, str]) -> dict:
    vm_id = (
        f"/subscriptions/{entity.vault.subscription}/resourceGroups/{names['group']}"
        f"/providers/Microsoft.Compute/virtualMachines/{entity.name}"
    )
    last = state.last
    health = "Passed"
    details: list[dict] | None = [_GREEN] if last is not None else None
    if last is not None and last.status in ("Failed", "CompletedWithWarnings") and last.error is not None:
        health = "ActionRequired" if last.status == "Failed" else "ActionSuggested"
        details = [
            {
                "code": last.error.code,
                "title": last.error.title,
                "message": last.error.message,
                "recommendations": [last.error.recommendation],
            }
        ]
    properties: dict = {
        "friendlyName": entity.name,
        "virtualMachineId": vm_id,
        "protectionStatus": "Unhealthy" if _failed(last) else "Healthy",
        "protectionState": _protection_state(entity, state),
        "healthStatus": health,
    }
    if details is not None:
        properties["healthDetails"] = details
    properties["lastBackupStatus"] = last.status if last is not None else ""
    properties["lastBackupTime"] = format_timestamp(last.start) if last is not None else NEVER
    properties["protectedItemDataId"] = str(_data_id(entity))
    properties.update(
        {
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "backupManagementType": "AzureIaasVM",
            "workloadType": "VM",
            "containerName": names["short"],
            "sourceResourceId": vm_id,
        }
    )
    stopped = entity.stopped_at is not None or entity.policy is None
    properties["policyId"] = "" if stopped else _policy_id(entity)
    properties["policyName"] = "" if stopped else entity.policy.name  # type: ignore[union-attr]
    if state.good is not None:
        properties["lastRecoveryPoint"] = format_timestamp(recovery_point_time(state.good))
    return properties


def _share_properties(entity: Entity, state: ItemState, names: dict[str, str]) -> dict:
    last = state.last
    properties: dict = {
        "friendlyName": entity.name,
        "protectionStatus": "Unhealthy" if _failed(last) else "Healthy",
        "protectionState": _protection_state(entity, state),
        "lastBackupStatus": last.status if last is not None else "IRPending",
    }
    if last is not None:
        properties["lastBackupTime"] = format_timestamp(last.start)
    properties.update(
        {
            "protectedItemType": "AzureFileShareProtectedItem",
            "backupManagementType": "AzureStorage",
            "workloadType": "AzureFileShare",
            "containerName": names["short"],
            "sourceResourceId": (
                f"/subscriptions/{entity.vault.subscription}/resourceGroups/{names['group']}"
                f"/providers/Microsoft.storage/storageAccounts/{names['account']}"
            ),
        }
    )
    if entity.stopped_at is None and entity.policy is not None:
        properties["policyId"] = _policy_id(entity)
    return properties


def _workload_properties(entity: Entity, state: ItemState, names: dict[str, str]) -> dict:
    sql = entity.kind.key == "sql"
    last = state.last_full_or_diff
    if state.good is None:
        status = "IRPending"
    else:
        status = "Unhealthy" if _failed(state.last) else "Healthy"
    properties: dict = {
        "friendlyName": entity.name,
        "serverName": entity.host,
        "parentName": "MSSQLSERVER" if sql else _sid(entity),
        "parentType": "AzureVmWorkloadSQLInstance" if sql else "AzureVmWorkloadSAPHanaSystem",
        "protectionStatus": "Unhealthy" if status == "Unhealthy" else "Healthy",
        "protectionState": _protection_state(entity, state),
        "lastBackupStatus": status,
    }
    if last is not None:
        properties["lastBackupTime"] = format_timestamp(last.start)
    if status == "IRPending":
        properties["lastBackupErrorDetail"] = {"code": "Success", "message": ""}
    elif status == "Unhealthy" and state.last is not None and state.last.error is not None:
        error = state.last.error
        properties["lastBackupErrorDetail"] = {
            "code": error.title,
            "message": error.message,
            "recommendations": [error.recommendation],
        }
    stamp = _whole_seconds if sql else _milliseconds
    info: dict = {}
    if state.oldest_good is not None:
        info["oldestRecoveryPoint"] = stamp(recovery_point_time(state.oldest_good))
    info["recoveryPointCount"] = state.points
    info["policyState"] = "Consistent"
    if sql:
        info["recoveryModel"] = "FULL"
    properties.update(
        {
            "protectedItemDataSourceId": str(_data_id(entity)),
            "protectedItemHealthStatus": status,
            "extendedInfo": info,
            "protectedItemType": "AzureVmWorkloadSQLDatabase" if sql else "AzureVmWorkloadSAPHanaDatabase",
            "backupManagementType": "AzureWorkload",
            "workloadType": "SQLDataBase" if sql else "SAPHanaDatabase",
            "containerName": names["short"],
            "sourceResourceId": (
                f"/subscriptions/{entity.vault.subscription}/resourceGroups/{names['group']}"
                f"/providers/Microsoft.Compute/virtualMachines/{entity.host}"
            ),
        }
    )
    if entity.stopped_at is None and entity.policy is not None:
        properties["policyId"] = _policy_id(entity)
    if state.good is not None:
        properties["lastRecoveryPoint"] = stamp(recovery_point_time(state.good))
    return properties


def _mars_properties(entity: Entity, state: ItemState, names: dict[str, str]) -> dict:
    """MabFileFolderProtectedItem: the recorded keys (2017), plus the spec's lastBackupTime and
    extendedInfo, without which a server gone silent could not be told apart."""
    last = state.last
    properties: dict = {
        "friendlyName": entity.name,
        "computerName": entity.host,
        "lastBackupStatus": last.status if last is not None else "IRPending",
    }
    if last is not None:
        properties["lastBackupTime"] = format_timestamp(last.start)
    if entity.stopped_at is not None:
        properties["protectionState"] = "ProtectionStopped"
    else:
        properties["protectionState"] = "Healthy" if state.good is not None else "IRPending"  # recorded
    properties.update(
        {
            "protectedItemType": "MabFileFolderProtectedItem",
            "backupManagementType": "MAB",
            "workloadType": "FileFolder",
            "containerName": names["short"],
        }
    )
    info: dict = {"lastRefreshedAt": format_timestamp(last.end or last.start) if last is not None else NEVER}
    if state.oldest_good is not None:
        info["oldestRecoveryPoint"] = format_timestamp(recovery_point_time(state.oldest_good))
    info["recoveryPointCount"] = state.points
    properties["extendedInfo"] = info
    return properties


def _dpm_properties(entity: Entity, state: ItemState, names: dict[str, str]) -> dict:
    """DPMProtectedItem as the spec writes it (never recorded): the last status in extendedInfo."""
    last = state.last
    properties: dict = {
        "friendlyName": entity.name,
        "backupEngineName": entity.host,
        "protectionState": _protection_state(entity, state),
        "protectedItemType": "DPMProtectedItem",
        "backupManagementType": entity.kind.backup_management_type,
        "workloadType": entity.kind.workload_type,
        "containerName": names["short"],
    }
    info: dict = {
        "protectableObjectLoadPath": {},
        "protected": entity.stopped_at is None,
        "isPresentOnCloud": state.good is not None,
        "lastBackupStatus": last.status if last is not None else "",
        "lastRefreshedAt": format_timestamp(last.end or last.start) if last is not None else NEVER,
        "recoveryPointCount": state.points,
        "protectionGroupName": f"PG-{entity.host.split('.', 1)[0].upper()}",
    }
    if state.oldest_good is not None:
        info["oldestRecoveryPoint"] = format_timestamp(recovery_point_time(state.oldest_good))
    properties["extendedInfo"] = info
    if state.good is not None:
        properties["lastRecoveryPoint"] = format_timestamp(recovery_point_time(state.good))
    return properties


def _data_id(entity: Entity) -> int:
    return int.from_bytes(
        hashlib.sha256(f"{entity.vault.resource_id}/{entity.name}".encode()).digest()[:6], "big"
    )


def policy_item_counts(vault: Vault, entities: list[Entity]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entity in entities:
        if entity.policy is not None and entity.stopped_at is None:
            counts[entity.policy.name] = counts.get(entity.policy.name, 0) + 1
    return counts
