"""`$filter` of the backupJobs list: `field eq 'value'` terms joined by `and` (azure-api.md section 1.1).

Dates are UTC `yyyy-MM-dd hh:mm:ss AM/PM` as azure-cli sends them; hour 00 is accepted because the
official examples use it. `startTime`/`endTime` bound a window on the job's start time.
"""

from __future__ import annotations

import re
from calendar import timegm
from dataclasses import dataclass
from datetime import datetime

from .catalog import BACKUP_MANAGEMENT_TYPES, JOB_OPERATIONS, JOB_STATUSES
from .model import Job, format_guid, management_type

_TERM = re.compile(r"\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*", re.IGNORECASE)
_AND = re.compile(r"and\b", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{1,2}):(\d{2}):(\d{2}) ?([AaPp][Mm])")
_FIELDS = {
    name.lower(): name
    for name in ("status", "backupManagementType", "operation", "jobId", "startTime", "endTime")
}
_ENUMS = {
    "status": JOB_STATUSES,
    "backupManagementType": BACKUP_MANAGEMENT_TYPES,
    "operation": JOB_OPERATIONS,
}


class FilterError(ValueError):
    """A `$filter` the service would refuse; `code` is the ARM error code of the 400 answer."""

    def __init__(self, message: str, code: str = "BMSUserErrorInvalidFilter") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class JobFilter:
    """The parsed filter; None fields do not constrain."""

    window_start: float | None = None
    window_end: float | None = None
    status: str | None = None
    operation: str | None = None
    backup_management_type: str | None = None
    job_id: str | None = None

    def matches(self, job: Job) -> bool:
        if self.status is not None and job.status.lower() != self.status:
            return False
        if self.operation is not None:
            operation = job.operation.lower()
            # SQL/HANA jobs say "Backup (Full)": they are Backup operations for the filter.
            if operation != self.operation and not operation.startswith(self.operation + " ("):
                return False
        if (
            self.backup_management_type is not None
            and management_type(job).lower() != self.backup_management_type
        ):
            return False
        if self.job_id is not None and format_guid(job.guid) != self.job_id:
            return False
        return True


def parse_filter_date(text: str) -> float:
    """Epoch seconds of `yyyy-MM-dd hh:mm:ss AM/PM` (UTC)."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        raise FilterError(f"'{text}' is not a date in the format 'yyyy-MM-dd hh:mm:ss AM/PM' (UTC).")
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    if hour > 12 or minute > 59 or second > 59 or not 1 <= month <= 12 or not 1 <= day <= 31:
        raise FilterError(f"'{text}' is not a valid date and time.")
    hour %= 12
    if match.group(7).upper() == "PM":
        hour += 12
    try:
        datetime(year, month, day)
    except ValueError as error:
        raise FilterError(f"'{text}' is not a valid date.") from error
    return float(timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def parse_filter(text: str | None, max_window_days: int = 30) -> JobFilter:
    """Parse `$filter`; raises FilterError for anything the grammar or the enums do not allow."""
    if text is None or not text.strip():
        return JobFilter()
    values: dict[str, str] = {}
    position = 0
    while True:
        term = _TERM.match(text, position)
        if not term:
            raise FilterError(
                f"Invalid $filter near '{text[position : position + 40]}': expected field eq 'value'."
            )
        field = _FIELDS.get(term.group(1).lower())
        if field is None:
            raise FilterError(f"'{term.group(1)}' is not a supported filter field.")
        if field in values:
            raise FilterError(f"'{field}' appears more than once in $filter.")
        values[field] = term.group(2).replace("''", "'")
        position = term.end()
        if position == len(text):
            break
        conjunction = _AND.match(text, position)
        if not conjunction:
            raise FilterError(
                f"Invalid $filter near '{text[position : position + 40]}': terms are joined by 'and'."
            )
        position = conjunction.end()
    for field, allowed in _ENUMS.items():
        if field in values and values[field].lower() not in {value.lower() for value in allowed}:
            raise FilterError(f"'{values[field]}' is not a valid value of {field}.")
    start = parse_filter_date(values["startTime"]) if "startTime" in values else None
    end = parse_filter_date(values["endTime"]) if "endTime" in values else None
    if start is not None and end is not None:
        if start > end:
            raise FilterError("startTime must not be later than endTime.")
        if max_window_days and end - start > max_window_days * 86400:
            raise FilterError(
                f"The time range between startTime and endTime must not exceed {max_window_days} days.",
                "JobAllowedDateTimeRangeExceeded",
            )
    return JobFilter(
        window_start=start,
        window_end=end,
        status=values["status"].lower() if "status" in values else None,
        operation=values["operation"].lower() if "operation" in values else None,
        backup_management_type=values["backupManagementType"].lower()
        if "backupManagementType" in values
        else None,
        job_id=values["jobId"].strip().lower() if "jobId" in values else None,
    )
