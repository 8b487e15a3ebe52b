"""The generated estate: deterministic for a seed, and as varied as real estates (every job type, V2
included, SQL/HANA flavours, both duration formats, integer actionsInfo, three casings of ids, sizes
with units). The fields of each job type are compared with recordings in test_recorded_shapes.py."""

from __future__ import annotations

import re

import pytest

from .clients import ArmClient, Control

SIZE = re.compile(r"\d+ MB")
TIMESPAN = re.compile(r"(\d+\.)?\d\d:\d\d:\d\d(\.\d{7})?")
ISO = re.compile(r"P(\d+D)?T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?")


def snapshot(sim) -> tuple[dict, list[list[tuple]]]:
    arm, control = ArmClient(sim), Control(sim)
    estate = control.estate()
    jobs = [
        [
            (
                job["name"],
                job["properties"]["entityFriendlyName"],
                job["properties"]["operation"],
                job["properties"]["status"],
                job["properties"]["startTime"],
            )
            for job in arm.list_all_jobs(vault_id)
            if "endTime" in job["properties"]
        ]
        for vault_id in estate["vaults"]
    ]
    return estate, jobs


def test_the_same_seed_gives_the_same_estate(make_sim) -> None:
    settings = {"seed": 42, "vaults": 3, "subscriptions": 2, "entities_per_vault": 6, "history_days": 2}
    first, second, other = make_sim(**settings), make_sim(**settings), make_sim(**{**settings, "seed": 43})
    assert snapshot(first) == snapshot(second)
    assert snapshot(first)[0] != snapshot(other)[0]


@pytest.fixture(scope="module")
def varied():
    """One larger estate read once: 40 vaults x 20 items, 2 days, the jobs Azure leaves out of lists
    listed too (they happen all the same)."""
    from azure_backup_simulator import Simulator, SimulatorConfig

    from .clients import START

    with Simulator(
        SimulatorConfig(
            seed=10,
            subscriptions=3,
            vaults=40,
            entities_per_vault=20,
            history_days=2,
            start_time=START,
            list_hidden_scheduled_jobs=True,
        )
    ) as sim:
        arm, control = ArmClient(sim), Control(sim)
        vault_ids = control.estate()["vaults"]
        jobs = [job for vault_id in vault_ids for job in arm.list_all_jobs(vault_id)]
        details = [arm.get(job["id"]).json() for job in jobs[::25]]
        vaults = []
        for subscription in control.estate()["subscriptions"]:
            listed = arm.get(
                f"/subscriptions/{subscription}/providers/Microsoft.RecoveryServices/vaults",
                api_version="2026-08-01",
            ).json()
            vaults.extend(listed["value"])
        yield vault_ids, jobs, details, vaults


def test_vaults_spread_over_subscriptions_and_resource_groups(varied) -> None:
    vault_ids, _, _, vaults = varied
    assert sorted(vault["id"] for vault in vaults) == sorted(vault_ids)
    assert len({vault_id.split("/")[2] for vault_id in vault_ids}) == 3
    assert len({tuple(vault_id.split("/")[2:5]) for vault_id in vault_ids}) >= 4


def test_all_job_types_with_their_own_fields(varied) -> None:
    _, jobs, _, _ = varied
    by_type = {}
    for job in jobs:
        by_type.setdefault(job["properties"]["jobType"], job["properties"])
    assert set(by_type) == {
        "AzureIaaSVMJob",
        "AzureIaaSVMJobV2",
        "AzureStorageJob",
        "AzureStorageJobV2",
        "AzureWorkloadJob",
        "AzureWorkloadJobV2",
        "DpmJob",
        "MabJob",
        "VaultJob",
    }
    assert "virtualMachineVersion" in by_type["AzureIaaSVMJobV2"]
    assert "storageAccountName" in by_type["AzureStorageJob"]
    assert by_type["AzureWorkloadJob"]["workloadType"] in ("SQLDataBase", "SAPHanaDatabase")
    assert "dpmServerName" in by_type["DpmJob"] and "mabServerName" in by_type["MabJob"]
    assert by_type["VaultJob"]["operation"] == "UpdateCustomerManagedKey"


