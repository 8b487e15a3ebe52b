"""Backup policies as plain values, and the longest gap their schedules allow between recovery points.

Pure parsing, no I/O, no clock, stdlib only (docs/inventory.md has the rules and worked examples).
`parse_policy` turns one ProtectionPolicyResource into a frozen `Policy` or raises `MalformedPolicy`
for garbage (wrong JSON types, times that are not times). A well-formed policy of a shape this module
does not know (a new `schedulePolicyType`, a `Monthly` frequency) parses with that schedule left out,
so `expected_intervals` gives no interval for it: an absent series, never a wrong one.

Schedule times are wall-clock times in the policy's time zone (azure-api-protected-items.md §2.1),
so the gaps are computed by laying the schedule out over a reference year in that zone: a daily 09:30
in "W. Europe Standard Time" gives 25 h, the night the clocks go back. Without tzdata, or for a zone
name not in `WINDOWS_ZONES`, the wall clock is taken as UTC and the gaps come out without DST.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from .jobs import utf8_text

BACKUP = "backup"
LOG = "log"
LOG_POLICY_TYPES = frozenset({"log"})
MAX_WEEKS = 52  # scheduleWeeklyFrequency beyond a year is nonsense
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A Monday; the schedule is laid out from here over a year (plus its period), in the policy's zone.
# The DST rules are those tzdata holds for 2025: the parser has no clock to pick "this year".
REFERENCE_START = date(2025, 1, 6)
REFERENCE_DAYS = 371

# Windows time-zone ids (what `timeZone` holds) to IANA names, from CLDR windowsZones.xml (territory
# 001). Only zones with DST change a gap; the others are here so that their absence means "unknown".
WINDOWS_ZONES: Mapping[str, str] = {
    "utc": "UTC",
    "dateline standard time": "Etc/GMT+12",
    "utc-11": "Etc/GMT+11",
    "aleutian standard time": "America/Adak",
    "hawaiian standard time": "Pacific/Honolulu",
    "alaskan standard time": "America/Anchorage",
    "utc-09": "Etc/GMT+9",
    "pacific standard time (mexico)": "America/Tijuana",
    "utc-08": "Etc/GMT+8",
    "pacific standard time": "America/Los_Angeles",
    "us mountain standard time": "America/Phoenix",
    "mountain standard time (mexico)": "America/Mazatlan",
    "mountain standard time": "America/Denver",
    "yukon standard time": "America/Whitehorse",
    "central america standard time": "America/Guatemala",
    "central standard time": "America/Chicago",
    "easter island standard time": "Pacific/Easter",
    "central standard time (mexico)": "America/Mexico_City",
    "canada central standard time": "America/Regina",
    "sa pacific standard time": "America/Bogota",
    "eastern standard time (mexico)": "America/Cancun",
    "eastern standard time": "America/New_York",
    "haiti standard time": "America/Port-au-Prince",
    "cuba standard time": "America/Havana",
    "us eastern standard time": "America/Indiana/Indianapolis",
    "turks and caicos standard time": "America/Grand_Turk",
    "paraguay standard time": "America/Asuncion",
    "atlantic standard time": "America/Halifax",
    "venezuela standard time": "America/Caracas",
    "central brazilian standard time": "America/Cuiaba",
    "sa western standard time": "America/La_Paz",
    "pacific sa standard time": "America/Santiago",
    "newfoundland standard time": "America/St_Johns",
    "tocantins standard time": "America/Araguaina",
    "e. south america standard time": "America/Sao_Paulo",
    "sa eastern standard time": "America/Cayenne",
    "argentina standard time": "America/Argentina/Buenos_Aires",
    "greenland standard time": "America/Nuuk",
    "montevideo standard time": "America/Montevideo",
    "magallanes standard time": "America/Punta_Arenas",
    "saint pierre standard time": "America/Miquelon",
    "bahia standard time": "America/Bahia",
    "utc-02": "Etc/GMT+2",
    "azores standard time": "Atlantic/Azores",
    "cape verde standard time": "Atlantic/Cape_Verde",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "sao tome standard time": "Africa/Sao_Tome",
    "morocco standard time": "Africa/Casablanca",
    "w. europe standard time": "Europe/Berlin",
    "central europe standard time": "Europe/Budapest",
    "romance standard time": "Europe/Paris",
    "central european standard time": "Europe/Warsaw",
    "w. central africa standard time": "Africa/Lagos",
    "jordan standard time": "Asia/Amman",
    "gtb standard time": "Europe/Bucharest",
    "middle east standard time": "Asia/Beirut",
    "egypt standard time": "Africa/Cairo",
    "e. europe standard time": "Europe/Chisinau",
    "syria standard time": "Asia/Damascus",
    "west bank standard time": "Asia/Hebron",
    "south africa standard time": "Africa/Johannesburg",
    "fle standard time": "Europe/Kiev",
    "israel standard time": "Asia/Jerusalem",
    "south sudan standard time": "Africa/Juba",
    "kaliningrad standard time": "Europe/Kaliningrad",
    "sudan standard time": "Africa/Khartoum",
    "libya standard time": "Africa/Tripoli",
    "namibia standard time": "Africa/Windhoek",
    "arabic standard time": "Asia/Baghdad",
    "turkey standard time": "Europe/Istanbul",
    "arab standard time": "Asia/Riyadh",
    "belarus standard time": "Europe/Minsk",
    "russian standard time": "Europe/Moscow",
    "e. africa standard time": "Africa/Nairobi",
    "volgograd standard time": "Europe/Volgograd",
    "iran standard time": "Asia/Tehran",
    "arabian standard time": "Asia/Dubai",
    "astrakhan standard time": "Europe/Astrakhan",
    "azerbaijan standard time": "Asia/Baku",
    "russia time zone 3": "Europe/Samara",
    "mauritius standard time": "Indian/Mauritius",
    "saratov standard time": "Europe/Saratov",
    "georgian standard time": "Asia/Tbilisi",
    "caucasus standard time": "Asia/Yerevan",
    "afghanistan standard time": "Asia/Kabul",
    "west asia standard time": "Asia/Tashkent",
    "ekaterinburg standard time": "Asia/Yekaterinburg",
    "pakistan standard time": "Asia/Karachi",
    "qyzylorda standard time": "Asia/Qyzylorda",
    "india standard time": "Asia/Kolkata",
    "sri lanka standard time": "Asia/Colombo",
    "nepal standard time": "Asia/Kathmandu",
    "central asia standard time": "Asia/Bishkek",
    "bangladesh standard time": "Asia/Dhaka",
    "omsk standard time": "Asia/Omsk",
    "myanmar standard time": "Asia/Yangon",
    "se asia standard time": "Asia/Bangkok",
    "altai standard time": "Asia/Barnaul",
    "w. mongolia standard time": "Asia/Hovd",
    "north asia standard time": "Asia/Krasnoyarsk",
    "n. central asia standard time": "Asia/Novosibirsk",
    "tomsk standard time": "Asia/Tomsk",
    "china standard time": "Asia/Shanghai",
    "north asia east standard time": "Asia/Irkutsk",
    "singapore standard time": "Asia/Singapore",
    "w. australia standard time": "Australia/Perth",
    "taipei standard time": "Asia/Taipei",
    "ulaanbaatar standard time": "Asia/Ulaanbaatar",
    "aus central w. standard time": "Australia/Eucla",
    "transbaikal standard time": "Asia/Chita",
    "tokyo standard time": "Asia/Tokyo",
    "north korea standard time": "Asia/Pyongyang",
    "korea standard time": "Asia/Seoul",
    "yakutsk standard time": "Asia/Yakutsk",
    "cen. australia standard time": "Australia/Adelaide",
    "aus central standard time": "Australia/Darwin",
    "e. australia standard time": "Australia/Brisbane",
    "aus eastern standard time": "Australia/Sydney",
    "west pacific standard time": "Pacific/Port_Moresby",
    "tasmania standard time": "Australia/Hobart",
    "vladivostok standard time": "Asia/Vladivostok",
    "lord howe standard time": "Australia/Lord_Howe",
    "bougainville standard time": "Pacific/Bougainville",
    "russia time zone 10": "Asia/Srednekolymsk",
    "magadan standard time": "Asia/Magadan",
    "norfolk standard time": "Pacific/Norfolk",
    "sakhalin standard time": "Asia/Sakhalin",
    "central pacific standard time": "Pacific/Guadalcanal",
    "russia time zone 11": "Asia/Kamchatka",
    "new zealand standard time": "Pacific/Auckland",
    "utc+12": "Etc/GMT-12",
    "fiji standard time": "Pacific/Fiji",
    "chatham islands standard time": "Pacific/Chatham",
    "utc+13": "Etc/GMT-13",
    "tonga standard time": "Pacific/Tongatapu",
    "samoa standard time": "Pacific/Apia",
    "line islands standard time": "Pacific/Kiritimati",
}


class MalformedPolicy(ValueError):
    """A policy resource that cannot be understood; `reason` is a short, bounded label value."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Schedule:
    """When one (sub-)policy takes a recovery point. Times are minutes after local midnight.

    `frequency` is `Daily`, `Weekly`, `Hourly` or `Log` (normalised capitalisation); `days` are
    weekdays (0 = Monday) for `Weekly`; `every_weeks` is `scheduleWeeklyFrequency` (1 when 0 or absent);
    `interval_minutes`, `window_start` and `window_minutes` describe `Hourly`; `interval_minutes` alone
    describes `Log`.
    """

    kind: str  # BACKUP or LOG
    policy_type: str  # the workload sub-policy's policyType (Full, Differential, Log...), "" otherwise
    frequency: str
    times: tuple[int, ...] = ()
    days: tuple[int, ...] = ()
    every_weeks: int = 1
    interval_minutes: int = 0
    window_start: int = 0
    window_minutes: int = 0


