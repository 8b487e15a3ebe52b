"""Backup policies parse, and the longest gap between scheduled recovery points is what a person counts.

Every policy shape of the official examples and of the recordings (tests/fixtures/inventory) with its
interval written out by hand, a non-UTC zone across DST, the tolerant cases, and a fuzz: any JSON either
parses or raises `MalformedPolicy`, and `expected_intervals` never raises.
"""

from __future__ import annotations

import json
import os
from datetime import timezone
from pathlib import Path

import pytest
from azure_backup_exporter.policies import (
    WINDOWS_ZONES,
    MalformedPolicy,
    expected_intervals,
    parse_policy,
    policy_key,
    zone_of,
)
from hypothesis import given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).parents[1] / "fixtures" / "inventory"
EXAMPLES = FIXTURES / "examples" / "2025-08-01"
H = 3600.0


def example(path: str, name: str | None = None) -> dict:
    body = json.loads((EXAMPLES / path).read_text())["responses"]["200"]["body"]
    for resource in body.get("value", [body]):
        if name is None or resource["name"] == name:
            return resource
    raise KeyError(name)


def recorded(name: str, source_end: str = "") -> dict:
    for line in (FIXTURES / "recorded-backup-policies.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["policy"]["name"] == name and record["source"].endswith(source_end):
            return record["policy"]
    raise KeyError(name)


def hours(resource: dict) -> dict[str, float]:
    return {kind: gap / H for kind, gap in expected_intervals(parse_policy(resource)).items()}


def tzdata_available() -> bool:
    return zone_of("Pacific Standard Time") is not timezone.utc  # a ZoneInfo, not the UTC fallback


# Under CI a missing tzdata fails these tests instead of skipping them.
needs_tzdata = pytest.mark.skipif(
    not tzdata_available() and os.environ.get("CI") != "true", reason="no tzdata: zones fall back to UTC"
)


# --- the official examples ------------------------------------------------------------------------


def test_daily_v1_in_utc_is_a_day() -> None:
    policy = parse_policy(example("AzureIaasVm/BackupPolicies_List.json", "DefaultPolicy"))
    assert (policy.name, policy.backup_management_type, policy.time_zone) == (
        "defaultpolicy",
        "AzureIaasVM",
        "",
    )
    assert hours(example("AzureIaasVm/BackupPolicies_List.json", "DefaultPolicy")) == {"backup": 24.0}


@needs_tzdata
def test_daily_at_two_in_pacific_time_is_25_hours_the_night_clocks_go_back() -> None:
    # 02:00 PDT on the Saturday, 02:00 PST on the Sunday of the first weekend of November.
    assert hours(example("AzureIaasVm/ProtectionPolicies_Get.json")) == {"backup": 25.0}
    assert hours(example("AzureIaasVm/V2Policy/v2-Get-Policy.json")) == {"backup": 25.0}  # V2 dailySchedule


@needs_tzdata
def test_weekly_monday_wednesday_thursday_is_thursday_to_monday_plus_the_dst_hour() -> None:
    # Thu 10:00 -> Mon 10:00 is 96 h on the wall clock; the weekend of November's change adds an hour.
    policy = example("AzureIaasVm/ProtectionPolicies_CreateOrUpdate_Complex.json")
    assert hours(policy) == {"backup": 97.0}


def test_weekly_several_days_in_utc_is_the_longest_run_between_days() -> None:
    # Sunday, Monday and Wednesday at 20:30 (recorded, no time zone): Wednesday -> Sunday is 4 days.
    assert hours(recorded("RsvTestPolicy")) == {"backup": 96.0}


def test_enhanced_hourly_every_4_h_for_16_h_in_india_is_the_12_h_night() -> None:
    # Runs at 08, 12, 16, 20 IST; 20:00 -> 08:00 is 12 h. India keeps no DST.
    resource = example("AzureIaasVm/V2Policy/IaaS_v2_hourly.json")
    assert parse_policy(resource).time_zone == "India Standard Time"
    assert hours(resource) == {"backup": 12.0}


def test_file_share_several_times_a_day_every_4_h_for_12_h_is_16_h() -> None:
    # Runs at 08, 12, 16 (a run exactly at the window's end, 20:00, is not assumed); 16:00 -> 08:00.
    assert hours(example("AzureStorage/ProtectionPolicies_CreateOrUpdate_Hourly.json")) == {"backup": 16.0}


def test_workload_daily_full_and_hourly_log() -> None:
    resource = example("AzureWorkload/BackupPolicies_List.json", "HourlyLogBackup")
    assert hours(resource) == {"backup": 24.0, "log": 1.0}


def test_workload_weekly_full_weekly_differential_and_log() -> None:
    # Full Sunday and Tuesday, Differential Friday, all 10:00 Pacific: Tuesday -> Friday is the longest
    # (72 h; the DST weekend falls in Friday -> Sunday, 49 h).
    policy = parse_policy(example("AzureWorkload/ProtectionPolicies_CreateOrUpdate_Complex.json"))
    assert [schedule.policy_type for schedule in policy.schedules] == ["Full", "Differential", "Log"]
    assert policy.time_zone == "Pacific Standard Time"  # from settings.timeZone
    assert {k: v / H for k, v in expected_intervals(policy).items()} == {"backup": 72.0, "log": 1.0}


# --- the recordings --------------------------------------------------------------------------------


def test_recorded_enhanced_hourly_every_4_h_for_12_h_is_16_h() -> None:
    assert hours(recorded("EnhancedPolicy")) == {"backup": 16.0}


def test_recorded_weekly_full_and_weekly_differential_is_the_long_way_round() -> None:
    # Full Tuesday 03:00, Differential Monday 12:00: Tuesday 03:00 -> Monday 12:00 is 6 d 9 h.
    assert hours(recorded("hana-policy-ccy")) == {"backup": 153.0, "log": 2.0}


def test_recorded_weekly_full_and_weekly_incremental() -> None:
    # Full Monday 12:00, Incremental Thursday 10:30: Thursday 10:30 -> Monday 12:00 is 97.5 h.
    assert hours(recorded("hana-policy-test")) == {"backup": 97.5, "log": 2.0}


def test_recorded_daily_full_and_daily_snapshot_copy_only_full_is_12_h() -> None:
    # Full at 12:00, SnapshotCopyOnlyFull at 00:00 (Daily, so its scheduleRunDays [Sunday] is ignored).
    assert hours(recorded("testpolicy", "test_backup_wl_sql_policy.yaml")) == {"backup": 12.0}


def test_recorded_log_every_15_minutes() -> None:
    assert hours(recorded("log15min")) == {"backup": 24.0, "log": 0.25}


def test_recorded_weekly_one_day_is_a_week() -> None:
    assert hours(recorded("DefaultPolicy", "test_backup_wl_sql_policy.yaml")) == {"backup": 168.0}


def test_every_recorded_policy_shape_parses_and_azure_sql_has_no_schedule() -> None:
    lines = (FIXTURES / "recorded-backup-policies.jsonl").read_text().splitlines()
    results = {json.loads(line)["policy"]["name"]: hours(json.loads(line)["policy"]) for line in lines}
    assert len(results) >= 14
    assert results["AzureSqlPolicy34894"] == {}
    assert all(result for name, result in results.items() if name != "AzureSqlPolicy34894")


# --- rules and tolerance ---------------------------------------------------------------------------


def policy(schedule: dict, zone: str | None = "UTC", management: str = "AzureIaasVM") -> dict:
    properties = {"backupManagementType": management, "schedulePolicy": schedule}
    if zone is not None:
        properties["timeZone"] = zone
    return {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v/"
            "backupPolicies/P", "name": "P", "properties": properties}  # fmt: skip


def daily(*times: str) -> dict:
    return {"schedulePolicyType": "SimpleSchedulePolicy", "scheduleRunFrequency": "Daily",
            "scheduleRunTimes": [f"2024-01-01T{time}:00Z" for time in times]}  # fmt: skip


def test_daily_several_times_wraps_midnight() -> None:
    # 06:00, 09:00, 21:00: 09 -> 21 (12 h) beats 21 -> 06 across midnight (9 h) and 06 -> 09 (3 h).
    assert hours(policy(daily("06:00", "09:00", "21:00"))) == {"backup": 12.0}
    assert hours(policy(daily("01:00", "23:00"))) == {"backup": 22.0}


@needs_tzdata
def test_dst_counts_only_where_the_change_falls_inside_the_gap() -> None:
    # W. Europe: the clocks go back at 03:00 CEST. Runs 01:00 and 04:00: the 3 h gap holds the change
    # (4 h that night), the 21 h gap never does.
    assert hours(policy(daily("01:00", "04:00"), "W. Europe Standard Time")) == {"backup": 21.0}
    assert hours(policy(daily("09:30"), "W. Europe Standard Time")) == {"backup": 25.0}


def test_unknown_zone_and_absent_zone_read_the_wall_clock_as_utc() -> None:
    assert hours(policy(daily("09:30"), "Mars Standard Time")) == {"backup": 24.0}
    assert hours(policy(daily("09:30"), None)) == {"backup": 24.0}


@needs_tzdata
def test_every_windows_zone_in_the_table_resolves() -> None:
    unresolved = [name for name in WINDOWS_ZONES if name != "utc" and zone_of(name) is timezone.utc]
    assert unresolved == []


def test_weekly_every_two_weeks_is_a_fortnight() -> None:
    schedule = {"schedulePolicyType": "SimpleSchedulePolicy", "scheduleRunFrequency": "Weekly",
                "scheduleRunDays": ["Monday"], "scheduleRunTimes": ["2024-01-01T10:00:00Z"],
                "scheduleWeeklyFrequency": 2}  # fmt: skip
    assert hours(policy(schedule)) == {"backup": 336.0}


def test_hourly_window_of_24_h_is_the_interval() -> None:
    schedule = {"schedulePolicyType": "SimpleSchedulePolicyV2", "scheduleRunFrequency": "Hourly",
                "hourlySchedule": {"interval": 6, "scheduleWindowStartTime": "2024-01-01T22:00:00Z",
                                   "scheduleWindowDuration": 24}}  # fmt: skip
    assert hours(policy(schedule)) == {"backup": 6.0}


@pytest.mark.parametrize(
    "schedule",
    [
        {"schedulePolicyType": "LongTermSchedulePolicy"},
        {"schedulePolicyType": "SimpleSchedulePolicy", "scheduleRunFrequency": "Monthly"},
        {"schedulePolicyType": "SomethingNew", "scheduleRunFrequency": "Daily"},
        {
            "schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": "Daily",
            "scheduleRunTimes": [],
        },
        {
            "schedulePolicyType": "SimpleSchedulePolicy",
            "scheduleRunFrequency": "Weekly",
            "scheduleRunTimes": ["2024-01-01T10:00:00Z"],
        },
    ],
)
def test_a_shape_without_a_known_schedule_gives_no_interval(schedule: dict) -> None:
    assert expected_intervals(parse_policy(policy(schedule))) == {}


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ([], "not_an_object"),
        ({"name": "p"}, "no_properties"),
        ({"name": "p", "properties": {}}, "no_backup_management_type"),
        (
            policy(
                {
                    "schedulePolicyType": "SimpleSchedulePolicy",
                    "scheduleRunFrequency": "Daily",
                    "scheduleRunTimes": ["ten o'clock"],
                }
            ),
            "bad_time",
        ),  # fmt: skip
        (
            policy(
                {
                    "schedulePolicyType": "SimpleSchedulePolicy",
                    "scheduleRunFrequency": "Weekly",
                    "scheduleRunDays": ["Caturday"],
                    "scheduleRunTimes": ["2024-01-01T10:00:00Z"],
                }
            ),
            "bad_day",
        ),  # fmt: skip
        (
            policy(
                {
                    "schedulePolicyType": "SimpleSchedulePolicyV2",
                    "scheduleRunFrequency": "Hourly",
                    "hourlySchedule": {"interval": 0, "scheduleWindowStartTime": "2024-01-01T08:00:00Z"},
                }
            ),
            "bad_number",
        ),  # fmt: skip
        (policy("daily"), "bad_field"),  # type: ignore[arg-type]
    ],
)
def test_garbage_is_a_malformed_policy_with_a_short_reason(resource: object, reason: str) -> None:
    with pytest.raises(MalformedPolicy) as caught:
        parse_policy(resource)
    assert caught.value.reason == reason


