"""Parsing of job resources: every format the reference allows, and a clear refusal of the rest."""

from __future__ import annotations

import pytest
from azure_backup_exporter.jobs import (
    MAX_DURATION_SECONDS,
    MAX_SIZE_BYTES,
    MalformedJob,
    VaultRef,
    is_plausible,
    parse_duration,
    parse_job,
    parse_size,
    parse_timestamp,
)
from hypothesis import given
from hypothesis import strategies as st

parts = st.tuples(
    st.integers(0, 365), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59), st.integers(0, 9_999_999)
)


@given(parts)
def test_iso_and_timespan_durations_agree(p: tuple[int, int, int, int, int]) -> None:
    days, hours, minutes, seconds, ticks = p
    expected = days * 86400 + hours * 3600 + minutes * 60 + seconds + ticks / 1e7
    iso = f"P{days}DT{hours}H{minutes}M{seconds}.{ticks:07d}S"
    timespan = f"{days}.{hours:02d}:{minutes:02d}:{seconds:02d}.{ticks:07d}"
    assert parse_duration(iso) == pytest.approx(expected, abs=1e-6)
    assert parse_duration(timespan) == pytest.approx(expected, abs=1e-6)


@given(st.integers(0, 10**6), st.sampled_from(["S", "M", "H"]))
def test_iso_single_unit(n: int, unit: str) -> None:
    seconds = n * {"S": 1, "M": 60, "H": 3600}[unit]
    if seconds <= MAX_DURATION_SECONDS:
        assert parse_duration(f"PT{n}{unit}") == seconds
    else:
        with pytest.raises(ValueError, match="duration over"):
            parse_duration(f"PT{n}{unit}")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H2M3.5S", 3723.5),
        ("P1DT2H", 93600.0),
        ("PT0S", 0.0),
        ("PT12.4272909S", 12.4272909),
        ("1.02:03:04.5000000", 93784.5),
        ("00:20:23.0896697", 1223.0896697),
        ("00:00:00", 0.0),
        ("0:00:01.781847", 1.781847),
    ],
)
def test_durations_from_the_reference(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "1:2", "12:61:00", "abc", "PT-1S", "1.25:00:00"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


units = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "KiB": 1024, "GiB": 1024**3}


@given(st.integers(0, 10**6), st.sampled_from(sorted(units)), st.sampled_from([" ", "", "  "]))
def test_whole_sizes_in_binary_units(n: int, unit: str, space: str) -> None:
    assert parse_size(f"{n}{space}{unit}") == n * units[unit]
    assert parse_size(f"{n}{space}{unit.lower()}") == n * units[unit]


@given(st.decimals(min_value=0, max_value=10**5, places=2, allow_nan=False, allow_infinity=False))
def test_fractional_sizes(number: object) -> None:
    assert parse_size(f"{number} GB") == round(float(str(number)) * 1024**3)


