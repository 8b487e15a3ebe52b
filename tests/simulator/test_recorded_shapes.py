"""The simulator answers like the live service as recorded: per job type, operation and status, the same
keys, the same propertyBag entries, the same forms of sizes, times, durations, actionsInfo, error details
and ids (tests/fixtures/recorded-job-shapes.json, made by make_recorded_shapes.py from real responses).
And it leaves out of the job list what Azure leaves out: scheduled SQL log backups, scheduled SAP HANA jobs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from .clients import START, ArmClient, Control
from .job_shapes import fraction_digits, job_shape

RECORDED = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "recorded-job-shapes.json").read_text(
        encoding="utf-8"
    )
)["pairs"]
RECORDED_IDS = {form for pair in RECORDED.values() for form in pair["ids"]}
"""The casings of job ids seen (any job type: a vault's ids do not depend on the job)."""
VAULT_FORMS = {
    field: {form for pair in RECORDED.values() for form in pair["forms"].get(field, [])}
    for field in ("duration", "actionsInfo")
}
"""Forms of an era, not of a job type (TimeSpan durations were recorded in 2016-17, when only VMs were
backed up): compared with those of every recorded job type. The simulator's legacy vaults use them for
every kind."""
DETAILS_PER_CELL = 15


def required(counts: dict, jobs: int) -> set[str]:
    """Keys every recorded job of the group had."""
    return {key for key, count in counts.items() if count == jobs}


@pytest.fixture(scope="module")
def estate():
    """A varied estate, hidden jobs listed too (their shapes count), read once: every list item, and up
    to DETAILS_PER_CELL single GETs per job type, operation and status."""
    from azure_backup_simulator import Simulator, SimulatorConfig

    config = SimulatorConfig(
        seed=13,
        subscriptions=2,
        vaults=24,
        entities_per_vault=16,
        history_days=3,
        start_time=START,
        failure_rate=0.1,
        warning_rate=0.1,
        list_hidden_scheduled_jobs=True,
        throttle_capacity=1_000_000,  # thousands of single GETs: ARM's read limit is not under test here
    )
    with Simulator(config) as sim:
        arm = ArmClient(sim)
        listed = [job for vault in Control(sim).estate()["vaults"] for job in arm.list_all_jobs(vault)]
        taken: dict[tuple, int] = defaultdict(int)
        details = []
        for job in listed:
            properties = job["properties"]
            cell = (properties["jobType"], properties["operation"], properties["status"])
            if taken[cell] < DETAILS_PER_CELL:
                taken[cell] += 1
                details.append(arm.get(job["id"]).json())
        yield listed, details


def compared(jobs: list[dict]) -> list[tuple[dict, dict, dict]]:
    """(job, its recorded pair, its recorded status) for jobs whose type, operation and status were
    recorded."""
    out = []
    for job in jobs:
        properties = job["properties"]
        pair = RECORDED.get(f"{properties['jobType']}|{properties['operation']}")
        if pair and properties["status"] in pair["statuses"]:
            out.append((job, pair, pair["statuses"][properties["status"]]))
    return out


def assert_like_recorded(job: dict, pair: dict, status: dict, form: str) -> None:
    properties = job["properties"]
    where = f"{form} {properties['jobType']} {properties['operation']} {properties['status']}"
    shape = job_shape(job)
    keys = set(shape["keys"])
    allowed, must = set(pair["keys"]), required(status["keys"], status["jobs"])
    if form == "list":
        allowed, must = allowed - {"extendedInfo"}, must - {"extendedInfo"}
        assert "extendedInfo" not in keys, f"{where}: lists carry no extendedInfo"
    assert keys <= allowed, f"{where}: keys never recorded: {keys - allowed}"
    assert must <= keys, f"{where}: keys always recorded, missing: {must - keys}"
    for field, value_form in shape["forms"].items():
        recorded = VAULT_FORMS.get(field, pair["forms"].get(field, []))
        assert value_form in recorded, f"{where}: {field} {value_form} never recorded"
    for detail in shape["errorDetails"]:
        assert detail in pair["errorDetails"], f"{where}: errorDetails {detail} never recorded"
    assert shape["id"] in RECORDED_IDS, f"{where}: id form {shape['id']}"
    if form == "get":
        assert set(shape["extendedInfo"]) <= set(pair["extendedInfo"]), f"{where}: {shape['extendedInfo']}"
        bag = set(shape["propertyBag"])
        assert bag <= set(pair["propertyBag"]), f"{where}: propertyBag {bag - set(pair['propertyBag'])}"
        must_bag = required(status["propertyBag"], status["jobs"])
        assert must_bag <= bag, f"{where}: propertyBag always has {must_bag - bag}"
        for field, value_form in shape["sizes"].items():
            assert value_form in pair["sizes"].get(field, []), f"{where}: {field} {value_form} never recorded"
        assert set(shape["tasks"]) <= set(pair["tasks"]), f"{where}: tasks {shape['tasks']}"


def test_list_items_have_the_recorded_fields_per_job_type_operation_and_status(estate) -> None:
    listed, _ = estate
    pairs = compared(listed)
    for job, pair, status in pairs:
        assert_like_recorded(job, pair, status, "list")
    seen = {(job["properties"]["jobType"], job["properties"]["operation"]) for job, _, _ in pairs}
    assert {
        ("AzureIaaSVMJob", "Backup"),
        ("AzureIaaSVMJob", "ConfigureBackup"),
        ("AzureIaaSVMJob", "Restore"),
        ("AzureIaaSVMJobV2", "Backup"),
        ("AzureStorageJob", "Backup"),
        ("AzureStorageJobV2", "Backup"),
        ("AzureWorkloadJob", "Backup (Full)"),
        ("AzureWorkloadJobV2", "Backup (Full)"),
        ("AzureWorkloadJob", "ConfigureBackup"),
    } <= seen, "the main job types and operations are compared"


def test_single_gets_have_the_recorded_extended_info_sizes_and_errors(estate) -> None:
    _, details = estate
    pairs = compared(details)
    assert len(pairs) > 50
    for job, pair, status in pairs:
        assert_like_recorded(job, pair, status, "get")
    statuses = {(job["properties"]["jobType"], job["properties"]["status"]) for job, _, _ in pairs}
    assert ("AzureIaaSVMJob", "CompletedWithWarnings") in statuses and (
        "AzureIaaSVMJob",
        "Failed",
    ) in statuses


def test_sizes_by_kind_backup_size_on_vms_only_data_transferred_elsewhere(estate) -> None:
    _, details = estate
    by_type: dict[str, set[str]] = defaultdict(set)
    for job in details:
        properties = job["properties"]
        if properties["operation"].startswith("Backup") and properties["status"] == "Completed":
            bag = properties["extendedInfo"]["propertyBag"]
            by_type[properties["jobType"].removesuffix("V2")] |= {
                f"{key}={job_shape(job)['sizes'][key]}" for key in bag if key in job_shape(job)["sizes"]
            }
    assert by_type["AzureIaaSVMJob"] == {"Backup Size=N MB"}
    assert by_type["AzureStorageJob"] == {"Data Transferred (in MB)=N"}
    assert by_type["AzureWorkloadJob"] == {"Data Transferred (in MB)=N.N"}


def test_errors_have_integer_codes_titles_where_recorded_and_warnings_carry_them_too(estate) -> None:
    listed, _ = estate
    for job in listed:
        properties = job["properties"]
        if properties["status"] not in ("Failed", "CompletedWithWarnings"):
            continue
        if properties["jobType"].removesuffix("V2") in ("AzureIaaSVMJob", "AzureWorkloadJob"):
            (detail,) = properties["errorDetails"]
            assert isinstance(detail["errorCode"], int) and detail["errorTitle"], properties
        if properties["jobType"].startswith("AzureStorageJob") and properties["status"] == "Failed":
            assert isinstance(properties["errorDetails"][0]["errorCode"], int)
            assert "errorTitle" not in properties["errorDetails"][0]


def test_databases_are_named_by_operation_as_recorded(estate) -> None:
    listed, _ = estate
    names: dict[tuple[str, str], set[str]] = defaultdict(set)
    for job in listed:
        properties = job["properties"]
        if properties["jobType"].startswith("AzureWorkloadJob"):
            names[(properties["workloadType"], properties["operation"])].add(properties["entityFriendlyName"])
    for workload in ("SQLDataBase", "SAPHanaDatabase"):
        for operation in ("Backup (Full)", "Backup (Differential)", "Backup (Log)"):
            assert all(name.endswith("]") and " [" in name for name in names[(workload, operation)])
        assert names[(workload, "ConfigureBackup")], workload
        for name in names[(workload, "ConfigureBackup")] | names[(workload, "DeleteBackupData")]:
            assert "[" not in name and name == name.lower()
    hana_backups = names[("SAPHanaDatabase", "Backup (Full)")]
    assert all(name.split(" [")[0].isupper() for name in hana_backups), hana_backups
    bare = {name.split(" [")[0].lower() for name in names[("SQLDataBase", "Backup (Full)")]}
    assert bare & names[("SQLDataBase", "ConfigureBackup")], "the same databases, named two ways"


def test_times_ids_durations_and_actions_vary_as_recorded(estate) -> None:
    listed, _ = estate
    times = [
        job["properties"][field]
        for job in listed
        for field in ("startTime", "endTime")
        if field in job["properties"]
    ]
    assert {fraction_digits(text) for text in times} >= {5, 6, 7}
    ids = {job_shape(job)["id"].split("/")[0] + "/" + job_shape(job)["id"].split("/")[2] for job in listed}
    assert ids == {
        "Subscriptions/resourceGroups",
        "subscriptions/resourceGroups",
        "subscriptions/resourcegroups",
    }
    actions = {json.dumps(job["properties"].get("actionsInfo")) for job in listed}
    assert {"null", "[1]", '["Cancellable"]'} <= actions
    types = {job["properties"]["jobType"] for job in listed}
    assert {"AzureStorageJobV2", "AzureWorkloadJobV2", "AzureIaaSVMJobV2"} <= types


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3640.4431187, "PT1H40.4431187S"), (0, "PT0S"), (2471.1795004, "PT41M11.1795004S"), (12.5, "PT12.5S")],
)
def test_durations_are_written_as_recorded(seconds: float, text: str) -> None:
    """Recorded forms: no minutes when there are none (`PT1H40.4431187S`), `PT0S` for nothing."""
    from azure_backup_simulator.timefmt import format_iso_duration

    assert format_iso_duration(seconds) == text


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(0.3441012, ".3441012Z"), (0.8125, ".8125Z"), (0.25, ".25Z"), (0.0, ":07Z")],
)
def test_times_are_ticks_with_trailing_zeros_trimmed(fraction: float, text: str) -> None:
    from azure_backup_simulator.timefmt import format_timestamp

    written = format_timestamp(1501651867 + fraction)
    assert written.startswith("2017-08-02T05:31:07") and written.endswith(text)