def test_policy_key_matches_items_policy_id_and_name() -> None:
    policy_id = (
        "/Subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/vaults/v/backupPolicies/"
    )
    assert policy_key(policy_id + "DefaultPolicy") == policy_key("DefaultPolicy") == "defaultpolicy"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=25), children, max_size=5)
    ),
    max_leaves=25,
)
field_values = (
    st.sampled_from(
        [
            None,
            "",
            "Daily",
            "Weekly",
            "Hourly",
            "SimpleSchedulePolicy",
            "SimpleSchedulePolicyV2",
            "LogSchedulePolicy",
            "2024-01-01T08:00:00Z",
            ["Monday"],
            ["2024-01-01T25:00:00Z"],
            0,
            4,
            -1,
            1e300,
            True,
            {"interval": 4},
            [],
            {},
        ]  # fmt: skip
    )
    | json_values
)
schedule_keys = st.sampled_from(
    [
        "schedulePolicyType",
        "scheduleRunFrequency",
        "scheduleRunTimes",
        "scheduleRunDays",
        "hourlySchedule",
        "dailySchedule",
        "weeklySchedule",
        "scheduleFrequencyInMins",
        "scheduleWeeklyFrequency",
        "interval",
        "scheduleWindowStartTime",
        "scheduleWindowDuration",
    ]  # fmt: skip
)


@settings(max_examples=150, deadline=None)
@given(
    top=json_values,
    schedule=st.dictionaries(schedule_keys, field_values, max_size=8),
    zone=st.sampled_from(["UTC", "Pacific Standard Time", "", "Nowhere"]) | json_values,
)
def test_any_json_parses_or_is_malformed_and_intervals_never_raise(
    top: object, schedule: dict, zone: object
) -> None:
    properties = {
        "backupManagementType": "AzureIaasVM",
        "schedulePolicy": schedule,
        "timeZone": zone,
        "subProtectionPolicy": [{"policyType": "Full", "schedulePolicy": schedule}],
    }
    for resource in (top, {"name": "p", "properties": properties}):
        try:
            parsed = parse_policy(resource)
        except MalformedPolicy:
            continue
        for gap in expected_intervals(parsed).values():
            assert 0 < gap <= 53 * 7 * 86400
