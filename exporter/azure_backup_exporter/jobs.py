"""Backup jobs as plain values: parsing ARM `JobResource` JSON into `Job`, and vault ids into `VaultRef`.

Pure parsing, no I/O, stdlib only, so it can be tested exhaustively. Azure is loose about formats
(durations in ISO 8601 or .NET TimeSpan, sizes as "2332 MB" or a bare "20.1147" MB, actionsInfo as
strings or ints, unknown job types and statuses, error codes as integers with the name beside them):
everything the reference allows and every job recorded from the live service (docs/real-data.md)
parses, and anything else raises `MalformedJob` with a short reason, so that the caller can skip and
count one bad job.

Whatever JSON Azure sends, what comes out is safe to expose: text encodes as UTF-8 (lone surrogates,
valid in JSON, become U+FFFD) and every number is finite and within the bounds below, so one hostile
record can neither overflow the parser nor make `/metrics` fail.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

FINISHED_STATUSES = frozenset({"Completed", "CompletedWithWarnings", "Failed", "Cancelled"})
RUNNING_STATUSES = frozenset({"InProgress", "Cancelling", "NotStarted"})
SUCCESS_STATUSES = frozenset({"Completed", "CompletedWithWarnings"})

UNKNOWN = "Unknown"
# Longer than any backup job runs; the bound also keeps the duration histogram's sum finite.
MAX_DURATION_SECONDS = 366 * 86400.0
MAX_SIZE_BYTES = 1024**6  # 1 EiB (1024 PB): far beyond any one backup, and a finite bytes counter
# How far past `now` a job may start or end before `is_plausible` calls it nonsense (clock skew, and
# a local time written without its offset, stay well within a day).
MAX_FUTURE_SECONDS = 86400.0
_SURROGATE = re.compile("[\ud800-\udfff]")

_VAULT_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)"
    r"/providers/microsoft\.recoveryservices/vaults/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)


def is_backup_operation(operation: str) -> bool:
    """A backup, not a restore, a configuration or a deletion: "Backup", "Backup (Full)", "Backup (Log)"..."""
    return operation == "Backup" or operation.startswith("Backup (")


def utf8_text(text: str) -> str:
    """`text` with each lone surrogate (JSON allows "\\ud800") replaced by U+FFFD, so it encodes as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _shown(text: str, limit: int = 40) -> str:
    """A bounded repr of hostile text for error messages (a 400-digit duration does not go to the log)."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


class MalformedJob(ValueError):
    """A job resource that cannot be understood; `reason` is a short, bounded label value."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class VaultRef:
    """A Recovery Services vault, as written in its resource id (ARM ids compare case-insensitively)."""

    subscription_id: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, resource_id: str) -> VaultRef:
        match = _VAULT_ID.match(utf8_text(resource_id.strip()))
        if not match:
            raise ValueError(
                "expected /subscriptions/<id>/resourceGroups/<rg>/providers/"
                f"Microsoft.RecoveryServices/vaults/<name>, got {_shown(resource_id, 300)}"
            )
        return cls(match["sub"], match["rg"], match["name"])

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.RecoveryServices/vaults/{self.name}"
        )

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the vault regardless of how its id was capitalised."""
        return (self.subscription_id.lower(), self.resource_group.lower(), self.name.lower())

    def __str__(self) -> str:
        return self.resource_id


@dataclass(frozen=True)
class Job:
    """One backup job, reduced to what the metrics need. Times are Unix seconds (UTC)."""

    job_id: str
    entity: str
    backup_management_type: str
    operation: str
    status: str
    job_type: str
    start_time: float
    end_time: float | None = None
    duration_seconds: float | None = None
    size_bytes: int | None = None
    error_code: str | None = None
    # SQLDataBase, SAPHanaDatabase...: names a database's jobs consistently (see entities.py)
    workload_type: str | None = None

    @property
    def finished(self) -> bool:
        if self.status in FINISHED_STATUSES:
            return True
        return self.status not in RUNNING_STATUSES and self.end_time is not None

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS_STATUSES

    @property
    def finished_at(self) -> float | None:
        """End time, or start plus reported duration for a finished job that lacks one."""
        if self.end_time is not None:
            return self.end_time
        if self.finished and self.duration_seconds is not None:
            return self.start_time + self.duration_seconds
        return None

    @property
    def reported_duration(self) -> float | None:
        """Duration as Azure reports it, else end minus start once finished."""
        if self.duration_seconds is not None:
            return self.duration_seconds
        if self.end_time is not None:
            return max(0.0, self.end_time - self.start_time)
        return None


# --- durations -------------------------------------------------------------------------------------

_ISO_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$",
    re.IGNORECASE,
)
_TIMESPAN = re.compile(
    r"^(?P<sign>-)?(?:(?P<days>\d+)(?:\.| days?, ))?"
    r"(?P<hours>\d{1,2}):(?P<minutes>\d{1,2}):(?P<seconds>\d{1,2})"
    r"(?:\.(?P<fraction>\d{1,7}))?$"
)
_ISO_UNITS = {"weeks": 604800.0, "days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}


def parse_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration (`PT1H2M3.5S`, `P1DT2H`) or a .NET TimeSpan (`1.02:03:04.5`).

    ValueError beyond `MAX_DURATION_SECONDS` either way: no real job runs for a year, and an absurd
    value (400 digits of days) would otherwise overflow or make the duration histogram's sum +Inf.
    """
    value = text.strip()
    iso = _ISO_DURATION.match(value)
    if iso and value.upper() not in ("P", "PT", "-P", "-PT") and not value.upper().endswith("T"):
        total = sum(
            float(iso[unit].replace(",", ".")) * factor
            for unit, factor in _ISO_UNITS.items()
            if iso[unit] is not None
        )
        return _bounded_duration(-total if iso["sign"] else total, text)
    span = _TIMESPAN.match(value)
    if span:
        hours, minutes, seconds = int(span["hours"]), int(span["minutes"]), int(span["seconds"])
        if (hours > 23 and span["days"] is not None) or minutes > 59 or seconds > 59:
            raise ValueError(f"not a duration: {_shown(text)}")
        days = span["days"] or "0"
        if len(days) > 6:  # int() of thousands of digits is slow or refused, and any of these is too long
            raise ValueError(f"duration over {MAX_DURATION_SECONDS:.0f}s: {_shown(text)}")
        total = int(days) * 86400.0 + hours * 3600.0 + minutes * 60.0 + seconds
        if span["fraction"]:
            total += int(span["fraction"]) / 10 ** len(span["fraction"])
        return _bounded_duration(-total if span["sign"] else total, text)
    raise ValueError(f"not a duration: {_shown(text)}")


