"""Paging (newest first, absolute nextLink, lower-case $skiptoken, stable under new jobs) and `$filter`
semantics of the backupJobs list."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest

from .clients import ArmClient, Control


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cli_date(value: datetime) -> str:
    """The `$filter` date format azure-cli sends."""
    return value.strftime("%Y-%m-%d %I:%M:%S %p")


@pytest.fixture
def paged(make_sim) -> tuple[ArmClient, Control, str]:
    sim = make_sim(seed=3, vaults=1, entities_per_vault=10, history_days=3, page_size=7)
    control = Control(sim)
    return ArmClient(sim), control, control.estate()["vaults"][0]


def test_small_pages_cover_every_job_once_newest_first(paged) -> None:
    arm, control, vault_id = paged
    jobs = arm.list_all_jobs(vault_id)
    pages = control.get("requests").json()["by_route"]["list_jobs"]["200"]
    assert len(jobs) > 20
    assert pages == -(-len(jobs) // 7)
    assert len({job["name"] for job in jobs}) == len(jobs)
    starts = [moment(job["properties"]["startTime"]) for job in jobs]
    assert starts == sorted(starts, reverse=True)
    in_memory = arm.sim.estate.vaults[next(iter(arm.sim.estate.vaults))].jobs
    assert len(jobs) == len([job for job in in_memory if not job.hidden]), "all but what Azure hides"


def test_next_link_is_absolute_with_a_lower_case_skiptoken(paged) -> None:
    arm, _, vault_id = paged
    body = arm.get(vault_id + "/backupJobs").json()
    assert len(body["value"]) == 7
    link = urlsplit(body["nextLink"])
    assert f"{link.scheme}://{link.netloc}" == arm.sim.arm_endpoint
    assert link.path == vault_id + "/backupJobs"
    assert "%24skiptoken=" in link.query and "api-version=2026-10-01" in link.query


def test_a_job_started_between_pages_neither_repeats_nor_hides_older_jobs(paged) -> None:
    arm, control, vault_id = paged
    first = arm.get(vault_id + "/backupJobs").json()
    control.add_job(vault=vault_id, entity="vm-new", operation="Backup", status="InProgress")
    rest = []
    link = first.get("nextLink")
    while link:
        body = arm.session.get(link, timeout=10).json()
        rest.extend(body["value"])
        link = body.get("nextLink")
    names = [job["name"] for job in first["value"] + rest]
    assert len(names) == len(set(names))
    assert len(names) == len(arm.list_all_jobs(vault_id)) - 1, "only the new job is missing from the old walk"


def test_status_operation_management_type_and_job_id_filters(paged) -> None:
    arm, control, vault_id = paged
    control.add_job(vault=vault_id, entity="vm-running", operation="Backup", status="InProgress")
    everything = arm.list_all_jobs(vault_id)
    for field, key in (("status", "status"), ("backupManagementType", "backupManagementType")):
        for value in {job["properties"].get(key) for job in everything} - {None}:
            selected = arm.list_all_jobs(vault_id, **{"$filter": f"{field} eq '{value}'"})
            # names, not whole jobs: the duration of a running job grows between two reads
            assert [job["name"] for job in selected] == [
                job["name"] for job in everything if job["properties"].get(key) == value
            ]
    assert any(job["properties"]["status"] == "InProgress" for job in everything)
    target = everything[len(everything) // 2]
    assert arm.list_all_jobs(vault_id, **{"$filter": f"jobId eq '{target['name']}'"}) == [target]
    assert arm.list_all_jobs(vault_id, **{"$filter": "jobId eq '00000000-0000-0000-0000-000000000000'"}) == []


def test_operation_backup_also_selects_sql_full_differential_and_log_backups(make_sim) -> None:
    sim = make_sim(vaults=0)
    control, arm = Control(sim), ArmClient(sim)
    vault_id = control.add_vault(control.estate()["subscriptions"][0], "rg", "rsv")
    for operation in ("Backup", "Backup (Full)", "Backup (Log)", "Restore", "ConfigureBackup"):
        control.add_job(
            vault=vault_id,
            entity="salesdb",
            operation=operation,
            status="Completed",
            backup_management_type="AzureWorkload",
            job_type="AzureWorkloadJob",
        )
    backups = arm.list_all_jobs(vault_id, **{"$filter": "operation eq 'Backup'"})
    assert sorted(job["properties"]["operation"] for job in backups) == [
        "Backup",
        "Backup (Full)",
        "Backup (Log)",
    ]
    both = "operation eq 'Restore' and backupManagementType eq 'AzureWorkload' and status eq 'Completed'"
    assert [job["properties"]["operation"] for job in arm.list_all_jobs(vault_id, **{"$filter": both})] == [
        "Restore"
    ]


def test_time_window_selects_jobs_started_inside_it_inclusive(make_sim) -> None:
    sim = make_sim(vaults=0)
    control, arm = Control(sim), ArmClient(sim)
    vault_id = control.add_vault(control.estate()["subscriptions"][0], "rg", "rsv")
    for hour in (0, 11, 12, 13, 23):
        control.add_job(
            vault=vault_id,
            entity=f"vm-{hour}",
            operation="Backup",
            status="Completed",
            start_time=f"2026-11-25T{hour:02d}:00:00Z",
            end_time=f"2026-11-25T{hour:02d}:30:00Z",
        )
    window = "startTime eq '2026-11-25 11:00:00 AM' and endTime eq '2026-11-25 01:00:00 PM'"
    assert [
        job["properties"]["entityFriendlyName"] for job in arm.list_all_jobs(vault_id, **{"$filter": window})
    ] == ["vm-13", "vm-12", "vm-11"]
    midnight = "startTime eq '2026-11-25 12:00:00 AM' and endTime eq '2026-11-25 12:00:00 PM'"
    assert [
        job["properties"]["entityFriendlyName"]
        for job in arm.list_all_jobs(vault_id, **{"$filter": midnight})
    ] == ["vm-12", "vm-11", "vm-0"]
    hour_zero = "startTime eq '2026-11-25 00:00:00 AM' and endTime eq '2026-11-25 00:30:00 AM'"
    assert [
        job["properties"]["entityFriendlyName"]
        for job in arm.list_all_jobs(vault_id, **{"$filter": hour_zero})
    ] == ["vm-0"], "hour 00 is read as midnight, as the official examples write it"
    only_start = "startTime eq '2026-11-25 01:00:00 PM'"
    assert len(arm.list_all_jobs(vault_id, **{"$filter": only_start})) == 2


def test_no_time_filter_returns_all_jobs(make_sim) -> None:
    sim = make_sim(seed=5, vaults=1, entities_per_vault=5, history_days=10, max_window_days=0)
    arm = ArmClient(sim)
    vault_id = Control(sim).estate()["vaults"][0]
    everything = arm.list_all_jobs(vault_id)
    oldest = moment(everything[-1]["properties"]["startTime"])
    assert (datetime(2026, 11, 26, 6, tzinfo=timezone.utc) - oldest).days >= 9
    window = f"startTime eq '{cli_date(oldest)}' and endTime eq '2026-11-26 06:00:00 AM'"
    assert len(arm.list_all_jobs(vault_id, **{"$filter": window})) == len(everything)


def test_vault_lists_page_with_next_link(make_sim) -> None:
    sim = make_sim(vaults=5, subscriptions=1, page_size=2)
    arm = ArmClient(sim)
    subscription = Control(sim).estate()["subscriptions"][0]
    answer = arm.get(
        f"/subscriptions/{subscription}/providers/Microsoft.RecoveryServices/vaults", api_version="2026-08-01"
    )
    names = []
    while True:
        body = answer.json()
        assert len(body["value"]) <= 2
        names.extend(vault["name"] for vault in body["value"])
        if "nextLink" not in body:
            break
        assert body["nextLink"].startswith(sim.arm_endpoint + f"/subscriptions/{subscription}/")
        answer = arm.session.get(body["nextLink"], timeout=10)
    assert sorted(names) == sorted(vault.rsplit("/", 1)[1] for vault in Control(sim).estate()["vaults"])
    group = Control(sim).estate()["vaults"][0].split("/")[4]
    by_group = arm.get(
        f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.RecoveryServices/vaults",
        api_version="2026-08-01",
    )
    assert by_group.status_code == 200 and by_group.json()["value"]
