"""The control API under `/_simulator/`: read the estate, add vaults and jobs, finish jobs, set faults,
read request counts, move the clock, reset. JSON in and out, no authentication."""

from __future__ import annotations

from collections.abc import Callable

from .catalog import FINAL_STATUSES
from .estate import EstateError, parse_guid
from .model import RUNNING_STATUSES
from .render import render_job, render_vault
from .responses import Response, arm_error
from .state import SimulatorState
from .timefmt import format_timestamp, parse_timestamp

_JOB_FIELDS = {
    "vault",
    "entity",
    "operation",
    "status",
    "start_time",
    "end_time",
    "backup_size_bytes",
    "backup_management_type",
    "job_type",
    "error_code",
    "error_title",
    "duration_format",
    "properties",
    "user_triggered",
}


def handle_control(state: SimulatorState, method: str, segments: list[str], body: object) -> Response:
    """Dispatch `/_simulator/<segments>`; errors come back ARM-shaped."""
    route = _match(method, segments)
    if route is None:
        known = any(_path_matches(pattern, segments) for _, pattern, _ in _TABLE)
        if known:
            return arm_error(
                405, "MethodNotAllowed", f"{method} is not allowed on /_simulator/{'/'.join(segments)}."
            )
        return arm_error(404, "NotFound", f"No control route /_simulator/{'/'.join(segments)}.")
    handler, arguments = route
    try:
        with state.estate.lock:
            state.estate.advance()
            return handler(state, body, *arguments)
    except EstateError as error:
        return arm_error(error.status, error.code, error.message)
    except (ValueError, TypeError) as error:
        return arm_error(400, "InvalidRequestContent", str(error))


def _path_matches(pattern: tuple[str, ...], segments: list[str]) -> bool:
    if len(pattern) != len(segments):
        return False
    return all(p == "*" or p == s for p, s in zip(pattern, segments, strict=True))


def _match(method: str, segments: list[str]) -> tuple[Callable[..., Response], list[str]] | None:
    for table_method, pattern, handler in _TABLE:
        if table_method == method and _path_matches(pattern, segments):
            return handler, [s for p, s in zip(pattern, segments, strict=True) if p == "*"]
    return None