def _bounded_duration(seconds: float, text: str) -> float:
    if not math.isfinite(seconds) or abs(seconds) > MAX_DURATION_SECONDS:
        raise ValueError(f"duration over {MAX_DURATION_SECONDS:.0f}s: {_shown(text)}")
    return seconds


# --- sizes -----------------------------------------------------------------------------------------

_SIZE = re.compile(r"^(?P<number>\d[\d,]*(?:\.\d+)?|\.\d+)\s*(?P<unit>[a-z]*)$", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^(?:\d[\d,]*(?:\.\d+)?|\.\d+)$")
_SIZE_UNITS = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    "kb": 1024, "kib": 1024,
    "mb": 1024**2, "mib": 1024**2,
    "gb": 1024**3, "gib": 1024**3,
    "tb": 1024**4, "tib": 1024**4,
    "pb": 1024**5, "pib": 1024**5,
}  # fmt: skip


def parse_size(text: str) -> int:
    """Bytes in an Azure size string such as `"2332 MB"` or `"1.5 GB"` (binary units: 1 MB = 2**20).

    ValueError above `MAX_SIZE_BYTES` (1 EiB), which also keeps the bytes counter finite.
    """
    match = _SIZE.match(text.strip())
    if not match or match["unit"].lower() not in _SIZE_UNITS:
        raise ValueError(f"not a size: {_shown(text)}")
    size = float(match["number"].replace(",", "")) * _SIZE_UNITS[match["unit"].lower()]
    if not size <= MAX_SIZE_BYTES:  # also +Inf, from a number of hundreds of digits
        raise ValueError(f"size over 1 EiB: {_shown(text)}")
    return round(size)


# --- timestamps ------------------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<fraction>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)
_LAST_SECOND = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()


def parse_timestamp(text: str) -> float | None:
    """Unix seconds of an ARM date-time (any fraction length, `Z` or offset, naive means UTC).

    Returns None for .NET's `0001-01-01T00:00:00` placeholder, which Azure uses for "not yet".
    ValueError for any other moment before 1970 (no backup job ran then) and for offsets that
    cannot be. Whether a moment is in the future needs a clock: see `is_plausible`.
    """
    match = _TIMESTAMP.match(text.strip())
    if not match:
        raise ValueError(f"not a timestamp: {_shown(text)}")
    if match["date"].startswith("0001-"):
        return None
    clock = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
    zone = match["zone"] or "Z"
    zone = "+00:00" if zone.upper() == "Z" else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    try:
        # timestamp(), not astimezone(utc), which overflows on 9999-12-31T23:00:00-14:00 (year 10000 in UTC)
        seconds = datetime.fromisoformat(f"{match['date']}T{clock}{zone}").timestamp()
    except (ValueError, OverflowError):
        raise ValueError(f"not a timestamp: {_shown(text)}") from None
    if not 0 <= seconds <= _LAST_SECOND:
        raise ValueError(f"not between 1970 and 9999: {_shown(text)}")
    fraction = float(f"0.{match['fraction'][:9]}") if match["fraction"] else 0.0
    return seconds + fraction