def test_operations_statuses_and_management_types_seen_in_real_estates(varied) -> None:
    _, jobs, _, _ = varied
    operations = {job["properties"]["operation"] for job in jobs}
    assert {
        "Backup",
        "Backup (Full)",
        "Backup (Differential)",
        "Backup (Log)",
        "ConfigureBackup",
        "Restore",
        "DisableBackup",
        "DeleteBackupData",
        "UpdateCustomerManagedKey",
    } <= operations
    statuses = {job["properties"]["status"] for job in jobs}
    assert {"Completed", "Failed", "CompletedWithWarnings", "InProgress"} <= statuses
    types = {job["properties"].get("backupManagementType") for job in jobs}
    assert {"AzureIaasVM", "AzureWorkload", "AzureStorage", "MAB", "DPM", "AzureBackupServer"} <= types


def test_both_wire_formats_of_durations_actions_and_ids(varied) -> None:
    _, jobs, _, _ = varied
    durations = [job["properties"]["duration"] for job in jobs]
    assert all(ISO.fullmatch(value) or TIMESPAN.fullmatch(value) for value in durations)
    assert any(ISO.fullmatch(value) for value in durations) and any(
        TIMESPAN.fullmatch(value) for value in durations
    )
    actions = [value for job in jobs for value in job["properties"].get("actionsInfo", [])]
    assert {"Cancellable", 1} <= set(actions), "actionsInfo as names and as integers"
    assert all(job["id"].startswith(("/Subscriptions/", "/subscriptions/")) for job in jobs)
    assert any(
        "/resourcegroups/" in job["id"] and "/microsoft.recoveryservices/" in job["id"] for job in jobs
    )
    assert any(job["id"].startswith("/subscriptions/") and "/resourceGroups/" in job["id"] for job in jobs)
    assert any(
        job["id"].startswith("/Subscriptions/") and "/Microsoft.RecoveryServices/" in job["id"]
        for job in jobs
    )


def test_failures_carry_real_looking_error_details(varied) -> None:
    _, jobs, _, _ = varied
    failed = [job["properties"] for job in jobs if job["properties"]["status"] == "Failed"]
    assert 0.02 < len(failed) / len(jobs) < 0.1
    for properties in failed:
        detail = properties["errorDetails"][0]
        assert detail["errorString"] and detail["recommendations"]
        if properties["jobType"].removesuffix("V2") in ("AzureIaaSVMJob", "AzureWorkloadJob"):
            assert isinstance(detail["errorCode"], int) and detail["errorTitle"].startswith(
                ("UserError", "Ext")
            )
        else:
            assert "errorTitle" not in detail


def test_details_carry_sizes_as_text_with_units_and_lists_do_not(varied) -> None:
    _, jobs, details, _ = varied
    assert all("extendedInfo" not in job["properties"] for job in jobs)
    sizes = [detail["properties"]["extendedInfo"]["propertyBag"].get("Backup Size") for detail in details]
    sizes = [size for size in sizes if size]
    assert len(sizes) > 10 and all(SIZE.fullmatch(size) for size in sizes), "whole MB, as recorded"


def test_initial_backups_last_up_to_days_in_both_duration_formats(varied) -> None:
    """The first backup after ConfigureBackup copies everything and can run for more than a day; no
    scheduled backup of the same item starts while it runs."""
    _, jobs, _, _ = varied
    day_long = [
        job
        for job in jobs
        if re.fullmatch(r"P\d+DT.*", job["properties"]["duration"])
        or re.fullmatch(r"\d+\.\d\d:\d\d:\d\d(\.\d{7})?", job["properties"]["duration"])
    ]
    formats = {"iso" if job["properties"]["duration"].startswith("P") else "timespan" for job in day_long}
    assert formats == {"iso", "timespan"}
    for long_job in day_long:
        properties = long_job["properties"]
        assert properties["operation"] in ("Backup", "Backup (Full)")
        vault = long_job["id"].lower().split("/backupjobs/")[0]
        during = [
            job
            for job in jobs
            if job["id"].lower().startswith(vault + "/")
            and job["properties"]["entityFriendlyName"] == properties["entityFriendlyName"]
            and job["properties"]["operation"] in ("Backup", "Backup (Full)", "Backup (Differential)")
            and properties["startTime"] < job["properties"]["startTime"] < properties.get("endTime", "9999")
        ]
        assert during == [], "scheduled backups wait for the initial one"
