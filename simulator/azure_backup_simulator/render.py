"""Jobs and vaults as ARM JSON, built per page served, shaped as the live service answered in real
recordings (tests/fixtures/recorded-job-shapes.json): the same fields per job type and operation.

The list form carries no `extendedInfo`; the detail form (GET one job) adds it, with `tasksList` and a
`propertyBag` of text: "Backup Size" as whole "N MB" on VM backups, "Data Transferred (in MB)" on Azure
Files (whole) and SQL / SAP HANA (decimals) backups and restores.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import datetime, timezone

from .catalog import ErrorSpec
from .model import Job, Vault, format_guid, job_type, management_type
from .timefmt import format_iso_duration, format_timespan, format_timestamp

JOB_RESOURCE_TYPE = "Microsoft.RecoveryServices/vaults/backupJobs"
VAULT_RESOURCE_TYPE = "Microsoft.RecoveryServices/vaults"
_MB = 1024 * 1024
_VM_TYPES = ("AzureIaaSVMJob", "AzureIaaSVMJobV2")
_STORAGE_TYPES = ("AzureStorageJob", "AzureStorageJobV2")
_WORKLOAD_TYPES = ("AzureWorkloadJob", "AzureWorkloadJobV2")
_HOST_NAMED = ("Backup", "Restore", "CrossRegionRestore", "MoveRecoveryPoint")
"""Operations whose SQL / SAP HANA jobs name the database `db [vm]`; the others name it bare."""
_ASSUMED_RUN_SECONDS = 1800.0
"""Progress of an injected running job (which has no planned end) assumes it runs this long."""


def job_resource_id(job: Job, name: str | None = None) -> str:
    """Job ids as recorded: `/Subscriptions/` (2016-2021) or `/subscriptions/` (2021-2024) before
    `resourceGroups/.../Microsoft.RecoveryServices`; legacy vaults all lower-case, as in 2019."""
    vault = job.entity.vault
    if vault.legacy_format:
        prefix = (
            f"/subscriptions/{vault.subscription}/resourcegroups/{vault.resource_group}"
            f"/providers/microsoft.recoveryservices/vaults/{vault.name}"
        )
    else:
        subscriptions = "subscriptions" if vault.lower_case_subscriptions else "Subscriptions"
        prefix = (
            f"/{subscriptions}/{vault.subscription}/resourceGroups/{vault.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{vault.name}"
        )
    return f"{prefix}/backupJobs/{name or format_guid(job.guid)}"


def render_vault(vault: Vault) -> dict:
    """The vault as `GET .../vaults/{v}` and the vault lists return it: the same properties in both (the
    exporter reads a vault's settings from the list when it discovers vaults by subscription)."""
    created = datetime.fromtimestamp(vault.created, timezone.utc).strftime("%Y-%m-%dT%H%%3A%M%%3A%S.%f")[:-3]
    settings = vault.settings
    return {
        "name": vault.name,
        "type": VAULT_RESOURCE_TYPE,
        "etag": f"W/\"datetime'{created}Z'\"",
        "id": vault.resource_id,
        "location": vault.location,
        "properties": {
            "provisioningState": "Succeeded",
            "privateEndpointStateForBackup": "None",
            "privateEndpointStateForSiteRecovery": "None",
            "backupStorageVersion": "V2",
            "securitySettings": {
                "immutabilitySettings": {"state": settings["immutability"]},
                "softDeleteSettings": {
                    "softDeleteRetentionPeriodInDays": settings["soft_delete_retention_days"],
                    "softDeleteState": settings["soft_delete"],
                    "enhancedSecurityState": settings["enhanced_security"],
                },
                "multiUserAuthorization": settings["multi_user_authorization"],
            },
            "redundancySettings": {
                "standardTierStorageRedundancy": settings["storage_redundancy"],
                "crossRegionRestore": settings["cross_region_restore"],
            },
            "secureScore": "None",
            "bcdrSecurityLevel": "Poor",
            "publicNetworkAccess": settings["public_network_access"],
            "restoreSettings": {
                "crossSubscriptionRestoreSettings": {"crossSubscriptionRestoreState": "Enabled"}
            },
        },
        "sku": {"name": "Standard"},
        "tags": _vault_tags(vault),
    }


def _vault_tags(vault: Vault) -> dict[str, str]:
    """Deterministic tags, so dashboards and tests see tagged vaults as in real estates."""
    environments = ("production", "staging", "development")
    number = sum(vault.name.encode())
    return {"environment": environments[number % 3], "costCenter": f"cc-{1000 + number % 17}"}


def render_job(job: Job, now: float, detail: bool) -> dict:
    """The JobResource JSON of `job` at time `now`; `detail` adds extendedInfo."""
    kind_job_type = job_type(job)
    timespan = _uses_timespan(job)
    properties: dict = {
        "jobType": kind_job_type,
        "duration": _duration((job.end or now) - job.start, timespan),
    }
    if _cancellable(job, kind_job_type):
        integer = timespan or job.entity.vault.integer_actions
        properties["actionsInfo"] = [1] if integer else ["Cancellable"]
    builder = _TYPE_FIELDS.get(kind_job_type, _iaas_fields)
    properties.update(builder(job))
    if job.error is not None and job.status in ("Failed", "CompletedWithWarnings"):
        properties["errorDetails"] = [_ERROR_SHAPES.get(kind_job_type, _iaas_error)(job.error)]
    if detail:
        properties["extendedInfo"] = _extended_info(job, kind_job_type, now, timespan)
    if management_type(job):
        properties["backupManagementType"] = management_type(job)
    properties["entityFriendlyName"] = entity_friendly_name(job, kind_job_type)
    properties["operation"] = job.operation
    properties["status"] = job.status
    properties["startTime"] = format_timestamp(job.start)
    if job.end is not None:
        properties["endTime"] = format_timestamp(job.end)
    properties["activityId"] = format_guid((job.guid * 0x9E3779B97F4A7C15) & ((1 << 128) - 1))
    if job.extra and job.extra.get("properties"):
        properties.update(job.extra["properties"])
    return {
        "id": job_resource_id(job),
        "name": format_guid(job.guid),
        "type": JOB_RESOURCE_TYPE,
        "properties": properties,
    }


def entity_friendly_name(job: Job, kind_job_type: str) -> str:
    """SQL / SAP HANA name one database two ways (recorded 2019 and 2024): `salesdb [sqlvm-01]`
    (HANA upper-case, `SYSTEMDB [vm]`) for backups and restores, bare and lower-case (`salesdb`,
    `systemdb`) for ConfigureBackup, DisableBackup and DeleteBackupData. Injected jobs keep their name."""
    entity = job.entity
    if kind_job_type not in _WORKLOAD_TYPES or entity.host == entity.name or job.extra:
        return entity.name
    if not job.operation.startswith(_HOST_NAMED):
        return entity.name.lower()
    name = entity.name.upper() if entity.kind.key == "hana" else entity.name
    if job.operation == "MoveRecoveryPoint":
        name = name.lower()
    return f"{name} [{entity.host}]"


class RenderedJobs:
    """The list-form JSON of finished jobs, kept in a bounded LRU: a finished job never changes, and
    rendering is what limits page throughput. Running jobs (their duration grows) are never cached."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, bytes] = OrderedDict()

    def list_form(self, job: Job, now: float) -> bytes:
        """Callers hold the estate lock, which also guards this cache."""
        if job.running or self.capacity <= 0:
            return _json_bytes(render_job(job, now, detail=False))
        data = self._items.get(job.seq)
        if data is not None:
            self._items.move_to_end(job.seq)
            return data
        data = _json_bytes(render_job(job, now, detail=False))
        self._items[job.seq] = data
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return data


def _json_bytes(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _uses_timespan(job: Job) -> bool:
    if job.extra and job.extra.get("duration_format"):
        return job.extra["duration_format"] == "timespan"
    return job.entity.vault.legacy_format


def _duration(seconds: float, timespan: bool) -> str:
    return format_timespan(seconds) if timespan else format_iso_duration(seconds)


def _cancellable(job: Job, kind_job_type: str) -> bool:
    """Recorded jobs say Cancellable by operation, whatever their status: VM and SQL/HANA backups and
    restores, Azure Files restores. Kinds never recorded (DPM, MAB, vault) say it while in progress."""
    operation = job.operation
    if kind_job_type in _VM_TYPES or kind_job_type in _WORKLOAD_TYPES:
        return operation.startswith(("Backup", "Restore")) or operation == "CrossRegionRestore"
    if kind_job_type in _STORAGE_TYPES:
        return operation.startswith("Restore")
    return job.running and job.status == "InProgress"


def _container(job: Job) -> str:
    return f"iaasvmcontainerv2;{job.entity.vault.resource_group.lower()};{job.entity.name.lower()}"


def _iaas_fields(job: Job) -> dict:
    return {"containerName": _container(job), "virtualMachineVersion": "Compute"}


def _storage_account(job: Job) -> str:
    return "st" + job.entity.vault.name.replace("-", "")[:20]


def _storage_fields(job: Job) -> dict:
    return {
        "storageAccountName": _storage_account(job),
        "storageAccountVersion": "Storage",
        "isUserTriggered": job.user_triggered,
    }


def _workload_fields(job: Job) -> dict:
    return {
        "workloadType": job.entity.kind.workload_type or "SQLDataBase",
        "isUserTriggered": job.user_triggered,
    }


def _dpm_fields(job: Job) -> dict:
    container_type = (
        "AzureBackupServerContainer" if management_type(job) == "AzureBackupServer" else "DPMContainer"
    )
    return {
        "dpmServerName": job.entity.host,
        "containerName": job.entity.host,
        "containerType": container_type,
        "workloadType": job.entity.kind.workload_type or "VM",
    }


def _mab_fields(job: Job) -> dict:
    return {
        "mabServerName": job.entity.host,
        "mabServerType": "Windows",
        "workloadType": job.entity.kind.workload_type or "FileFolder",
    }


def _no_fields(job: Job) -> dict:
    return {}


_TYPE_FIELDS = {
    "AzureIaaSVMJob": _iaas_fields,
    "AzureIaaSVMJobV2": _iaas_fields,
    "AzureStorageJob": _storage_fields,
    "AzureStorageJobV2": _storage_fields,
    "AzureWorkloadJob": _workload_fields,
    "AzureWorkloadJobV2": _workload_fields,
    "DpmJob": _dpm_fields,
    "MabJob": _mab_fields,
    "VaultJob": _no_fields,
}


def _iaas_error(error: ErrorSpec) -> dict:
    return {
        "errorCode": error.code,
        "errorTitle": error.title,
        "errorString": error.message,
        "recommendations": [error.recommendation],
    }


def _coded_error(error: ErrorSpec) -> dict:
    """Azure Files (recorded) and vault jobs: an integer code, no title."""
    return {"errorCode": error.code, "errorString": error.message, "recommendations": [error.recommendation]}


def _workload_error(error: ErrorSpec) -> dict:
    return {
        "errorCode": error.code,
        "errorString": error.message,
        "errorTitle": error.title,
        "recommendations": [error.recommendation],
    }


def _uncoded_error(error: ErrorSpec) -> dict:
    return {"errorString": error.message, "recommendations": [error.recommendation]}


_ERROR_SHAPES = {
    "AzureIaaSVMJob": _iaas_error,
    "AzureIaaSVMJobV2": _iaas_error,
    "AzureStorageJob": _coded_error,
    "AzureStorageJobV2": _coded_error,
    "AzureWorkloadJob": _workload_error,
    "AzureWorkloadJobV2": _workload_error,
    "DpmJob": _uncoded_error,
    "MabJob": _uncoded_error,
    "VaultJob": _coded_error,
}


def _progress(job: Job, now: float) -> tuple[float, float]:
    """Percent done and seconds remaining of a running job."""
    total = (job.planned_end - job.start) if job.planned_end else _ASSUMED_RUN_SECONDS
    elapsed = max(0.0, now - job.start)
    percent = min(99.0, 100.0 * elapsed / total) if total > 0 else 99.0
    return round(percent, 2), max(0.0, total - elapsed)


def _task_status(job: Job, now: float, first_task: bool) -> str:
    if job.running:
        percent, _ = _progress(job, now)
        if first_task:
            return "InProgress" if percent < 20 else "Completed"
        return "NotStarted" if percent < 20 else "InProgress"
    if job.status in ("Failed", "CompletedWithWarnings"):
        return "Completed" if first_task and (job.guid % 2 or job.status != "Failed") else "Failed"
    if job.status == "Cancelled":
        return "Completed" if first_task else "Cancelled"
    return "Completed"


def _us_time(epoch_seconds: float) -> str:
    """`7/14/2021 12:00:00 AM`, as property bags write times."""
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return f"{moment.month}/{moment.day}/{moment.year} {moment.strftime('%I:%M:%S %p').lstrip('0')}"


def _whole_mb(size: int) -> str:
    return str(size // _MB)


def _decimal_mb(size: int) -> str:
    """SQL / SAP HANA write four decimals: `1680.3164`, `20.1147`; nothing moved is `0`."""
    return f"{size / _MB:.4f}" if size else "0"


def _sized(job: Job) -> int:
    """What a finished job moved; failed and cancelled jobs moved nothing worth counting."""
    return job.size if job.status in ("Completed", "CompletedWithWarnings") else 0


def _extended_info(job: Job, kind_job_type: str, now: float, timespan: bool) -> dict:
    operation, entity = job.operation, job.entity
    finished = not job.running
    bag: dict[str, str] = {}
    info: dict = {"tasksList": []}
    if kind_job_type in _VM_TYPES:
        zero = _duration(0, timespan)
        if operation.startswith("Backup"):
            info["tasksList"] = [
                {"taskId": "Take Snapshot", "duration": zero, "status": _task_status(job, now, True)},
                {
                    "taskId": "Transfer data to vault",
                    "duration": zero,
                    "status": _task_status(job, now, False),
                },
            ]
            bag["VM Name"] = entity.name
            if finished:
                bag["Recovery Point Expiry Time in UTC"] = _us_time((job.start // 86400 + 31) * 86400)
                bag["Backup Size"] = f"{_sized(job) // _MB} MB"
            info["internalPropertyBag"] = {"IsInstantRpJob": "True"}
        elif operation.startswith("Restore"):
            if finished:
                info["tasksList"] = [
                    {
                        "taskId": "Transfer data from vault",
                        "duration": zero,
                        "status": _task_status(job, now, False),
                    }
                ]
            bag["Job Type"] = "Recover disks"
            bag["Target VM Name"] = entity.name
            bag["Target Storage Account Name"] = _storage_account(job)
            bag["Recovery point time "] = _us_time(job.start - 86400 + entity.log_offset % 3600)
            if finished:
                container = f"{entity.name.replace('-', '')}-{format_guid(job.guid).replace('-', '')}"
                blobs = f"https://{_storage_account(job)}.blob.core.windows.net/{container}"
                bag["Config Blob Name"] = f"config-{entity.name}-{format_guid(job.guid)}.json"
                bag["Config Blob Container Name"] = container
                bag["Config Blob Uri"] = f"{blobs}/{bag['Config Blob Name']}"
                bag["Template Blob Uri"] = f"{blobs}/azuredeploy{format_guid(job.guid)}.json"
            info["internalPropertyBag"] = {}
            percent, remaining = _progress(job, now) if job.running else (100.0, 0.0)
            info["progressPercentage"] = percent
            info["estimatedRemainingDuration"] = _duration(remaining, timespan)
        else:
            bag["VM Name"] = entity.name
            if operation == "DeleteBackupData":
                bag["Number of Recovery Points"] = "0"
            elif operation in ("ConfigureBackup", "DisableBackup"):
                bag["Policy Name"] = "DefaultPolicy" if operation == "ConfigureBackup" else ""
        if job.running and operation.startswith("Backup"):
            percent, remaining = _progress(job, now)
            info["progressPercentage"] = percent
            info["estimatedRemainingDuration"] = _duration(remaining, timespan)
    elif kind_job_type in _STORAGE_TYPES:
        account = _storage_account(job)
        if operation.startswith("Backup"):
            info["tasksList"] = [{"taskId": "Take Snapshot", "status": _task_status(job, now, False)}]
            if finished:
                bag["Data Transferred (in MB)"] = _whole_mb(_sized(job))
            bag["File Share Name"] = entity.name
            bag["Whether job is adhoc or scheduled."] = str(job.user_triggered)
        elif operation.startswith("Restore"):
            bag["Source File Share Name"] = entity.name
            bag["Source Storage Account Name"] = account
            bag["RestoreRecoveryPointTime"] = _us_time(job.start - 86400 + entity.log_offset % 3600)
            bag["Job Type"] = "Recovering to the original file share"
            bag["RestoreDestination"] = f"{account}/{entity.name}/"
            if finished:
                bag["Data Transferred (in MB)"] = _whole_mb(_sized(job))
                files = str(_sized(job) // (4 * _MB))
                bag["Number Of Restored Files"] = files
                bag["Number Of Skipped Files"] = "0"
                bag["Number Of Failed Files"] = "0"
        else:
            bag["File Share Name"] = entity.name
            bag["Storage Account Name"] = account
            if operation == "ConfigureBackup":
                bag["Policy Name"] = "DailyPolicy"
    elif kind_job_type in _WORKLOAD_TYPES:
        if operation.startswith("Backup"):
            info["tasksList"] = [
                {"taskId": "Transfer data to vault", "status": _task_status(job, now, False)}
            ]
            if finished and _sized(job):
                bag["Data Transferred (in MB)"] = _decimal_mb(_sized(job))
        elif operation.startswith("Restore") or operation == "CrossRegionRestore":
            info["tasksList"] = [
                {"taskId": "Transfer data from vault", "status": _task_status(job, now, False)}
            ]
            if finished:
                bag["Data Transferred (in MB)"] = _decimal_mb(_sized(job))
            bag["Job Type"] = "Recovery to the original database"
            restored = datetime.fromtimestamp(job.start - 86400, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
            bag["RestoreRecoveryPointTime"] = restored
            instance = "MSSQLSERVER" if entity.kind.key == "sql" else entity.name.split("-")[0].upper()
            bag["RestoreDestination"] = f"{entity.host}/{instance}/{entity.name}"
        elif operation == "ConfigureBackup":
            bag["Policy Name"] = "HourlyLogBackup"
    elif kind_job_type in ("DpmJob", "MabJob"):
        end = job.end if job.end is not None else now
        task: dict = {
            "taskId": "Online backup" if operation.startswith("Backup") else operation,
            "startTime": format_timestamp(job.start),
            "duration": _duration(end - job.start, timespan),
            "status": _task_status(job, now, False),
        }
        if job.end is not None:
            task["endTime"] = format_timestamp(job.end)
        info["tasksList"] = [task]
        if finished and operation.startswith("Backup") and _sized(job):
            bag["Backup Size"] = f"{_sized(job) // _MB} MB"
    info["propertyBag"] = bag
    if kind_job_type == "VaultJob":
        return info
    vm_backup = kind_job_type in _VM_TYPES and operation.startswith("Backup")
    if job.status == "Failed" and job.error and not vm_backup and kind_job_type not in _STORAGE_TYPES:
        info["dynamicErrorMessage"] = job.error.message  # recorded on VM restores and SQL / HANA jobs only
    return info