@dataclass(frozen=True)
class Policy:
    """One backup policy: what identifies it and its schedules (empty: no interval to expect)."""

    id: str
    name: str  # lower-case: the key items' policyName / the last segment of their policyId match
    backup_management_type: str
    workload_type: str
    time_zone: str  # as Azure writes it ("India Standard Time"); "" when absent, meaning UTC
    schedules: tuple[Schedule, ...]


def policy_key(id_or_name: str) -> str:
    """The lower-case policy name in a policy id or name, to match items' policyId/policyName to policies."""
    return utf8_text(id_or_name.strip().rstrip("/").rsplit("/", 1)[-1]).lower()


# --- parsing ---------------------------------------------------------------------------------------

_CLOCK = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ](?P<h>\d{2}):(?P<m>\d{2})(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$", re.I
)


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPolicy("bad_field", what)
    return utf8_text(value)


def _minute_of_day(value: Any, what: str) -> int:
    """The wall-clock time in an ARM date-time; its date and its `Z` mean nothing (§2.1)."""
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if not match or int(match["h"]) > 23 or int(match["m"]) > 59:
        raise MalformedPolicy("bad_time", f"{what}: {str(value)[:40]!r}")
    return int(match["h"]) * 60 + int(match["m"])


def _times(value: Any, what: str) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedPolicy("bad_time", what)
    return tuple(sorted({_minute_of_day(item, what) for item in value}))