@pytest.mark.parametrize(
    ("text", "size"),
    [("2332 MB", 2332 * 1048576), ("1.5 GB", 1610612736), ("0 KB", 0), ("1,024 KB", 1048576)],
)
def test_sizes_from_the_reference(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "12 parsecs", "-5 MB", "1.2.3 GB"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_timestamps_with_seven_digit_fractions_and_offsets() -> None:
    assert parse_timestamp("2017-08-03T05:31:03.7553376Z") == pytest.approx(1501738263.7553376)
    assert parse_timestamp("2017-08-03T05:31:03") == 1501738263.0
    assert parse_timestamp("2017-08-03T06:31:03+01:00") == 1501738263.0
    assert parse_timestamp("0001-01-01T00:00:00.00000Z") is None


def test_vault_ids_are_case_insensitive() -> None:
    a = VaultRef.parse("/Subscriptions/S1/resourceGroups/RG/providers/microsoft.recoveryservices/vaults/v1")
    b = VaultRef.parse("/subscriptions/s1/resourcegroups/rg/providers/Microsoft.RecoveryServices/Vaults/V1/")
    assert a.key == b.key
    assert (a.subscription_id, a.resource_group, a.name) == ("S1", "RG", "v1")
    with pytest.raises(ValueError, match="expected /subscriptions"):
        VaultRef.parse("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x")


LIST_ITEM = {
    "id": "/Subscriptions/0000/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/backupJobs/j1",
    "name": "j1",
    "type": "Microsoft.RecoveryServices/vaults/backupJobs",
    "properties": {
        "jobType": "AzureIaaSVMJob",
        "duration": "00:20:23.0896697",
        "actionsInfo": [1],
        "entityFriendlyName": "testvm",
        "backupManagementType": "AzureIaasVM",
        "operation": "Backup",
        "status": "Completed",
        "startTime": "2018-03-29T14:59:19.0466016Z",
        "endTime": "2018-03-29T15:19:42.1362713Z",
        "activityId": "x",
        "extendedInfo": {"propertyBag": {"VM Name": "testvm", "Backup Size": "2332 MB"}},
    },
}


def test_a_real_2018_job_parses() -> None:
    job = parse_job(LIST_ITEM)
    assert (job.job_id, job.entity, job.operation, job.status) == ("j1", "testvm", "Backup", "Completed")
    assert job.duration_seconds == pytest.approx(1223.0896697)
    assert job.size_bytes == 2332 * 1048576
    assert job.finished and job.succeeded and job.error_code is None


def test_unknown_type_and_status_are_kept_and_extra_fields_ignored() -> None:
    item = {
        "name": "j2",
        "systemData": {},
        "eTag": "x",
        "properties": {
            "jobType": "FutureJob",
            "status": "Paused",
            "operation": "Backup (Log)",
            "startTime": "2026-11-26T01:00:00Z",
            "newField": [1, 2],
            "actionsInfo": ["Cancellable"],
            "errorDetails": [{"errorString": "no code"}],
        },
    }
    job = parse_job(item)
    assert (job.job_type, job.status, job.operation, job.entity) == (
        "FutureJob",
        "Paused",
        "Backup (Log)",
        "",
    )
    assert not job.finished and job.end_time is None
    assert job.error_code == "Unknown"


def _failed(details: list[object], status: str = "Failed") -> dict[str, object]:
    return {
        "name": "j3",
        "properties": {
            "status": status,
            "startTime": "2026-11-26T01:00:00Z",
            "endTime": "2026-11-26T01:05:00Z",
            "errorDetails": details,
        },
    }


def test_error_code_is_the_name_operators_search_for_when_azure_gives_one() -> None:
    # recorded from the live service: an integer code, the name in errorTitle
    job = parse_job(
        _failed(
            [
                {
                    "errorCode": 400136,
                    "errorTitle": "UserErrorVmNotFoundV2",
                    "errorString": "Virtual machine doesn't exist.",
                    "recommendations": ["Please make sure that virtual machine exists."],
                }
            ]
        )
    )
    assert job.error_code == "UserErrorVmNotFoundV2" and job.finished and not job.succeeded
    assert job.reported_duration == 300.0


def test_error_code_falls_back_to_the_integer_when_azure_names_no_error() -> None:
    # AzureStorageJob error details carry no errorTitle, and their errorString is a sentence
    storage = [
        {"errorCode": 1073871825, "errorString": "Microsoft Azure Backup encountered an internal error."}
    ]
    assert parse_job(_failed(storage)).error_code == "1073871825"
    assert parse_job(_failed([{"errorCode": 510008, "errorTitle": ""}])).error_code == "510008"
    assert parse_job(_failed([{"errorString": "UserErrorSqlLogChainBroken"}])).error_code == (
        "UserErrorSqlLogChainBroken"
    )


def test_a_job_completed_with_warnings_keeps_its_error_details() -> None:
    details = [{"errorCode": 400309, "errorTitle": "UserErrorGenericResourceNotFound", "errorString": "x"}]
    job = parse_job(_failed(details, status="CompletedWithWarnings"))
    assert job.succeeded and job.error_code == "UserErrorGenericResourceNotFound"


def _with_bag(bag: dict[str, object], **extra: object) -> dict[str, object]:
    return {
        "name": "s1",
        "properties": {
            "status": "Completed",
            "startTime": "2024-06-01T01:00:00.1234Z",
            "endTime": "2024-06-01T01:04:00Z",
            "extendedInfo": {"tasksList": [], "propertyBag": bag},
            **extra,
        },
    }


@pytest.mark.parametrize(
    ("bag", "size"),
    [
        ({"VM Name": "vm1", "Backup Size": "10240 MB"}, 10240 * 2**20),  # IaaS VM backup
        ({"Data Transferred (in MB)": "20.1147"}, round(20.1147 * 2**20)),  # file share, database
        ({"Data Transferred (in MB)": "0"}, 0),
        (
            {"Data Transferred (in MB)": "1680.3164", "Job Type": "Recover to an alternate location"},
            round(1680.3164 * 2**20),
        ),
        ({"Data Transferred (in MB)": "3 GB"}, 3 * 2**30),  # a value naming its own unit is read so
        ({"Backup Size": "2 MB", "Data Transferred (in MB)": "9"}, 2 * 2**20),  # Backup Size first
        ({"Policy Name": "DefaultPolicy"}, None),
        ({"Data Transferred (in MB)": ""}, None),
    ],
)
def test_size_from_backup_size_else_data_transferred(bag: dict[str, object], size: int | None) -> None:
    assert parse_job(_with_bag(bag)).size_bytes == size


def test_an_unreadable_data_transferred_is_a_malformed_size() -> None:
    with pytest.raises(MalformedJob) as caught:
        parse_job(_with_bag({"Data Transferred (in MB)": "lots"}))
    assert caught.value.reason == "bad_size"


def test_real_shapes_parse() -> None:
    """Shapes seen in the live recordings and nowhere in the documentation."""
    job = parse_job(
        {
            "id": "/Subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
            "Microsoft.RecoveryServices/vaults/v/backupJobs/e0d6ac3b",
            "name": "e0d6ac3b",
            "properties": {
                "jobType": "AzureWorkloadJobV2",
                "workloadType": "SAPHanaDatabase",
                "operation": "RestoreWithRehydrate",
                "status": "Completed",
                "entityFriendlyName": "systemdb",
                "backupManagementType": "AzureWorkload",
                "duration": "PT1H40.4431187S",
                "actionsInfo": [1],
                "startTime": "2023-03-15T04:46:39.3441Z",
                "endTime": "2023-03-15T06:27:19.78722Z",
            },
        }
    )
    assert (job.job_type, job.operation, job.workload_type) == (
        "AzureWorkloadJobV2",
        "RestoreWithRehydrate",
        "SAPHanaDatabase",
    )
    assert job.duration_seconds == pytest.approx(3600 + 40.4431187)
    assert parse_job({"name": "z", "properties": {"startTime": "2024-01-01T00:00:00Z"}}).workload_type is None


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ([], "not_an_object"),
        ({"name": "x"}, "no_properties"),
        ({"name": "x", "properties": {}}, "no_start_time"),
        ({"name": "x", "properties": {"startTime": "yesterday"}}, "bad_time"),
        (
            {"name": "x", "properties": {"startTime": "2026-11-26T01:00:00Z", "duration": "soon"}},
            "bad_duration",
        ),
        ({"properties": {"startTime": "2026-11-26T01:00:00Z"}}, "no_name"),
    ],
)
def test_malformed_jobs_name_their_reason(item: object, reason: str) -> None:
    with pytest.raises(MalformedJob) as caught:
        parse_job(item)
    assert caught.value.reason == reason


