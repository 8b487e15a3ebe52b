"""Wire formats of times and durations as the Backup service writes them (azure-api.md section 3.3)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

_TICKS_PER_SECOND = 10_000_000


_EPOCH = datetime(1970, 1, 1)


def format_timestamp(epoch_seconds: float) -> str:
    """UTC ISO 8601 as the live service writes it: .NET ticks (7 fraction digits) with trailing zeros
    trimmed, so mostly 7 digits, one time in ten 6, then 5 and 4 (`2023-03-15T04:46:39.3441012Z`,
    `2021-06-14T15:17:33.821737Z`), and a `Z`."""
    whole = int(epoch_seconds // 1)
    ticks = round((epoch_seconds - whole) * _TICKS_PER_SECOND)
    if ticks >= _TICKS_PER_SECOND:
        whole, ticks = whole + 1, 0
    # naive arithmetic + isoformat: several times faster than strftime, and rendering is the hot path
    text = (_EPOCH + timedelta(seconds=whole)).isoformat()
    if ticks:
        text += "." + f"{ticks:07d}".rstrip("0")
    return text + "Z"


def parse_timestamp(text: str) -> float:
    """Epoch seconds of an ISO 8601 timestamp; a missing offset means UTC. Raises ValueError."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _split(seconds: float) -> tuple[int, int, int, int, int]:
    ticks = max(0, round(seconds * _TICKS_PER_SECOND))
    whole, fraction = divmod(ticks, _TICKS_PER_SECOND)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return days, hours, minutes, secs, fraction


def format_iso_duration(seconds: float) -> str:
    """ISO 8601 duration as the spec examples write it: `PT12.4272909S`, `PT0S`, `P1DT2H3M4.5S`."""
    days, hours, minutes, secs, fraction = _split(seconds)
    text = "P"
    if days:
        text += f"{days}D"
    text += "T"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or fraction or text.endswith("T"):
        text += f"{secs}.{fraction:07d}".rstrip("0").rstrip(".") + "S"
    return text.removesuffix("T")


def format_timespan(seconds: float) -> str:
    """.NET TimeSpan `c` format, as in the 2018 response: `00:20:23.0896697`, `1.02:03:04.5000000`."""
    days, hours, minutes, secs, fraction = _split(seconds)
    text = f"{days}." if days else ""
    text += f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if fraction:
        text += f".{fraction:07d}"
    return text