def _days(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(day, str) for day in value):
        raise MalformedPolicy("bad_day", "scheduleRunDays")
    try:
        return tuple(sorted({DAYS.index(day.strip().lower()) for day in value}))
    except ValueError:
        raise MalformedPolicy("bad_day", repr([str(day)[:20] for day in value][:7])) from None


def _whole(value: Any, what: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise MalformedPolicy("bad_number", what)
    if not low <= value <= high:
        raise MalformedPolicy("bad_number", f"{what} {value!r} not in {low}..{high}")
    return int(value)


def _mapping(value: Any, what: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise MalformedPolicy("bad_field", what)
    return value


def _schedule(raw: Mapping[str, Any], kind: str, policy_type: str) -> Schedule | None:
    """One schedulePolicy, or None for a shape without a schedule (LongTermSchedulePolicy, unknown)."""
    schedule_type = _text(raw.get("schedulePolicyType"), "schedulePolicyType").lower()
    if schedule_type == "logschedulepolicy":
        minutes = _whole(raw.get("scheduleFrequencyInMins"), "scheduleFrequencyInMins", 1, 10080, 0)
        return Schedule(LOG, policy_type, "Log", interval_minutes=minutes) if minutes else None
    if schedule_type not in ("simpleschedulepolicy", "simpleschedulepolicyv2"):
        return None
    frequency = _text(raw.get("scheduleRunFrequency"), "scheduleRunFrequency").lower()
    daily = _mapping(raw.get("dailySchedule"), "dailySchedule") or {}
    weekly = _mapping(raw.get("weeklySchedule"), "weeklySchedule") or {}
    every_weeks = max(
        1, _whole(raw.get("scheduleWeeklyFrequency"), "scheduleWeeklyFrequency", 0, MAX_WEEKS, 1)
    )
    if frequency == "daily":
        # Daily ignores scheduleRunDays (a recorded SQL SnapshotCopyOnlyFull policy has Daily + [Sunday]).
        times = _times(raw.get("scheduleRunTimes"), "scheduleRunTimes") or _times(
            daily.get("scheduleRunTimes"), "dailySchedule.scheduleRunTimes"
        )
        return Schedule(kind, policy_type, "Daily", times=times) if times else None
    if frequency == "weekly":
        times = _times(raw.get("scheduleRunTimes"), "scheduleRunTimes") or _times(
            weekly.get("scheduleRunTimes"), "weeklySchedule.scheduleRunTimes"
        )
        days = _days(raw.get("scheduleRunDays")) or _days(weekly.get("scheduleRunDays"))
        if not (times and days):
            return None
        return Schedule(kind, policy_type, "Weekly", times=times, days=days, every_weeks=every_weeks)
    if frequency == "hourly":
        hourly = _mapping(raw.get("hourlySchedule"), "hourlySchedule")
        if hourly is None:
            return None
        interval = _whole(hourly.get("interval"), "hourlySchedule.interval", 1, 24, 0)
        start = hourly.get("scheduleWindowStartTime")
        if not interval or start is None:
            return None
        duration = _whole(
            hourly.get("scheduleWindowDuration"), "hourlySchedule.scheduleWindowDuration", 1, 24, 24
        )
        return Schedule(
            kind,
            policy_type,
            "Hourly",
            interval_minutes=interval * 60,
            window_start=_minute_of_day(start, "scheduleWindowStartTime"),
            window_minutes=duration * 60,
        )
    return None


def parse_policy(resource: Any) -> Policy:
    """A `Policy` from one ProtectionPolicyResource dict (list item or GET body); raises `MalformedPolicy`."""
    if not isinstance(resource, Mapping):
        raise MalformedPolicy("not_an_object")
    properties = resource.get("properties")
    if not isinstance(properties, Mapping):
        raise MalformedPolicy("no_properties")
    resource_id = _text(resource.get("id"), "id")
    name = _text(resource.get("name"), "name") or resource_id
    if not policy_key(name):
        raise MalformedPolicy("no_name")
    management = _text(properties.get("backupManagementType"), "backupManagementType")
    if not management:
        raise MalformedPolicy("no_backup_management_type")
    settings = _mapping(properties.get("settings"), "settings") or {}
    zone = _text(properties.get("timeZone"), "timeZone") or _text(
        settings.get("timeZone"), "settings.timeZone"
    )
    schedules: list[Schedule | None] = []
    top = _mapping(properties.get("schedulePolicy"), "schedulePolicy")
    if top is not None:
        schedules.append(_schedule(top, BACKUP, ""))
    subs = properties.get("subProtectionPolicy")
    if subs is not None and not isinstance(subs, list):
        raise MalformedPolicy("bad_field", "subProtectionPolicy")
    for sub in subs or ():
        if not isinstance(sub, Mapping):
            raise MalformedPolicy("bad_field", "subProtectionPolicy")
        policy_type = _text(sub.get("policyType"), "policyType")
        raw = _mapping(sub.get("schedulePolicy"), "subProtectionPolicy.schedulePolicy")
        if raw is not None:
            kind = LOG if policy_type.lower() in LOG_POLICY_TYPES else BACKUP
            schedules.append(_schedule(raw, kind, policy_type))
    return Policy(
        id=resource_id,
        name=policy_key(name),
        backup_management_type=management,
        workload_type=_text(properties.get("workLoadType"), "workLoadType")
        or _text(properties.get("workloadType"), "workloadType"),
        time_zone=zone,
        schedules=tuple(schedule for schedule in schedules if schedule is not None),
    )


# --- expected intervals ----------------------------------------------------------------------------


def zone_of(name: str) -> tzinfo:
    """The zone a Windows time-zone id names; UTC when unknown or when tzdata is missing (tolerant)."""
    iana = WINDOWS_ZONES.get(name.strip().lower())
    if iana is None or iana == "UTC":
        return timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(iana)
    except Exception:  # ZoneInfoNotFoundError without tzdata, or no zoneinfo module at all
        return timezone.utc


def _local_runs(schedule: Schedule, days: int) -> Iterator[datetime]:
    """Naive local datetimes of the schedule's runs over `days` days from REFERENCE_START."""
    for offset in range(days):
        day = REFERENCE_START + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day)
        if schedule.frequency == "Weekly":
            week, weekday = divmod(offset, 7)
            if weekday not in schedule.days or week % schedule.every_weeks:
                continue
            starts = [midnight + timedelta(minutes=minute) for minute in schedule.times]
        elif schedule.frequency == "Hourly":
            # Runs at start + k x interval strictly inside the window (whether one lands exactly on its
            # end is UNVERIFIED: leaving it out gives the longer overnight gap, so no early alarm).
            first = midnight + timedelta(minutes=schedule.window_start)
            count = -(-schedule.window_minutes // schedule.interval_minutes)
            starts = [first + timedelta(minutes=k * schedule.interval_minutes) for k in range(count)]
        else:
            starts = [midnight + timedelta(minutes=minute) for minute in schedule.times]
        yield from starts


def _longest_gap(schedules: list[Schedule], zone: tzinfo) -> float | None:
    if not schedules:
        return None
    days = REFERENCE_DAYS + 7 * max(schedule.every_weeks for schedule in schedules)
    if zone is timezone.utc:  # without DST the runs repeat every period: two periods hold every gap
        days = min(days, 7 * (math.lcm(*(schedule.every_weeks for schedule in schedules)) + 1))
    instants = sorted(
        {
            moment.replace(tzinfo=zone).timestamp()
            for schedule in schedules
            for moment in _local_runs(schedule, days)
        }
    )
    if len(instants) < 2:
        return None
    return max(later - earlier for earlier, later in zip(instants, instants[1:], strict=False))


def expected_intervals(policy: Policy) -> dict[str, float]:
    """The longest gap in seconds between two scheduled recovery points, per kind (`backup`, `log`).

    `backup` merges every non-log schedule (a weekly Full and a daily Differential give a day); `log` is
    the log frequency. A kind without a schedule is absent; a policy without any gives `{}`.
    """
    return dict(_intervals(policy.time_zone, policy.schedules))


@functools.lru_cache(maxsize=4096)
def _intervals(time_zone: str, schedules: tuple[Schedule, ...]) -> tuple[tuple[str, float], ...]:
    """`expected_intervals` of a zone and schedules, computed once: a policy in a zone with daylight saving
    costs tens of milliseconds, and a thousand vaults hold the same few policies again and again."""
    result: list[tuple[str, float]] = []
    backups = [schedule for schedule in schedules if schedule.kind == BACKUP]
    gap = _longest_gap(backups, zone_of(time_zone))
    if gap is not None:
        result.append((BACKUP, gap))
    logs = [schedule.interval_minutes * 60.0 for schedule in schedules if schedule.kind == LOG]
    if logs:
        result.append((LOG, max(logs)))
    return tuple(result)
