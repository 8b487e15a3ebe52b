"""A backup job reduced to its shape: which keys it has and the form of each value, not the values.

Two jobs of the same kind, one recorded from Azure and one from the simulator, have the same shape when
the service's fields, units and formats agree. `make_recorded_shapes.py` summarises the recordings with
it; `test_recorded_shapes.py` compares the simulator's jobs with that summary.
"""

from __future__ import annotations

import re

ISO_DURATION = re.compile(r"P(\d+D)?T(\d+H)?(\d+M)?(\d+(\.\d{1,7})?S)?|P\d+D")
TIMESPAN = re.compile(r"(\d+\.)?\d\d:\d\d:\d\d(\.\d{7})?")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(\d+))?Z")
BRACKETED = re.compile(r"\S.* \[[^\]]+\]")
FORM_FIELDS = ("duration", "startTime", "endTime", "actionsInfo", "isUserTriggered", "entityFriendlyName")
"""Properties whose value form is compared (the others: only present or absent)."""
SIZE_FIELDS = ("Backup Size", "Data Transferred (in MB)")


def time_form(text: object) -> str:
    """`ticks` is the service's own form: .NET ticks (7 fraction digits) with trailing zeros trimmed,
    so 7, 6, 5... digits; a fixed number of digits ending in 0 is another form."""
    match = TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return f"other:{type(text).__name__}"
    fraction = match.group(1) or ""
    return "ticks" if len(fraction) <= 7 and not fraction.endswith("0") else f"fixed-{len(fraction)}"


def fraction_digits(text: str) -> int:
    match = TIMESTAMP.fullmatch(text)
    return len(match.group(1) or "") if match else -1


def duration_form(text: object) -> str:
    if isinstance(text, str) and ISO_DURATION.fullmatch(text):
        return "iso8601"
    if isinstance(text, str) and TIMESPAN.fullmatch(text):
        return "timespan"
    return f"other:{text!r}"


def value_form(field: str, value: object) -> str:
    if field in ("startTime", "endTime"):
        return time_form(value)
    if field == "duration":
        return duration_form(value)
    if field == "actionsInfo":
        return "[" + ",".join(type(item).__name__ for item in value) + "]" if isinstance(value, list) else "?"
    if field == "entityFriendlyName":
        return "name [host]" if isinstance(value, str) and BRACKETED.fullmatch(value) else "name"
    if field in SIZE_FIELDS:
        if not isinstance(value, str):
            return f"other:{type(value).__name__}"
        if re.fullmatch(r"\d+", value):
            return "N"
        if re.fullmatch(r"\d+\.\d+", value):
            return "N.N"
        return re.sub(r"\d+", "N", value)
    return type(value).__name__


def id_form(resource_id: str) -> str:
    """The casing of the fixed segments of a job id (`/Subscriptions/*/resourceGroups/*/providers/...`)."""
    parts = resource_id.split("/")
    return "/".join(part if index in (1, 3, 5, 6, 7, 9) else "*" for index, part in enumerate(parts) if index)


def job_shape(job: dict, resource_id: str | None = None) -> dict:
    """Keys and value forms of one job; `resource_id` replaces `job["id"]` (recordings kept the
    original id apart)."""
    properties = job["properties"]
    shape: dict = {
        "id": id_form(resource_id or job["id"]),
        "keys": sorted(properties),
        "forms": {
            field: value_form(field, properties[field]) for field in FORM_FIELDS if field in properties
        },
        "errorDetails": sorted(
            {
                ",".join(f"{key}:{type(value).__name__}" for key, value in sorted(detail.items()))
                for detail in properties.get("errorDetails") or []
            }
        ),
    }
    info = properties.get("extendedInfo")
    if isinstance(info, dict):
        bag = info.get("propertyBag") or {}
        shape["extendedInfo"] = sorted(info)
        shape["propertyBag"] = sorted(bag)
        shape["sizes"] = {field: value_form(field, bag[field]) for field in SIZE_FIELDS if field in bag}
        shape["tasks"] = sorted({task.get("taskId", "?") for task in info.get("tasksList") or []})
    return shape
