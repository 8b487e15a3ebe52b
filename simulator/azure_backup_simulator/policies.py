"""Backup policies: when each protected item backs up, and how Azure writes that (ProtectionPolicyResource).

A `Schedule` is the timing of one policy: the daily, weekly or hourly runs of its backups, in its time
zone. The simulator starts an item's scheduled jobs at its policy's runs, and serves the policy under
`backupPolicies`, so the jobs an exporter sees follow the schedule the policy it reads announces.

Times of day are wall-clock times in the policy's `timeZone` (azure-api-protected-items.md section 2.1),
so a policy in a zone with daylight saving runs an hour earlier or later in UTC across the change.
Shapes follow the recordings (backup-policies.jsonl) where they have them; hourly file-share policies
and weekly workload differentials come from the spec and its examples (none recorded).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WINDOWS_ZONES = {
    "UTC": "UTC",
    "India Standard Time": "Asia/Kolkata",
    "Pacific Standard Time": "America/Los_Angeles",
    "W. Europe Standard Time": "Europe/Berlin",
}
_STANDARD_OFFSETS = {
    "UTC": 0,
    "India Standard Time": 330,
    "Pacific Standard Time": -480,
    "W. Europe Standard Time": 60,
}
"""Minutes east of UTC without daylight saving: the zone on a machine without tzdata."""
POLICY_RESOURCE_TYPE = "Microsoft.RecoveryServices/vaults/backupPolicies"
_REFERENCE_DAY = "2026-01-05"
"""The date written before every schedule time (`2026-01-05T22:30:00Z`): only the time counts."""


def zone(name: str) -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(WINDOWS_ZONES[name])
    except Exception:  # no tzdata: the standard offset, no daylight saving
        return timezone(timedelta(minutes=_STANDARD_OFFSETS.get(name, 0)))


@dataclass(frozen=True)
class Schedule:
    """The runs of one policy, in its zone. `frequency` is Daily, Weekly or Hourly; for Hourly, runs
    every `interval_hours` from `window_start` (minutes of the day) while inside `window_hours`.
    Workload policies run Full on `full_days` and Differential on their other days (`days`)."""

    frequency: str
    times: tuple[int, ...] = ()  # minutes of the day
    days: tuple[int, ...] = tuple(range(7))  # Monday is 0
    interval_hours: int = 0
    window_start: int = 0
    window_hours: int = 24
    time_zone: str = "UTC"
    full_days: tuple[int, ...] = ()

    def week_minutes(self) -> tuple[int, ...]:
        """Every run as minutes from Monday 00:00, local time, sorted."""
        if self.frequency == "Hourly":
            step = self.interval_hours * 60
            count = math.ceil(self.window_hours * 60 / step)  # runs strictly inside the window
            of_day = [self.window_start + k * step for k in range(count)]
        else:
            of_day = list(self.times)
        return tuple(sorted({(day * 1440 + minute) % 10080 for day in self.days for minute in of_day}))

    def next_run(self, after: float) -> float:
        """The first run strictly after `after` (UTC epoch seconds)."""
        monday = _local_monday(self, after)
        for week in range(-1, 3):
            runs = _week_runs(self, monday + 7 * week)
            index = bisect_right(runs, after)
            if index < len(runs):
                return runs[index]
        raise ValueError("a schedule without runs")

    def run_at_or_before(self, moment: float) -> float | None:
        monday = _local_monday(self, moment)
        for week in range(1, -3, -1):
            runs = _week_runs(self, monday + 7 * week)
            index = bisect_right(runs, moment)
            if index:
                return runs[index - 1]
        return None

    def is_full(self, run: float) -> bool:
        """Whether the workload run at `run` is a Full backup (its local weekday is a full day)."""
        return datetime.fromtimestamp(run, zone(self.time_zone)).weekday() in self.full_days


def _local_monday(schedule: Schedule, moment: float) -> int:
    local = datetime.fromtimestamp(moment, zone(schedule.time_zone)).date()
    return local.toordinal() - local.weekday()


@lru_cache(maxsize=8192)
def _week_runs(schedule: Schedule, monday: int) -> tuple[float, ...]:
    """UTC instants of the week starting on local Monday `monday` (an ordinal)."""
    tz = zone(schedule.time_zone)
    start = datetime.combine(date.fromordinal(monday), datetime.min.time())
    return tuple(
        sorted(
            (start + timedelta(minutes=minute)).replace(tzinfo=tz).timestamp()
            for minute in schedule.week_minutes()
        )
    )


@dataclass(frozen=True)
class Policy:
    """A vault's backup policy: its name, what it protects, how Azure writes it, and its schedule.

    `listed` is False for the schedules of MARS, DPM and MABS items, which the recordings never show
    under backupPolicies (their items carry no policyId): those run, but are not served."""

    name: str
    management_type: str
    schedule: Schedule
    version: str = "V1"  # V2: SimpleSchedulePolicyV2, the enhanced VM policy
    workload_type: str = ""
    listed: bool = True


def _clock(minute: int) -> str:
    return f"{_REFERENCE_DAY}T{minute // 60:02d}:{minute % 60:02d}:00Z"


def _retention(times: list[str], days: int = 30) -> dict:
    return {
        "retentionPolicyType": "LongTermRetentionPolicy",
        "dailySchedule": {
            "retentionTimes": times,
            "retentionDuration": {"count": days, "durationType": "Days"},
        },
    }


def _simple_schedule(schedule: Schedule, days: tuple[int, ...] | None = None) -> dict:
    body: dict = {"schedulePolicyType": "SimpleSchedulePolicy", "scheduleRunFrequency": schedule.frequency}
    if schedule.frequency == "Weekly":
        body["scheduleRunDays"] = [WEEKDAYS[day] for day in (days if days is not None else schedule.days)]
    if schedule.frequency == "Hourly":
        body["hourlySchedule"] = _hourly(schedule)
    else:
        body["scheduleRunTimes"] = [_clock(minute) for minute in schedule.times]
    body["scheduleWeeklyFrequency"] = 0
    return body


def _hourly(schedule: Schedule) -> dict:
    return {
        "interval": schedule.interval_hours,
        "scheduleWindowStartTime": _clock(schedule.window_start),
        "scheduleWindowDuration": schedule.window_hours,
    }


def render_policy(policy: Policy, vault_id: str, items: int, log_minutes: int) -> dict:
    """The ProtectionPolicyResource of `policy`, as listed under the vault's backupPolicies."""
    schedule = policy.schedule
    first_time = [_clock(schedule.times[0] if schedule.times else schedule.window_start)]
    properties: dict = {"backupManagementType": policy.management_type}
    if policy.management_type == "AzureWorkload":
        properties["workLoadType"] = policy.workload_type
        properties["settings"] = {
            "timeZone": schedule.time_zone,
            "issqlcompression": False,
            "isCompression": False,
        }
        differential_days = tuple(day for day in schedule.days if day not in schedule.full_days)
        full = Schedule("Weekly", schedule.times, schedule.full_days, time_zone=schedule.time_zone)
        subs = [
            {
                "policyType": "Full",
                "schedulePolicy": _simple_schedule(full),
                "retentionPolicy": _retention(first_time),
            }
        ]
        if differential_days:
            subs.append(
                {
                    "policyType": "Differential",
                    "schedulePolicy": _simple_schedule(full, differential_days),
                    "retentionPolicy": {
                        "retentionPolicyType": "SimpleRetentionPolicy",
                        "retentionDuration": {"count": 30, "durationType": "Days"},
                    },
                }
            )
        subs.append(
            {
                "policyType": "Log",
                "schedulePolicy": {
                    "schedulePolicyType": "LogSchedulePolicy",
                    "scheduleFrequencyInMins": log_minutes,
                },
                "retentionPolicy": {
                    "retentionPolicyType": "SimpleRetentionPolicy",
                    "retentionDuration": {"count": 15, "durationType": "Days"},
                },
            }
        )
        properties["subProtectionPolicy"] = subs
    else:
        if policy.management_type == "AzureStorage":
            properties["workLoadType"] = "AzureFileShare"
        if policy.version == "V2":
            properties["policyType"] = "V2"
        if policy.management_type == "AzureIaasVM":
            properties["instantRPDetails"] = {}
        if policy.version == "V2":
            schedule_body: dict = {
                "schedulePolicyType": "SimpleSchedulePolicyV2",
                "scheduleRunFrequency": schedule.frequency,
            }
            if schedule.frequency == "Hourly":
                schedule_body["hourlySchedule"] = _hourly(schedule)
            elif schedule.frequency == "Weekly":
                schedule_body["weeklySchedule"] = {
                    "scheduleRunDays": [WEEKDAYS[day] for day in schedule.days],
                    "scheduleRunTimes": first_time,
                }
            else:
                schedule_body["dailySchedule"] = {"scheduleRunTimes": first_time}
        else:
            schedule_body = _simple_schedule(schedule)
        properties["schedulePolicy"] = schedule_body
        properties["retentionPolicy"] = _retention(first_time)
        if policy.management_type == "AzureIaasVM":
            properties["instantRpRetentionRangeInDays"] = 2
        properties["timeZone"] = schedule.time_zone
    properties["protectedItemsCount"] = items
    return {
        "id": f"{vault_id}/backupPolicies/{policy.name}",
        "name": policy.name,
        "type": POLICY_RESOURCE_TYPE,
        "properties": properties,
    }
