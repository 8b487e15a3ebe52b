"""Jobs and vaults as ARM JSON, one shape per jobType (azure-api.md section 3), built per page served.

The list form carries no `extendedInfo`; the detail form (GET one job) adds it, with `tasksList`,
`propertyBag` ("Backup Size" as text with a unit) and progress for running jobs.
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
_ACTION_CODES = {"Cancellable": 1, "Retriable": 2}
_KB, _MB, _GB = 1024, 1024 * 1024, 1024 * 1024 * 1024
_ASSUMED_RUN_SECONDS = 1800.0
"""Progress of an injected running job (which has no planned end) assumes it runs this long."""


def job_resource_id(job: Job, name: str | None = None) -> str:
    """Job ids start with `/Subscriptions/` as in the examples; legacy vaults use the lower-case provider
    of the real 2018 response."""
    vault = job.entity.vault
    if vault.legacy_format:
        prefix = (
            f"/subscriptions/{vault.subscription}/resourceGroups/{vault.resource_group}"
            f"/providers/microsoft.recoveryservices/vaults/{vault.name}"
        )
    else:
        prefix = (
            f"/Subscriptions/{vault.subscription}/resourceGroups/{vault.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{vault.name}"
        )
    return f"{prefix}/backupJobs/{name or format_guid(job.guid)}"


def render_vault(vault: Vault) -> dict:
    created = datetime.fromtimestamp(vault.created, timezone.utc).strftime("%Y-%m-%dT%H%%3A%M%%3A%S.%f")[:-3]
    return {
        "name": vault.name,
        "type": VAULT_RESOURCE_TYPE,
        "etag": f"W/\"datetime'{created}Z'\"",
        "id": vault.resource_id,
        "location": vault.location,
        "properties": {"provisioningState": "Succeeded"},
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
    actions = _actions(job)
    if actions:
        properties["actionsInfo"] = [_ACTION_CODES[action] for action in actions] if timespan else actions
    builder = _TYPE_FIELDS.get(kind_job_type, _iaas_fields)
    properties.update(builder(job))
    if job.status == "Failed" and job.error is not None:
        properties["errorDetails"] = [_ERROR_SHAPES.get(kind_job_type, _iaas_error)(job.error)]
    if detail:
        properties["extendedInfo"] = _extended_info(job, kind_job_type, now, timespan)
    if management_type(job):
        properties["backupManagementType"] = management_type(job)
    properties["entityFriendlyName"] = job.entity.name
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


def size_text(size: int, guid: int) -> str:
    """ "Backup Size" as the service writes it: mostly whole MB, sometimes GB or KB."""
    if size < _MB:
        return f"{max(1, size // _KB)} KB"
    if size >= _GB and guid % 5 == 0:
        return f"{size / _GB:.2f} GB"
    return f"{size // _MB} MB"


def _uses_timespan(job: Job) -> bool:
    if job.extra and job.extra.get("duration_format"):
        return job.extra["duration_format"] == "timespan"
    return job.entity.vault.legacy_format


def _duration(seconds: float, timespan: bool) -> str:
    return format_timespan(seconds) if timespan else format_iso_duration(seconds)


def _actions(job: Job) -> list[str]:
    if job.running and job.status == "InProgress":
        return ["Cancellable"]
    if job.status == "Failed":
        return ["Retriable"]
    return []


def _container(job: Job) -> str:
    return f"iaasvmcontainerv2;{job.entity.vault.resource_group.lower()};{job.entity.name.lower()}"


def _iaas_fields(job: Job) -> dict:
    return {
        "virtualMachineVersion": "Compute",
        "containerName": _container(job),
        "isUserTriggered": job.user_triggered,
    }


def _iaas_v2_fields(job: Job) -> dict:
    return {"virtualMachineVersion": "Compute", "containerName": _container(job)}


def _storage_fields(job: Job) -> dict:
    account = "st" + job.entity.vault.name.replace("-", "")[:20]
    return {
        "storageAccountName": account,
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
    "AzureIaaSVMJobV2": _iaas_v2_fields,
    "AzureStorageJob": _storage_fields,
    "AzureWorkloadJob": _workload_fields,
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
    return {"errorCode": error.code, "errorString": error.message, "recommendations": [error.recommendation]}


def _workload_error(error: ErrorSpec) -> dict:
    return {
        "errorCode": error.code,
        "errorTitle": error.title,
        "errorString": error.message,
        "recommendations": [error.recommendation],
        "additionalDetails": "",
    }


def _uncoded_error(error: ErrorSpec) -> dict:
    return {"errorString": error.message, "recommendations": [error.recommendation]}


_ERROR_SHAPES = {
    "AzureIaaSVMJob": _iaas_error,
    "AzureIaaSVMJobV2": _iaas_error,
    "AzureStorageJob": _coded_error,
    "AzureWorkloadJob": _workload_error,
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
    if job.status == "Failed":
        return "Completed" if first_task and job.guid % 2 else "Failed"
    if job.status == "Cancelled":
        return "Completed" if first_task else "Cancelled"
    return "Completed"


def _extended_info(job: Job, kind_job_type: str, now: float, timespan: bool) -> dict:
    bag: dict[str, str] = {}
    info: dict = {}
    finished_backup = not job.running and job.operation.startswith("Backup") and job.size > 0
    if kind_job_type in ("AzureIaaSVMJob", "AzureIaaSVMJobV2"):
        zero = _duration(0, timespan)
        info["tasksList"] = [
            {"taskId": "Take Snapshot", "duration": zero, "status": _task_status(job, now, True)},
            {"taskId": "Transfer data to vault", "duration": zero, "status": _task_status(job, now, False)},
        ]
        bag["VM Name"] = job.entity.name
    elif kind_job_type in ("AzureStorageJob", "AzureWorkloadJob"):
        task = "Transfer data to vault" if job.operation.startswith("Backup") else job.operation
        info["tasksList"] = [{"taskId": task, "status": _task_status(job, now, False)}]
        if kind_job_type == "AzureWorkloadJob" and finished_backup:
            bag["Data Transferred (in MB)"] = str(job.size // (1024 * 1024))
        if kind_job_type == "AzureStorageJob":
            bag["File Share Name"] = job.entity.name
    elif kind_job_type in ("DpmJob", "MabJob"):
        end = job.end if job.end is not None else now
        task: dict = {
            "taskId": "Online backup" if job.operation.startswith("Backup") else job.operation,
            "startTime": format_timestamp(job.start),
            "duration": _duration(end - job.start, timespan),
            "status": _task_status(job, now, False),
        }
        if job.end is not None:
            task["endTime"] = format_timestamp(job.end)
        info["tasksList"] = [task]
    if finished_backup:
        bag["Backup Size"] = size_text(job.size, job.guid)
    info["propertyBag"] = bag
    if kind_job_type == "VaultJob":
        return info
    if job.running and kind_job_type in ("AzureIaaSVMJob", "AzureIaaSVMJobV2"):
        percent, remaining = _progress(job, now)
        info["progressPercentage"] = percent
        info["estimatedRemainingDuration"] = _duration(remaining, timespan)
    if job.status == "Failed" and job.error is not None:
        info["dynamicErrorMessage"] = job.error.message
    return info
