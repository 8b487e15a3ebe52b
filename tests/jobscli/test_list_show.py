"""`jobs list` and `jobs show` as a person (or a script) reads them, against the simulator."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from .conftest import Sim, run

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def ago(hours: float) -> str:
    return (NOW - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_list_json_has_one_object_per_job_of_every_vault_sorted_by_start_and_paged_to_the_end(
    make_sim,
) -> None:
    sim: Sim = make_sim(page_size=2)  # every vault's listing takes several pages
    vaults = [sim.add_vault(f"rsv-{n}", entities=()) for n in range(2)]
    expected = []
    for n in range(5):
        for index, vault in enumerate(vaults):
            job = sim.add_job(
                vault, f"vm-{index}-{n}", start_time=ago(20 - n - index / 2), end_time=ago(19 - n)
            )
            expected.append(job["name"])
    sim.add_job(vaults[0], "vm-old", start_time=ago(30), end_time=ago(29))  # before --since

    result = run(sim, "list", *[a for v in vaults for a in ("--vault", v)], "--since", "24h", "-o", "json")
    assert result.returncode == 0, result.stderr
    jobs = json.loads(result.stdout)
    assert sorted(job["job_id"] for job in jobs) == sorted(expected)
    assert [job["start_time"] for job in jobs] == sorted(job["start_time"] for job in jobs)
    assert set(jobs[0]) == {
        "id", "job_id", "vault", "entity", "backup_management_type", "job_type", "operation", "status",
        "start_time", "end_time", "duration_seconds", "size_bytes", "error_code",
    }  # fmt: skip
    assert jobs[0]["start_time"] == ago(20) and jobs[0]["end_time"] == ago(19)
    assert jobs[0]["vault"] == vaults[0] and jobs[0]["duration_seconds"] == 3600


def test_list_filters_by_status_operation_entity_and_type(sim: Sim) -> None:
    vault = sim.add_vault("rsv-filter", entities=())
    sim.add_job(vault, "vm-web-01", status="Failed", start_time=ago(2))
    sim.add_job(vault, "vm-web-02", status="Completed", start_time=ago(2))
    sim.add_job(vault, "vm-db-01", status="Failed", start_time=ago(2))
    sim.add_job(vault, "vm-web-03", status="Failed", operation="Restore", start_time=ago(2))
    sim.add_job(vault, "share-web", status="Failed", start_time=ago(2), backup_management_type="AzureStorage")

    result = run(sim, "list", "--vault", vault, "--status", "failed", "--operation", "Backup",
                 "--entity", "*WEB*", "--backup-management-type", "AzureIaasVM", "-o", "json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [job["entity"] for job in json.loads(result.stdout)] == ["vm-web-01"]


def test_list_table_has_the_columns_a_person_reads(sim: Sim) -> None:
    vault = sim.add_vault("rsv-table", entities=())
    sim.add_job(vault, "vm-web-01", start_time=ago(3), end_time=ago(2.5))
    sim.add_job(vault, "vm-web-02", status="InProgress", start_time=ago(1))

    result = run(sim, "list", "--vault", vault)
    assert result.returncode == 0, result.stderr
    header, first, second = result.stdout.splitlines()
    assert header.split() == ["VAULT", "ENTITY", "OPERATION", "STATUS", "START", "DURATION", "SIZE"]
    assert first.split()[:6] == ["rsv-table", "vm-web-01", "Backup", "Completed", ago(3), "0:30:00"]
    assert second.split()[:5] == ["rsv-table", "vm-web-02", "Backup", "InProgress", ago(1)]


def test_one_vault_refused_names_the_role_and_the_others_are_still_listed(sim: Sim) -> None:
    open_vault = sim.add_vault("rsv-open", entities=())
    locked = sim.add_vault("rsv-locked", entities=())
    sim.add_job(open_vault, "vm-web-01", start_time=ago(1))
    sim.control("faults", {"revoked_vaults": [locked]})

    result = run(sim, "list", "--vault", open_vault, "--vault", locked, "-o", "json")
    assert result.returncode == 6
    assert [job["entity"] for job in json.loads(result.stdout)] == ["vm-web-01"]
    assert result.stderr.strip() == (
        "vault rsv-locked: permission denied (AuthorizationFailed); the identity needs "
        "Microsoft.RecoveryServices/Vaults/backupJobs/read: the built-in"
        " Backup Reader role on the vault grants it"
    )


def test_bad_filters_are_one_line_usage_errors(sim: Sim) -> None:
    vault = sim.add_vault("rsv-bad", entities=())
    result = run(sim, "list", "--vault", vault, "--status", "Done")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "azure-backup-exporter: --status: expected one of InProgress, Completed, Failed, "
        "CompletedWithWarnings, Cancelled, Cancelling, NotStarted, got 'Done'"
    )
    result = run(sim, "list", "--vault", vault, "--since", "yesterday")
    assert result.returncode == 2 and "--since: expected a duration such as 30s" in result.stderr
    result = run(sim, "list")
    assert result.returncode == 2 and "--vault or --subscription: expected at least one" in result.stderr


def test_show_gives_tasks_property_bag_and_errors_with_recommendations(sim: Sim) -> None:
    vault = sim.add_vault("rsv-show")
    job = sim.add_job(vault, "vm-web-01", status="Failed", start_time=ago(2), end_time=ago(1.5),
                      error_code=400002, error_title="UserErrorGuestAgentStatusUnavailable")  # fmt: skip

    text = run(sim, "show", job["id"])
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "Status       Failed" in lines and "Duration     0:30:00" in lines
    assert lines[lines.index("Tasks") + 1].split() == [
        "TASK",
        "STATUS",
        "START",
        "END",
        "DURATION",
        "PROGRESS",
    ]
    snapshot = next(line for line in lines if line.startswith("  Take Snapshot "))
    transfer = next(line for line in lines if line.startswith("  Transfer data to vault "))
    assert snapshot.split()[2] in ("Completed", "Failed") and transfer.split()[4] == "Failed"
    assert any(line.split() == ["VM", "Name", "vm-web-01"] for line in lines[lines.index("Properties") :])
    errors = lines[lines.index("Errors") + 1 :]
    assert errors[0].startswith("  400002 UserErrorGuestAgentStatusUnavailable: ")
    assert errors[1].startswith("    Recommendation: ")

    record = json.loads(run(sim, "show", job["name"], "--vault", vault, "-o", "json").stdout)
    assert record["status"] == "Failed" and record["job_id"] == job["name"]
    assert [task["name"] for task in record["tasks"]] == ["Take Snapshot", "Transfer data to vault"]
    assert record["properties"]["VM Name"] == "vm-web-01"
    assert record["errors"][0]["code"] == "400002" and record["errors"][0]["recommendations"]


def test_show_of_an_unknown_id_names_every_vault_searched(sim: Sim) -> None:
    vaults = [sim.add_vault(f"rsv-{n}", entities=()) for n in range(3)]
    missing = "41f3e94b-ae6b-4a20-b422-65abfcaf03e5"

    result = run(sim, "show", missing, *[a for v in vaults for a in ("--vault", v)])
    assert result.returncode == 6
    assert result.stderr.strip() == (
        f"azure-backup-exporter: job {missing} not found in 3 vault(s) searched: rsv-0, rsv-1, rsv-2"
    )
    result = run(sim, "show", f"{vaults[1]}/backupJobs/{missing}")
    assert result.returncode == 6 and f"job {missing} not found in vault rsv-1" in result.stderr
    result = run(sim, "show", "last-night", "--vault", vaults[0])
    assert result.returncode == 2 and "JOB: expected a job id (a GUID" in result.stderr