def is_plausible(job: Job, now: float, future_tolerance: float = MAX_FUTURE_SECONDS) -> bool:
    """False for a job that starts or ends more than `future_tolerance` seconds after `now` (Unix).

    The parser has no clock, so it accepts a job dated 2099; whoever holds `now` asks this before
    letting such a job become an entity's "latest" for the next 73 years.
    """
    latest = now + future_tolerance
    return job.start_time <= latest and (job.end_time is None or job.end_time <= latest)


# --- jobs ------------------------------------------------------------------------------------------

# Where a job's size is read, first found wins: IaaS VM backups say "Backup Size" ("2332 MB"); file
# shares and databases say "Data Transferred (in MB)" instead, a bare number of MB ("20.1147").
SIZE_KEY = "backup size"
TRANSFERRED_KEY = "data transferred (in mb)"
_ERROR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,199}$")


def _as_text(value: Any, what: str) -> str:
    """A JSON value as label text; numbers and the like as Python writes them."""
    try:
        return utf8_text(value if isinstance(value, str) else str(value))
    except ValueError:  # an integer of more digits than Python will write
        raise MalformedJob("bad_field", what) from None


def _text(properties: Mapping[str, Any], key: str, default: str) -> str:
    value = properties.get(key)
    if value is None or value == "":
        return default
    return _as_text(value, key)


def _error_code(properties: Mapping[str, Any]) -> str | None:
    """The error of the first error detail, as operators search for it; None without error details.

    Azure's `errorCode` is an integer (400136); the name that documentation and runbooks use
    (`UserErrorVmNotFoundV2`) is in `errorTitle` when the job type has one. So: the title, else the
    error string when it is a name rather than a sentence, else the integer as text, else Unknown.
    """
    details = properties.get("errorDetails")
    if not isinstance(details, list) or not details:
        return None
    first = details[0] if isinstance(details[0], Mapping) else {}
    for key in ("errorTitle", "errorString"):
        name = first.get(key)
        if isinstance(name, str) and _ERROR_NAME.match(name.strip()):
            return name.strip()
    code = first.get("errorCode")
    if code is None or code == "":
        return UNKNOWN
    return _as_text(code, "errorCode")


def _size_from(properties: Mapping[str, Any]) -> int | None:
    """Bytes from "Backup Size", else from "Data Transferred (in MB)"; None when neither is there."""
    extended = properties.get("extendedInfo")
    bag = extended.get("propertyBag") if isinstance(extended, Mapping) else None
    if not isinstance(bag, Mapping):
        return None
    found = {
        key.strip().lower(): value
        for key, value in bag.items()
        if isinstance(key, str) and value is not None and value != ""
    }
    try:
        if SIZE_KEY in found:
            return parse_size(str(found[SIZE_KEY]))
        if TRANSFERRED_KEY in found:
            text = str(found[TRANSFERRED_KEY]).strip()
            # the key names the unit; a value that names its own is read as written
            return parse_size(f"{text} MB" if _BARE_NUMBER.match(text) else text)
    except ValueError as error:
        raise MalformedJob("bad_size", str(error)) from None
    return None


def parse_job(resource: Any) -> Job:
    """A `Job` from one JobResource dict (list item or GET body); raises `MalformedJob`."""
    if not isinstance(resource, Mapping):
        raise MalformedJob("not_an_object")
    properties = resource.get("properties")
    if not isinstance(properties, Mapping):
        raise MalformedJob("no_properties")
    job_id = resource.get("name")
    if not isinstance(job_id, str) or not job_id:
        resource_id = resource.get("id")
        job_id = resource_id.rstrip("/").rsplit("/", 1)[-1] if isinstance(resource_id, str) else ""
    if not job_id:
        raise MalformedJob("no_name")
    job_id = utf8_text(job_id)
    start_text = properties.get("startTime")
    if not isinstance(start_text, str):
        raise MalformedJob("no_start_time")
    try:
        start = parse_timestamp(start_text)
        end_text = properties.get("endTime")
        end = parse_timestamp(end_text) if isinstance(end_text, str) and end_text else None
    except ValueError as error:
        raise MalformedJob("bad_time", str(error)) from None
    if start is None:
        raise MalformedJob("no_start_time")
    duration_text = properties.get("duration")
    duration = None
    if isinstance(duration_text, str) and duration_text:
        try:
            duration = max(0.0, parse_duration(duration_text))
        except ValueError as error:
            raise MalformedJob("bad_duration", str(error)) from None
    return Job(
        job_id=job_id,
        entity=_text(properties, "entityFriendlyName", ""),
        backup_management_type=_text(properties, "backupManagementType", UNKNOWN),
        operation=_text(properties, "operation", UNKNOWN),
        status=_text(properties, "status", UNKNOWN),
        job_type=_text(properties, "jobType", UNKNOWN),
        start_time=start,
        end_time=end,
        duration_seconds=duration,
        size_bytes=_size_from(properties),
        error_code=_error_code(properties),
        workload_type=_text(properties, "workloadType", "") or None,
    )