def test_a_finished_job_without_end_time_ends_after_its_duration() -> None:
    item = {
        "name": "j4",
        "properties": {"status": "Completed", "startTime": "2026-11-26T01:00:00Z", "duration": "PT20M"},
    }
    job = parse_job(item)
    assert job.end_time is None and job.finished_at == job.start_time + 1200


# --- hostile values ----------------------------------------------------------------------------------

STARTED = "2026-11-26T01:00:00Z"


def job_with(**properties: object) -> dict[str, object]:
    return {"name": "h1", "properties": {"status": "Completed", "startTime": STARTED, **properties}}


def sized(text: str) -> dict[str, object]:
    return {"extendedInfo": {"propertyBag": {"Backup Size": text}}}


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"duration": "1" * 400 + ".00:00:00"}, "bad_duration"),  # a TimeSpan of 400 digits of days
        ({"duration": "P" + "9" * 400 + "D"}, "bad_duration"),  # an ISO duration of +Inf seconds
        ({"duration": "P367D"}, "bad_duration"),
        ({"duration": "-P367D"}, "bad_duration"),
        ({"endTime": "9999-12-31T23:00:00-14:00"}, "bad_time"),  # past year 9999 once in UTC
        ({"startTime": "1969-12-31T23:59:59Z"}, "bad_time"),
        ({"startTime": "0002-01-01T00:00:00Z"}, "bad_time"),
        ({"endTime": "2026-11-26T01:00:00+99:00"}, "bad_time"),
        (sized("9" * 400 + " PB"), "bad_size"),
        (sized("1025 PB"), "bad_size"),
    ],
)
def test_absurd_values_are_malformed_not_overflows(properties: dict[str, object], reason: str) -> None:
    with pytest.raises(MalformedJob) as caught:
        parse_job(job_with(**properties))
    assert caught.value.reason == reason
    assert len(str(caught.value)) < 200  # the offending text is cut short in the log line


