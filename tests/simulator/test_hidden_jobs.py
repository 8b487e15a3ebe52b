"""What the job list leaves out, as Microsoft's docs say Azure does: scheduled SQL log backups (too
frequent) and every scheduled SAP HANA job, log backups included. Ad hoc backups, restores and
configuration jobs still appear; `list_hidden_scheduled_jobs` lists the hidden ones too."""

from __future__ import annotations

import pytest

from .clients import ArmClient, Control

ESTATE = {
    "seed": 13,
    "subscriptions": 2,
    "vaults": 24,
    "entities_per_vault": 16,
    "history_days": 3,
    "failure_rate": 0.1,
    "warning_rate": 0.1,
}
"""An estate with SQL and SAP HANA databases (configured, backed up, restored in the window)."""


def workload_jobs(sim) -> list[dict]:
    arm = ArmClient(sim)
    return [
        job
        for vault_id in Control(sim).estate()["vaults"]
        for job in arm.list_all_jobs(vault_id)
        if job["properties"]["jobType"].startswith("AzureWorkloadJob")
    ]


def hidden_by_docs(properties: dict) -> bool:
    scheduled_backup = properties["operation"].startswith("Backup") and not properties["isUserTriggered"]
    if properties["workloadType"] == "SAPHanaDatabase":
        return scheduled_backup
    return scheduled_backup and properties["operation"] == "Backup (Log)"


@pytest.fixture(scope="module")
def both():
    """The same estate twice: as Azure lists it, and with the hidden jobs listed."""
    from azure_backup_simulator import Simulator, SimulatorConfig

    from .clients import START

    with (
        Simulator(SimulatorConfig(start_time=START, **ESTATE)) as default,
        Simulator(SimulatorConfig(start_time=START, list_hidden_scheduled_jobs=True, **ESTATE)) as shown,
    ):
        yield default, shown


def test_scheduled_sql_log_backups_and_scheduled_hana_jobs_are_not_listed_by_default(both) -> None:
    default, shown = both
    listed, everything = workload_jobs(default), workload_jobs(shown)
    hidden = [job for job in everything if hidden_by_docs(job["properties"])]
    kinds = {(job["properties"]["workloadType"], job["properties"]["operation"]) for job in hidden}
    assert {
        ("SQLDataBase", "Backup (Log)"),
        ("SAPHanaDatabase", "Backup (Log)"),
        ("SAPHanaDatabase", "Backup (Full)"),
        ("SAPHanaDatabase", "Backup (Differential)"),
    } <= kinds, "the option lists every kind of hidden job"
    assert not [job for job in listed if hidden_by_docs(job["properties"])]
    names = {job["name"] for job in listed}
    assert names == {job["name"] for job in everything if not hidden_by_docs(job["properties"])}
    sql_backups = {
        job["properties"]["operation"] for job in listed if job["properties"]["workloadType"] == "SQLDataBase"
    }
    assert {"Backup (Full)", "Backup (Differential)", "ConfigureBackup"} <= sql_backups, "the rest stays"
    hana = {
        job["properties"]["operation"]
        for job in listed
        if job["properties"]["workloadType"] == "SAPHanaDatabase"
    }
    assert "ConfigureBackup" in hana


def test_a_hidden_job_has_no_job_to_get_either(both) -> None:
    default, shown = both
    hidden = next(job for job in workload_jobs(shown) if hidden_by_docs(job["properties"]))
    path = hidden["id"]
    assert ArmClient(shown).get(path).status_code == 200
    answer = ArmClient(default).get(path)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "ResourceNotFound"


def test_ad_hoc_hana_backups_and_restores_are_listed(both) -> None:
    default, _ = both
    arm = ArmClient(default)
    listed = workload_jobs(default)
    configured = next(
        job
        for job in listed
        if job["properties"]["workloadType"] == "SAPHanaDatabase"
        and job["properties"]["operation"] == "ConfigureBackup"
    )
    database, vault_id = (
        configured["properties"]["entityFriendlyName"],
        configured["id"].split("/backupJobs/")[0],
    )
    item = (
        "/backupFabrics/Azure/protectionContainers/VMAppContainer;compute;rg;hanavm"
        f"/protectedItems/SAPHanaDatabase;hxe;{database}"
    )
    answer = arm.post(vault_id + item + "/backup")
    assert answer.status_code == 202
    job_id = arm.get(answer.headers["Azure-AsyncOperation"], api_version=None).json()["properties"]["jobId"]
    backup = arm.get(f"{vault_id}/backupJobs/{job_id}")
    assert backup.status_code == 200
    properties = backup.json()["properties"]
    assert properties["isUserTriggered"] is True and properties["operation"].startswith("Backup (")
    assert properties["entityFriendlyName"].lower().startswith(database + " [")
    assert job_id in {job["name"] for job in arm.list_all_jobs(vault_id)}
    restores = [
        job["properties"]
        for job in listed
        if job["properties"]["operation"] == "Restore (Full)"  # SQL or HANA: restores are rare
    ]
    assert restores and all(restore["isUserTriggered"] for restore in restores)