def _object(body: object, required: bool = True) -> dict:
    if body is None:
        if required:
            raise ValueError("a JSON object body is required")
        return {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _text(body: dict, key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ValueError(f"'{key}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{key}' must be a non-empty string")
    return value


def _integer(body: dict, key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"'{key}' must be an integer >= 0")
    return value


def _time(body: dict, key: str) -> float | None:
    value = _text(body, key, required=False)
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as error:
        raise ValueError(f"'{key}' must be an ISO 8601 timestamp such as 2026-11-26T01:00:00Z") from error


def _estate(state: SimulatorState, body: object) -> Response:
    return Response(
        200,
        {
            "subscriptions": list(state.estate.subscriptions),
            "vaults": [vault.resource_id for vault in state.estate.vaults.values()],
        },
    )


def _add_vault(state: SimulatorState, body: object) -> Response:
    fields = _object(body)
    unknown = set(fields) - {"subscription", "resource_group", "name"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    vault = state.estate.add_vault(
        _text(fields, "subscription"), _text(fields, "resource_group"), _text(fields, "name")
    )
    return Response(201, {"id": vault.resource_id})


def _add_job(state: SimulatorState, body: object) -> Response:
    fields = _object(body)
    unknown = set(fields) - _JOB_FIELDS
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    estate = state.estate
    vault = estate.vault_by_id(_text(fields, "vault"))
    status = _text(fields, "status")
    now = estate.clock.now()
    start = _time(fields, "start_time")
    start = now if start is None else start
    end = _time(fields, "end_time")
    if end is None and status not in RUNNING_STATUSES:
        end = max(start, now)
    if end is not None and end < start:
        raise ValueError("'end_time' must not be before 'start_time'")
    duration_format = fields.get("duration_format")
    if duration_format not in (None, "iso", "timespan"):
        raise ValueError("'duration_format' must be 'iso' or 'timespan'")
    properties = fields.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise ValueError("'properties' must be a JSON object")
    user_triggered = fields.get("user_triggered", False)
    if not isinstance(user_triggered, bool):
        raise ValueError("'user_triggered' must be true or false")
    extra = {
        "job_type": _text(fields, "job_type", required=False),
        "backup_management_type": _text(fields, "backup_management_type", required=False),
        "error_code": _integer(fields, "error_code"),
        "error_title": _text(fields, "error_title", required=False),
        "duration_format": duration_format,
        "properties": properties,
        "user_triggered": user_triggered,
    }
    job = estate.inject_job(
        vault,
        _text(fields, "entity"),
        _text(fields, "operation"),
        status,
        start,
        end,
        _integer(fields, "backup_size_bytes") or 0,
        extra,
    )
    return Response(201, render_job(job, estate.clock.now(), detail=True))


def _finish_job(state: SimulatorState, body: object, job_name: str) -> Response:
    fields = _object(body, required=False)
    unknown = set(fields) - {"status", "backup_size_bytes", "error_code"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    status = _text(fields, "status", required=False) or "Completed"
    if status not in FINAL_STATUSES:
        raise ValueError(f"'status' must be one of {', '.join(FINAL_STATUSES)}")
    estate = state.estate
    job = estate.finish_job(
        estate.find_job_anywhere(job_name),
        status,
        _integer(fields, "backup_size_bytes"),
        _integer(fields, "error_code"),
    )
    return Response(200, render_job(job, estate.clock.now(), detail=True))


def _item(state: SimulatorState, fields: dict, allowed: set[str]):  # noqa: ANN202
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    vault = state.estate.vault_by_id(_text(fields, "vault"))
    return state.estate.protected_item(vault, _text(fields, "item"))


def _stop_item(state: SimulatorState, body: object) -> Response:
    """Stop an item's protection, data retained (`delete_data`: and delete it, soft delete permitting)."""
    fields = _object(body)
    entity = _item(state, fields, {"vault", "item", "delete_data"})
    delete_data = fields.get("delete_data", False)
    if not isinstance(delete_data, bool):
        raise ValueError("'delete_data' must be true or false")
    jobs = state.estate.stop_protection(entity, delete_data)
    now = state.estate.clock.now()
    return Response(200, {"jobs": [render_job(job, now, detail=True) for job in jobs]})


def _resume_item(state: SimulatorState, body: object) -> Response:
    entity = _item(state, _object(body), {"vault", "item"})
    job = state.estate.resume_protection(entity)
    return Response(200, {"jobs": [render_job(job, state.estate.clock.now(), detail=True)]})


def _vault_settings(state: SimulatorState, body: object) -> Response:
    """Change a vault's security or redundancy settings; answers the vault as `GET` then returns it."""
    fields = dict(_object(body))
    vault = state.estate.vault_by_id(_text(fields, "vault"))
    fields.pop("vault")
    state.estate.update_settings(vault, fields)
    return Response(200, render_vault(vault))


def _get_faults(state: SimulatorState, body: object) -> Response:
    return Response(200, state.faults.snapshot())


def _set_faults(state: SimulatorState, body: object) -> Response:
    return Response(200, state.faults.update(_object(body)))


def _requests(state: SimulatorState, body: object) -> Response:
    return Response(200, state.counter.snapshot())


def _reset(state: SimulatorState, body: object) -> Response:
    state.reset()
    return Response(200, {"faults": state.faults.snapshot(), "requests": state.counter.snapshot()})


def _get_clock(state: SimulatorState, body: object) -> Response:
    return Response(200, {"now": format_timestamp(state.estate.clock.now())})


def _advance_clock(state: SimulatorState, body: object) -> Response:
    fields = _object(body)
    seconds = fields.get("advance_seconds")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or seconds < 0
        or set(fields) - {"advance_seconds"}
    ):
        raise ValueError('the body must be {"advance_seconds": <number >= 0>}')
    state.estate.clock.advance(float(seconds))
    state.estate.advance()
    return Response(200, {"now": format_timestamp(state.estate.clock.now())})


def _export_report(state: SimulatorState, body: object, blob_name: str) -> Response:
    """The report a jobs export wrote (where Azure would put a storage blob): a JSON array of jobs."""
    guid = parse_guid(blob_name.removeprefix("exportjobsreport"))
    export = state.estate.exports.get(guid) if guid is not None else None
    if export is None or not blob_name.startswith("exportjobsreport"):
        raise EstateError(404, "BlobNotFound", f"The blob '{blob_name}' does not exist.")
    if state.estate.clock.now() < export.ready_at:
        raise EstateError(404, "BlobNotFound", f"The blob '{blob_name}' is not written yet.")
    return Response(200, raw=export.report)


_TABLE: list[tuple[str, tuple[str, ...], Callable[..., Response]]] = [
    ("GET", ("blobs", "*"), _export_report),
    ("GET", ("estate",), _estate),
    ("POST", ("vaults",), _add_vault),
    ("POST", ("vaults", "settings"), _vault_settings),
    ("POST", ("items", "stop"), _stop_item),
    ("POST", ("items", "resume"), _resume_item),
    ("POST", ("jobs",), _add_job),
    ("POST", ("jobs", "*", "finish"), _finish_job),
    ("GET", ("faults",), _get_faults),
    ("POST", ("faults",), _set_faults),
    ("GET", ("requests",), _requests),
    ("POST", ("reset",), _reset),
    ("GET", ("clock",), _get_clock),
    ("POST", ("clock",), _advance_clock),
]
