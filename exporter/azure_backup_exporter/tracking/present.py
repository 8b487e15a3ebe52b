"""What a person reads: the jobs table, one job in full, the live frame of a watch, its log lines, and
errors in words. Pure text from values; the command decides where it goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..azure.errors import ArmError, ArmForbidden, ArmNotFound, ArmUnauthorized, CredentialError
from .operations import OperationRef, OperationStatus
from .views import JobView, elapsed_seconds, rfc3339

BAR_WIDTH = 30
READER_ROLE = "the built-in Backup Reader role on the vault grants it"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(max(0.0, seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def format_size(size: int | None) -> str:
    if size is None:
        return ""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]  # fmt: skip


def jobs_table(views: Sequence[JobView], now: float) -> list[str]:
    """VAULT ENTITY OPERATION STATUS START DURATION SIZE, one row per job, in the order given."""
    rows = [
        [
            view.vault.name,
            view.job.entity,
            view.job.operation,
            view.job.status,
            rfc3339(view.job.start_time) or "",
            format_duration(elapsed_seconds(view, now)),
            format_size(view.job.size_bytes),
        ]
        for view in views
    ]
    return _table(["VAULT", "ENTITY", "OPERATION", "STATUS", "START", "DURATION", "SIZE"], rows)


def progress_bar(percent: float, width: int = BAR_WIDTH) -> str:
    filled = int(round(width * min(100.0, max(0.0, percent)) / 100.0))
    return "[" + "#" * filled + "-" * (width - filled) + f"] {percent:5.1f}%"


def job_details(view: JobView, now: float) -> list[str]:
    """`jobs show`: the job, its tasks, its property bag, its errors with recommendations."""
    job = view.job
    lines = [
        f"Job          {job.job_id}",
        f"Resource id  {view.resource_id}",
        f"Vault        {view.vault.name} (resource group {view.vault.resource_group}, "
        f"subscription {view.vault.subscription_id})",
        f"Entity       {job.entity}",
        f"Operation    {job.operation}",
        f"Type         {job.job_type} ({job.backup_management_type})",
        f"Status       {job.status}",
        f"Start        {rfc3339(job.start_time)}",
        f"End          {rfc3339(job.end_time) or '(running)'}",
        f"Duration     {format_duration(elapsed_seconds(view, now))}",
    ]
    if job.size_bytes is not None:
        lines.append(f"Size         {format_size(job.size_bytes)} ({job.size_bytes} bytes)")
    if view.progress_percent is not None and not job.finished:
        remaining = (
            f", about {format_duration(view.remaining_seconds)} left" if view.remaining_seconds else ""
        )
        lines.append(f"Progress     {progress_bar(view.progress_percent)}{remaining}")
    if view.tasks:
        lines += ["", "Tasks"]
        rows = [
            [
                task.name,
                task.status,
                rfc3339(task.start_time) or "",
                rfc3339(task.end_time) or "",
                format_duration(task.duration_seconds),
                "" if task.progress_percent is None else f"{task.progress_percent:.0f}%",
            ]
            for task in view.tasks
        ]
        lines += [
            "  " + line for line in _table(["TASK", "STATUS", "START", "END", "DURATION", "PROGRESS"], rows)
        ]
    if view.property_bag:
        lines += ["", "Properties"]
        width = max(len(key.strip()) for key, _ in view.property_bag)
        lines += [f"  {key.strip().ljust(width)}  {value}" for key, value in view.property_bag]
    if view.errors or view.dynamic_error_message:
        lines += ["", "Errors"]
        for error in view.errors:
            name = " ".join(part for part in (error.code, error.title) if part) or "(no code)"
            lines.append(f"  {name}: {error.message or '(no message)'}")
            lines += [f"    Recommendation: {text}" for text in error.recommendations]
        if view.dynamic_error_message:
            lines.append(f"  {view.dynamic_error_message}")
    return lines


def live_frame(view: JobView, elapsed: float) -> list[str]:
    """The lines a terminal shows while a job runs, redrawn in place."""
    job = view.job
    lines = [
        f"{job.operation} of {job.entity} in vault {view.vault.name}  (job {job.job_id})",
        f"{job.status}  elapsed {format_duration(elapsed)}",
    ]
    width = max((len(task.name) for task in view.tasks), default=0)
    for task in view.tasks:
        progress = "" if task.progress_percent is None else "  " + progress_bar(task.progress_percent, 20)
        lines.append(f"  {task.name.ljust(width)}  {task.status}{progress}")
    if view.progress_percent is not None and not job.finished:
        remaining = (
            f"  about {format_duration(view.remaining_seconds)} left" if view.remaining_seconds else ""
        )
        lines.append(f"  {progress_bar(view.progress_percent)}{remaining}")
    return lines


def job_line(view: JobView) -> str:
    """One log line of a watched job's state (stable: printed when it changes)."""
    job = view.job
    text = f"job {job.job_id} {job.status}"
    if view.progress_percent is not None and not job.finished:
        text += f" {view.progress_percent:.0f}%"
    if view.tasks:
        text += "; tasks: " + ", ".join(f"{task.name} {task.status}" for task in view.tasks)
    return text


def final_line(view: JobView, now: float) -> str:
    job = view.job
    text = (
        f"{job.operation} of {job.entity}: {job.status} after {format_duration(elapsed_seconds(view, now))}"
    )
    if job.size_bytes is not None:
        text += f", size {format_size(job.size_bytes)}"
    if job.error_code:
        text += f", error {job.error_code}"
    return text


def operation_line(ref: OperationRef, status: OperationStatus) -> str:
    text = f"operation {ref.operation_id} {status.status}"
    return text + (f": job {status.job_id}" if status.job_id else "")


def stamped(line: str, now: float) -> str:
    return f"{rfc3339(now)} {line}"


def describe_error(error: ArmError, target: str, action: str) -> str:
    """One line a person can act on: what was asked, what Azure said, and what would fix it.

    `action` is the RBAC action the request needs (`Microsoft.RecoveryServices/Vaults/backupJobs/read`).
    """
    said = f"{error.code}: {error.message}" if error.message else error.code
    if isinstance(error, ArmForbidden):
        return f"{target}: permission denied ({error.code}); the identity needs {action}: {READER_ROLE}"
    if isinstance(error, CredentialError):
        return f"{target}: {error.message}"
    if isinstance(error, ArmUnauthorized):
        return f"{target}: the token was refused ({said})"
    if isinstance(error, ArmNotFound):
        return f"{target}: not found ({said})"
    return f"{target}: {error.status_text} {said}"
