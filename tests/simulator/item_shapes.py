"""A protected item reduced to its shape: which keys it has and the form of each value, not the values.

Like `job_shapes.py` for jobs: an item recorded from Azure and one from the simulator, of the same
`protectedItemType`, have the same shape when the service's fields, enums, sentinels and time formats
agree. `make_recorded_item_shapes.py` summarises the recordings with it; `test_recorded_item_shapes.py`
compares the simulator's items with that summary.
"""

from __future__ import annotations

import re

try:
    from .job_shapes import TIMESPAN, time_form
except ImportError:  # run by make_recorded_item_shapes.py as a script: this directory is on sys.path
    from job_shapes import TIMESPAN, time_form  # type: ignore[no-redef]

NEVER = {"2001-01-01T00:00:00Z": "never-2001", "0001-01-01T00:00:00": "never-0001"}
TIME_FIELDS = ("lastBackupTime", "lastRecoveryPoint", "deferredDeleteTimeInUTC")
ENUM_FIELDS = (
    "backupManagementType",
    "workloadType",
    "protectionState",
    "protectionStatus",
    "healthStatus",
    "protectedItemHealthStatus",
    "lastBackupStatus",
    "parentType",
    "isScheduledForDeferredDelete",
    "isArchiveEnabled",
)
"""Fields whose every value is a form: a simulated value must be one Azure was recorded writing."""
INFO_TIME_FIELDS = ("oldestRecoveryPoint", "lastRefreshedAt")


def time_value_form(value: object) -> str:
    """`never-2001` and `never-0001` for Azure's sentinels, else the form of `job_shapes.time_form`."""
    if isinstance(value, str) and value in NEVER:
        return NEVER[value]
    return time_form(value)


def value_form(field: str, value: object) -> str:
    if field in TIME_FIELDS:
        return time_value_form(value)
    if field in ENUM_FIELDS:
        return f"{type(value).__name__}:{value}"
    if field == "deferredDeleteTimeRemaining":
        return "timespan" if isinstance(value, str) and TIMESPAN.fullmatch(value) else f"other:{value!r}"
    if field in ("policyId", "vaultId", "sourceResourceId", "virtualMachineId"):
        if not isinstance(value, str):
            return f"other:{type(value).__name__}"
        if not value:
            return "empty"
        return "url" if re.match(r"https://", value) else "id"
    return type(value).__name__


def item_shape(item: dict) -> dict:
    """Keys and value forms of one ProtectedItemResource."""
    properties = item["properties"]
    info = properties.get("extendedInfo") if isinstance(properties.get("extendedInfo"), dict) else None
    return {
        "keys": sorted(properties),
        "forms": {field: value_form(field, value) for field, value in properties.items()},
        "extendedInfo": sorted(info) if info is not None else [],
        "infoForms": {
            field: time_value_form(info[field]) if field in INFO_TIME_FIELDS else type(info[field]).__name__
            for field in sorted(info or {})
        },
        "healthDetails": sorted(
            {
                ",".join(f"{key}:{type(value).__name__}" for key, value in sorted(detail.items()))
                for detail in properties.get("healthDetails") or []
                if isinstance(detail, dict)
            }
        ),
    }
