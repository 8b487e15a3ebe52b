"""The control API (inject, finish, count, clock) and live time: jobs start on schedule, progress, finish."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests

from .clients import ArmClient, Control


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def empty(make_sim) -> tuple[ArmClient, Control, str]:
    sim = make_sim(vaults=0)
    control = Control(sim)
    assert control.estate()["vaults"] == []
    vault_id = control.add_vault("11111111-1111-4111-8111-111111111111", "rg-test", "rsv-test")
    return ArmClient(sim), control, vault_id


def test_an_added_vault_is_listed_and_duplicates_are_refused(empty) -> None:
    arm, control, vault_id = empty
    estate = control.estate()
    assert estate["vaults"] == [vault_id] and estate["subscriptions"][-1] == vault_id.split("/")[2]
    duplicate = control.post(
        "vaults", {"subscription": vault_id.split("/")[2], "resource_group": "RG-TEST", "name": "RSV-TEST"}
    )
    assert duplicate.status_code == 409
    listed = arm.get(vault_id.rsplit("/", 1)[0], api_version="2026-08-01").json()["value"]
    assert [vault["id"] for vault in listed] == [vault_id]
    assert arm.get(vault_id + "/backupJobs").json() == {"value": []}


def test_an_injected_job_is_served_exactly_as_the_control_api_returned_it(empty) -> None:
    arm, control, vault_id = empty
    created = control.add_job(
        vault=vault_id,
        entity="vm-01",
        backup_management_type="AzureIaasVM",
        operation="Backup",
        status="Failed",
        start_time="2026-11-26T01:00:00Z",
        end_time="2026-11-26T01:20:00Z",
        error_code=400002,
        error_title="UserErrorGuestAgentStatusUnavailable",
        job_type="AzureIaaSVMJob",
    )
    assert arm.get(vault_id + "/backupJobs/" + created["name"]).json() == created
    properties = created["properties"]
    assert properties["duration"] == "PT20M"
    assert properties["errorDetails"][0]["errorCode"] == 400002
    assert properties["errorDetails"][0]["errorTitle"] == "UserErrorGuestAgentStatusUnavailable"
    listed = arm.get(vault_id + "/backupJobs").json()["value"]
    assert listed == [{**created, "properties": {k: v for k, v in properties.items() if k != "extendedInfo"}}]


def test_injected_raw_properties_and_formats_reach_the_wire(empty) -> None:
    arm, control, vault_id = empty
    created = control.add_job(
        vault=vault_id,
        entity="odd",
        operation="Backup",
        status="Completed",
        start_time="2026-11-25T01:00:00Z",
        end_time="2026-11-26T03:03:04.5Z",
        duration_format="timespan",
        backup_size_bytes=2332 * 1024 * 1024,
        properties={"jobType": "FutureJobType", "status": "Paused", "surprise": [1]},
    )
    properties = arm.get(vault_id + "/backupJobs/" + created["name"]).json()["properties"]
    assert properties["duration"] == "1.02:03:04.5000000"
    assert (properties["jobType"], properties["status"], properties["surprise"]) == (
        "FutureJobType",
        "Paused",
        [1],
    )
    assert properties["extendedInfo"]["propertyBag"]["Backup Size"] in ("2332 MB", "2.28 GB")


def test_finishing_a_running_job(empty) -> None:
    arm, control, vault_id = empty
    running = control.add_job(vault=vault_id, entity="vm-01", operation="Backup", status="InProgress")
    assert "endTime" not in running["properties"]
    assert running["properties"]["actionsInfo"] == ["Cancellable"]
    finished = control.post(
        f"jobs/{running['name']}/finish", {"status": "Completed", "backup_size_bytes": 5 * 1024 * 1024}
    )
    assert finished.status_code == 200
    properties = arm.get(vault_id + "/backupJobs/" + running["name"]).json()["properties"]
    assert properties["status"] == "Completed" and "endTime" in properties
    assert properties["extendedInfo"]["propertyBag"]["Backup Size"] == "5 MB"
    assert control.post(f"jobs/{running['name']}/finish", {"status": "Failed"}).status_code == 409
    assert control.post("jobs/00000000-0000-0000-0000-000000000001/finish").status_code == 404
    assert control.post(f"jobs/{running['name']}/finish", {"status": "Exploded"}).status_code == 400


def test_failing_a_running_job_gives_it_error_details(empty) -> None:
    arm, control, vault_id = empty
    running = control.add_job(
        vault=vault_id,
        entity="salesdb",
        operation="Backup (Log)",
        status="InProgress",
        job_type="AzureWorkloadJob",
        backup_management_type="AzureWorkload",
    )
    control.post(f"jobs/{running['name']}/finish", {"status": "Failed", "error_code": 510008})
    properties = arm.get(vault_id + "/backupJobs/" + running["name"]).json()["properties"]
    assert properties["status"] == "Failed"
    assert properties["errorDetails"][0]["errorCode"] == 510008
    assert properties["actionsInfo"] == ["Cancellable"], "as recorded: by operation, whatever the status"


def test_request_counts_by_route_and_status(empty) -> None:
    arm, control, vault_id = empty
    arm.get(vault_id + "/backupJobs")
    arm.get(vault_id + "/backupJobs")
    arm.get(vault_id + "/backupJobs/00000000-0000-0000-0000-000000000001")
    arm.get(vault_id.rsplit("/", 1)[0], api_version="2026-08-01")
    assert control.get("requests").json() == {
        "total": 5,
        "by_route": {
            "token": {"200": 1},
            "list_jobs": {"200": 2},
            "get_job": {"404": 1},
            "list_vaults": {"200": 1},
        },
    }


def test_running_jobs_progress_and_finish_as_time_passes(make_sim) -> None:
    sim = make_sim(
        seed=2,
        vaults=2,
        entities_per_vault=30,
        history_days=1,
        start_time=datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc),
    )
    arm, control = ArmClient(sim), Control(sim)
    vault_id = control.estate()["vaults"][0]
    running = arm.list_all_jobs(vault_id, **{"$filter": "status eq 'InProgress'"})
    assert running, "03:00 UTC: nightly backups are running"
    vm_job = next(job for job in running if job["properties"]["jobType"].startswith("AzureIaaSVM"))
    first = arm.get(vault_id + "/backupJobs/" + vm_job["name"]).json()["properties"]["extendedInfo"]
    control.advance(60)
    later = arm.get(vault_id + "/backupJobs/" + vm_job["name"]).json()["properties"]["extendedInfo"]
    assert later.get("progressPercentage", 100) > first["progressPercentage"]
    control.advance(3 * 86400)  # initial backups may run for two days
    arm.refresh_token()
    names = {job["name"] for job in running}
    now_jobs = {job["name"]: job for job in arm.list_all_jobs(vault_id)}
    assert all(now_jobs[name]["properties"]["status"] != "InProgress" for name in names)
    assert all("endTime" in now_jobs[name]["properties"] for name in names)


def test_new_jobs_start_on_the_schedule_of_each_items_policy(make_sim) -> None:
    """Over a day, every protected item on a daily or hourly policy (workloads: daily Full or
    Differential) backs up; items stopped, on MARS/DPM agents or on weekly policies may not."""
    sim = make_sim(seed=4, vaults=1, entities_per_vault=10, history_days=1, list_hidden_scheduled_jobs=True)
    arm, control = ArmClient(sim), Control(sim)
    vault_id = control.estate()["vaults"][0]
    before = {job["name"] for job in arm.list_all_jobs(vault_id)}
    control.advance(24 * 3600)
    arm.refresh_token()
    new = [job for job in arm.list_all_jobs(vault_id) if job["name"] not in before]
    started = {job["properties"]["entityFriendlyName"].split(" [")[0].lower() for job in new}
    policies = {
        policy["name"].lower(): policy["properties"]
        for policy in arm.get(vault_id + "/backupPolicies").json()["value"]
    }
    expected = set()
    for item in arm.get(vault_id + "/backupProtectedItems").json()["value"]:
        properties = item["properties"]
        policy = policies.get((properties.get("policyId") or "").rsplit("/", 1)[-1].lower())
        if policy is None or properties["protectionState"] == "ProtectionStopped":
            continue
        frequency = (policy.get("schedulePolicy") or {}).get("scheduleRunFrequency", "Daily")
        if frequency != "Weekly":
            expected.add(properties["friendlyName"].lower())
    assert len(expected) >= 3
    assert expected <= started
    now = moment(control.get("clock").json()["now"])
    assert all(moment(job["properties"]["startTime"]) <= now for job in new)


def test_fast_schedule_shows_change_within_minutes(make_sim) -> None:
    sim = make_sim(seed=4, vaults=1, entities_per_vault=6, history_days=1, fast_schedule_seconds=60)
    arm, control = ArmClient(sim), Control(sim)
    vault_id = control.estate()["vaults"][0]
    before = len(arm.list_all_jobs(vault_id))
    control.advance(180)
    after = arm.list_all_jobs(vault_id)
    assert len(after) - before >= 12, "each of 6 items backed up at least twice in 3 minutes"
    assert any(job["properties"]["status"] != "InProgress" for job in after[: len(after) - before])


def test_cancel_turns_a_running_job_cancelled(empty) -> None:
    arm, control, vault_id = empty
    running = control.add_job(vault=vault_id, entity="vm-01", operation="Backup", status="InProgress")
    answer = arm.post(vault_id + f"/backupJobs/{running['name']}/cancel")
    assert answer.status_code == 202
    assert arm.get(vault_id + "/backupJobs/" + running["name"]).json()["properties"]["status"] == "Cancelling"
    control.advance(5)
    assert arm.get(vault_id + "/backupJobs/" + running["name"]).json()["properties"]["status"] == "Cancelled"
    assert control.get("requests").json()["by_route"]["cancel_job"] == {"202": 1}


def test_a_chunked_control_request_is_read_whole(empty) -> None:
    """curl -T - and requests with a generator send the body in chunks, without Content-Length."""
    arm, control, vault_id = empty
    body = json.dumps(
        {"vault": vault_id, "entity": "vm-chunked", "operation": "Backup", "status": "Completed"}
    )
    answer = requests.post(
        control.url + "/jobs", data=(part.encode() for part in (body[:20], body[20:])), timeout=10
    )
    assert answer.status_code == 201, answer.text
    listed = arm.get(vault_id + "/backupJobs").json()["value"]
    assert [job["properties"]["entityFriendlyName"] for job in listed] == ["vm-chunked"]