def test_the_bounds_themselves_still_parse() -> None:
    assert parse_duration("P366D") == MAX_DURATION_SECONDS
    assert parse_size("1024 PB") == MAX_SIZE_BYTES
    assert parse_timestamp("1970-01-01T00:00:00Z") == 0.0
    assert parse_timestamp("9999-12-31T23:59:59Z") == 253402300799.0
    assert parse_timestamp("9999-12-31T23:00:00+14:00") == 253402300799.0 - 14 * 3600 - 3599


def test_lone_surrogates_become_replacement_characters() -> None:
    fields = ("entityFriendlyName", "operation", "status", "backupManagementType", "jobType")
    job = parse_job(
        {
            **job_with(**dict.fromkeys(fields, "a\ud800b"), errorDetails=[{"errorCode": "\udc80"}]),
            "name": "j\udfff",
        }
    )
    labels = (job.entity, job.operation, job.status, job.backup_management_type, job.job_type)
    assert labels == ("a\ufffdb",) * 5
    assert (job.job_id, job.error_code) == ("j\ufffd", "\ufffd")
    vault = VaultRef.parse(
        "/subscriptions/s\ud800/resourceGroups/rg\udbff/providers/Microsoft.RecoveryServices/vaults/v\udc00"
    )
    assert (vault.subscription_id, vault.resource_group, vault.name) == ("s\ufffd", "rg\ufffd", "v\ufffd")


def test_a_job_far_in_the_future_is_implausible() -> None:
    now = parse_timestamp("2026-11-26T12:00:00Z")
    assert now is not None
    assert is_plausible(parse_job(job_with()), now)
    assert is_plausible(parse_job(job_with(startTime="2026-11-27T11:00:00Z")), now)  # clocks disagree
    assert not is_plausible(parse_job(job_with(startTime="2099-01-01T00:00:00Z")), now)
    assert not is_plausible(parse_job(job_with(endTime="2099-01-01T00:00:00Z")), now)
