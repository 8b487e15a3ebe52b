"""A job as a person reads it: `parse_job`'s `Job` plus what only the job's GET carries (`extendedInfo`:
tasks, progress, the property bag) and its error details in full. Pure: JSON in, frozen values out.

Azure's shapes differ by job type (azure-api.md section 3.2): VM tasks carry durations and sometimes
`progressPercentage`, workload and file-share tasks only `taskId` and `status`, DPM/MAB tasks times.
Everything optional is read when present and left out when not; a field of the wrong type is ignored
rather than failing the whole view, since a person would rather see the rest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..jobs import Job, VaultRef, parse_duration, parse_job, parse_timestamp, utf8_text


@dataclass(frozen=True)
class Task:
    name: str
    status: str
    start_time: float | None = None
    end_time: float | None = None
    duration_seconds: float | None = None
    progress_percent: float | None = None


@dataclass(frozen=True)
class ErrorDetail:
    code: str | None
    title: str | None
    message: str | None
    recommendations: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobView:
    """One job of one vault, with whatever its GET told beyond the list item."""

    vault: VaultRef
    job: Job
    resource_id: str
    tasks: tuple[Task, ...] = ()
    property_bag: tuple[tuple[str, str], ...] = ()
    errors: tuple[ErrorDetail, ...] = ()
    progress_percent: float | None = None
    remaining_seconds: float | None = None
    dynamic_error_message: str | None = None
    detailed: bool = False

    @property
    def finished(self) -> bool:
        return self.job.finished


_JOB_RESOURCE_ID = re.compile(
    r"^(?P<vault>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+)"
    r"/backupjobs/(?P<job>[^/]+)/?$",
    re.IGNORECASE,
)


def parse_job_resource_id(text: str) -> tuple[VaultRef, str]:
    """The vault and job id of `.../vaults/{vault}/backupJobs/{job}`; ValueError for anything else."""
    match = _JOB_RESOURCE_ID.match(text.strip())
    if not match:
        raise ValueError(text)
    return VaultRef.parse(match["vault"]), match["job"]


def rfc3339(moment: float | None) -> str | None:
    """`2026-11-26T01:30:00Z` (UTC, whole seconds), or None."""
    if moment is None:
        return None
    return datetime.fromtimestamp(math.floor(moment), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return utf8_text(value if isinstance(value, str) else str(value))


def _time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _seconds(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return max(0.0, parse_duration(value))
    except ValueError:
        return None


def _percent(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return min(100.0, max(0.0, number)) if math.isfinite(number) else None


def _task(raw: Any) -> Task | None:
    if not isinstance(raw, Mapping):
        return None
    return Task(
        name=_text(raw.get("taskId")) or "(unnamed task)",
        status=_text(raw.get("status")) or "Unknown",
        start_time=_time(raw.get("startTime")),
        end_time=_time(raw.get("endTime")),
        duration_seconds=_seconds(raw.get("duration")),
        progress_percent=_percent(raw.get("progressPercentage")),
    )


def _error(raw: Any) -> ErrorDetail | None:
    if not isinstance(raw, Mapping):
        return None
    recommendations = raw.get("recommendations")
    return ErrorDetail(
        code=_text(raw.get("errorCode")),
        title=_text(raw.get("errorTitle")),
        message=_text(raw.get("errorString")),
        recommendations=tuple(text for text in (_text(r) for r in recommendations or ()) if text)
        if isinstance(recommendations, list)
        else (),
    )


def job_view(resource: Any, vault: VaultRef) -> JobView:
    """The view of one JobResource (a list item or a GET body); raises `MalformedJob` as `parse_job` does."""
    job = parse_job(resource)
    properties = resource.get("properties") or {}
    resource_id = _text(resource.get("id")) or f"{vault.resource_id}/backupJobs/{job.job_id}"
    extended = properties.get("extendedInfo")
    errors = (
        tuple(e for e in (_error(d) for d in properties.get("errorDetails") or ()) if e)
        if isinstance(properties.get("errorDetails"), list)
        else ()
    )
    if not isinstance(extended, Mapping):
        return JobView(vault, job, resource_id, errors=errors)
    tasks = extended.get("tasksList")
    bag = extended.get("propertyBag")
    return JobView(
        vault=vault,
        job=job,
        resource_id=resource_id,
        tasks=tuple(t for t in (_task(raw) for raw in tasks) if t) if isinstance(tasks, list) else (),
        property_bag=tuple((utf8_text(str(key)), _text(value) or "") for key, value in bag.items())
        if isinstance(bag, Mapping)
        else (),
        errors=errors,
        progress_percent=_percent(extended.get("progressPercentage")),
        remaining_seconds=_seconds(extended.get("estimatedRemainingDuration")),
        dynamic_error_message=_text(extended.get("dynamicErrorMessage")),
        detailed=True,
    )


def elapsed_seconds(view: JobView, now: float) -> float:
    """How long the job has run: Azure's duration when it gives one, else from its start to `now` or end."""
    reported = view.job.reported_duration
    if reported is not None:
        return reported
    return max(0.0, (view.job.end_time or now) - view.job.start_time)


def job_record(view: JobView) -> dict[str, Any]:
    """The `-o json` object of a listed job: stable keys, times in RFC 3339, sizes in bytes."""
    job = view.job
    return {
        "id": view.resource_id,
        "job_id": job.job_id,
        "vault": view.vault.resource_id,
        "entity": job.entity,
        "backup_management_type": job.backup_management_type,
        "job_type": job.job_type,
        "operation": job.operation,
        "status": job.status,
        "start_time": rfc3339(job.start_time),
        "end_time": rfc3339(job.end_time),
        "duration_seconds": job.reported_duration,
        "size_bytes": job.size_bytes,
        "error_code": job.error_code,
    }


def detail_record(view: JobView) -> dict[str, Any]:
    """The `-o json` object of `jobs show`: the listed fields plus tasks, progress, property bag, errors."""
    record = job_record(view)
    record["progress_percent"] = view.progress_percent
    record["estimated_remaining_seconds"] = view.remaining_seconds
    record["tasks"] = [
        {
            "name": task.name,
            "status": task.status,
            "start_time": rfc3339(task.start_time),
            "end_time": rfc3339(task.end_time),
            "duration_seconds": task.duration_seconds,
            "progress_percent": task.progress_percent,
        }
        for task in view.tasks
    ]
    record["properties"] = dict(view.property_bag)
    record["errors"] = [
        {
            "code": error.code,
            "title": error.title,
            "message": error.message,
            "recommendations": list(error.recommendations),
        }
        for error in view.errors
    ]
    record["dynamic_error_message"] = view.dynamic_error_message
    return record
