"""The ledger in-process: parsed jobs and a time in, snapshots out; no HTTP, no clock of its own."""

from __future__ import annotations

from typing import Any

from azure_backup_exporter.jobs import Job, MalformedJob, VaultRef, parse_job
from azure_backup_exporter.ledger import WARM_OVERLAP_SECONDS, VaultLedger
from azure_backup_exporter.snapshot import EntityKey, EntitySnapshot, VaultSnapshot

VAULT = VaultRef("sub", "rg", "rsv")
DAY = 86400.0
T0 = 1_800_000_000.0  # "now" of the first listing
LOOKBACK = 7 * DAY


def job(
    job_id: str, entity: str = "vm-1", status: str = "Completed", start: float = T0 - 3600, **more: Any
) -> Job:
    finished = status not in ("InProgress", "Cancelling")
    fields: dict[str, Any] = {
        "job_id": job_id,
        "entity": entity,
        "backup_management_type": "AzureIaasVM",
        "operation": "Backup",
        "status": status,
        "job_type": "AzureIaaSVMJob",
        "start_time": start,
        "end_time": start + 600 if finished else None,
    }
    fields.update(more)
    return Job(**fields)


def listing(*jobs: Job) -> dict[str, Job]:
    return {j.job_id: j for j in jobs}


def entity(snapshot: VaultSnapshot, name: str = "vm-1", operation: str = "Backup") -> EntitySnapshot:
    (found,) = [e for e in snapshot.entities if e.key == EntityKey("AzureIaasVM", name, operation)]
    return found


def snap(ledger: VaultLedger, now: float = T0) -> VaultSnapshot:
    return ledger.snapshot(VAULT, now, up=True, refresh_duration_seconds=1.0)


def test_a_finished_job_is_counted_once_however_often_it_is_listed() -> None:
    ledger = VaultLedger(LOOKBACK)
    jobs = listing(job("a", status="Completed"), job("b", status="Failed", start=T0 - 1800))
    for minute in range(5):
        ledger.apply_listing(jobs, [], [], T0 + 60 * minute)
    assert snap(ledger, T0 + 300).jobs_finished == {
        ("AzureIaasVM", "Backup", "Completed"): 1,
        ("AzureIaasVM", "Backup", "Failed"): 1,
    }
    histogram = snap(ledger).durations[("AzureIaasVM", "Backup")]
    assert histogram.count == 2 and histogram.sum_seconds == 1200


def test_a_restart_counts_the_jobs_already_finished_in_the_lookback_once() -> None:
    jobs = listing(job("a"), job("b", start=T0 - DAY), job("c", status="InProgress", start=T0 - 60))
    before = VaultLedger(LOOKBACK)
    before.apply_listing(jobs, [], [], T0)
    restarted = VaultLedger(LOOKBACK)
    assert restarted.window_start(T0 + 60) == T0 + 60 - LOOKBACK  # cold: the whole lookback
    restarted.apply_listing(jobs, [], [], T0 + 60)
    assert (
        snap(restarted).jobs_finished
        == snap(before).jobs_finished
        == {("AzureIaasVM", "Backup", "Completed"): 2}
    )


def test_a_job_that_finishes_later_is_counted_when_it_finishes() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(listing(job("a", status="InProgress", start=T0 - 120)), [], [], T0)
    running = entity(snap(ledger, T0 + 30))
    assert snap(ledger, T0 + 30).jobs_finished == {} and running.last_job_duration_seconds == 150
    assert running.last_success_timestamp is None
    ledger.apply_listing(listing(job("a", status="Completed", start=T0 - 120)), [], [], T0 + 600)
    done = entity(snap(ledger, T0 + 600))
    assert snap(ledger, T0 + 600).jobs_finished == {("AzureIaasVM", "Backup", "Completed"): 1}
    assert done.last_success_timestamp == T0 - 120 + 600
    assert done.last_job_duration_seconds == 600


def test_the_window_starts_at_the_last_listing_less_the_overlap_or_at_the_oldest_running_job() -> None:
    ledger = VaultLedger(LOOKBACK)
    assert ledger.window_start(T0) == T0 - LOOKBACK
    ledger.apply_listing(listing(job("a")), [], [], T0)
    assert ledger.window_start(T0 + 60) == T0 - WARM_OVERLAP_SECONDS
    ledger.apply_listing(listing(job("b", status="InProgress", start=T0 - 5 * 3600)), [], [], T0 + 60)
    assert ledger.window_start(T0 + 120) == T0 - 5 * 3600
    # never before the lookback, however old the running job
    ledger.apply_listing(listing(job("c", status="InProgress", start=T0 - 6.9 * DAY)), [], [], T0 + 120)
    assert ledger.window_start(T0 + DAY) == T0 + DAY - LOOKBACK


def test_a_late_arrival_inside_the_overlap_is_counted_and_becomes_the_latest() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(listing(job("a", start=T0 - 3600)), [], [], T0)
    # a job that started before the last listing ended, listed only now
    late = job("late", status="Failed", start=T0 - 300)
    ledger.apply_listing(listing(late), [], [], T0 + 60)
    totals = entity(snap(ledger, T0 + 60))
    assert sum(snap(ledger, T0 + 60).jobs_finished.values()) == 2
    assert totals.last_job.job_id == "late"
    assert totals.last_success_timestamp == T0 - 3600 + 600  # the earlier success still counts


def test_a_running_job_missing_from_a_listing_is_checked_and_forgotten_only_when_confirmed_gone() -> None:
    ledger = VaultLedger(LOOKBACK)
    running = job("r", entity="vm-2", status="InProgress", start=T0 - 600)
    ledger.apply_listing(listing(job("a"), running), [], [], T0)
    # a listing from before its start that did not return it: ask for it by id
    assert ledger.unlisted_running(T0 - 900, listing(job("a"))) == [running]
    # a listing starting after it started says nothing about it
    assert ledger.unlisted_running(T0 - 60, {}) == []
    ledger.apply_listing(listing(job("a")), [], [], T0 + 60)  # merely unlisted: kept
    assert {e.key.entity for e in snap(ledger).entities} == {"vm-1", "vm-2"}
    ledger.apply_listing(listing(job("a")), [], ["r"], T0 + 120)  # confirmed gone (404)
    assert {e.key.entity for e in snap(ledger).entities} == {"vm-1"}
    assert ledger.window_start(T0 + 180) == T0 + 120 - WARM_OVERLAP_SECONDS  # no longer held open


def test_malformed_records_are_counted_once_by_name_and_returned_for_the_log_once() -> None:
    ledger = VaultLedger(LOOKBACK)
    bad = [("job-x", MalformedJob("bad_time")), (None, MalformedJob("not_an_object"))]
    assert ledger.apply_listing({}, bad, [], T0) == bad
    again = ledger.apply_listing({}, bad, [], T0 + 60)
    assert again == [(None, bad[1][1])]  # a record without a name cannot be recognised again
    assert snap(ledger).malformed_jobs == {"bad_time": 1, "not_an_object": 2}


def test_jobs_leave_with_the_lookback_and_their_entity_with_them() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(listing(job("old", entity="vm-old", start=T0 - 6 * DAY), job("a")), [], [], T0)
    assert len(snap(ledger).entities) == 2
    ledger.apply_listing({}, [], [], T0 + 2 * DAY)
    assert [e.key.entity for e in snap(ledger, T0 + 2 * DAY).entities] == ["vm-1"]
    assert snap(ledger, T0 + 2 * DAY).job_counts == {("AzureIaasVM", "Backup", "Completed"): 1}


def test_sizes_are_added_once_and_kept_when_a_listing_repeats_the_job_without_them() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing({}, [], [], T0 - 3 * 3600)  # a first listing: both jobs come after it
    first, second = job("a", start=T0 - 7200), job("b", start=T0 - 3600)
    ledger.apply_listing(listing(first, second), [], [], T0)
    assert [j.job_id for j in ledger.detail_candidates(10)] == ["b", "a"]  # the latest first
    ledger.apply_size("b", 3 * 2**30)
    ledger.apply_size("a", None)  # its details report no size: never asked again
    assert ledger.detail_candidates(10) == []
    ledger.apply_listing(listing(first, second), [], [], T0 + 60)  # lists carry no extendedInfo
    assert entity(snap(ledger)).last_size_bytes == 3 * 2**30 and snap(ledger).size_bytes_total == 3 * 2**30


def test_details_are_asked_for_the_latest_job_of_each_entity_first_within_the_budget() -> None:
    ledger = VaultLedger(LOOKBACK)
    jobs = [job(f"vm1-{i}", entity="vm-1", start=T0 - DAY + i * 3600) for i in range(5)]
    jobs += [job("vm2-0", entity="vm-2", start=T0 - 2 * DAY), job("running", status="InProgress")]
    jobs += [job("cfg", entity="vm-3", operation="ConfigureBackup")]
    ledger.apply_listing({}, [], [], T0 - 3 * DAY)  # a first listing: these jobs come after it
    ledger.apply_listing(listing(*jobs), [], [], T0)
    assert [j.job_id for j in ledger.detail_candidates(3)] == ["vm1-4", "vm2-0", "vm1-3"]


def test_a_size_for_a_job_that_left_the_lookback_meanwhile_is_dropped() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(listing(job("a", start=T0 - 6.9 * DAY)), [], [], T0)
    ledger.apply_listing({}, [], [], T0 + DAY)
    ledger.apply_size("a", 1024)
    assert snap(ledger, T0 + DAY).entities == ()


def test_a_size_in_the_listing_itself_counts_once() -> None:
    ledger = VaultLedger(LOOKBACK)
    sized = job("a", size_bytes=2048)
    ledger.apply_listing(listing(sized), [], [], T0)
    ledger.apply_listing(listing(sized), [], [], T0 + 60)
    assert snap(ledger).size_bytes_total == 2048
    assert ledger.detail_candidates(10) == []


def test_the_latest_job_is_by_start_time_and_a_tie_by_id() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(listing(job("b", status="Failed"), job("a"), job("c", start=T0 - 7200)), [], [], T0)
    assert entity(snap(ledger)).last_job.job_id == "b"


def test_parsed_recorded_shapes_feed_the_ledger() -> None:
    """The parser's output is what the ledger takes: a list item and its later, finished form."""
    item = {
        "name": "job-1",
        "properties": {
            "entityFriendlyName": "vm-1",
            "backupManagementType": "AzureIaasVM",
            "operation": "Backup",
            "status": "InProgress",
            "jobType": "AzureIaaSVMJob",
            "startTime": "2027-01-15T08:00:00.1234567Z",
            "duration": "PT1H40.4431187S",
        },
    }
    start = parse_job(item).start_time
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(listing(parse_job(item)), [], [], start + 60)
    assert entity(snap(ledger, start + 60)).last_job_duration_seconds == 60
    item["properties"] |= {"status": "Completed", "endTime": "2027-01-15T09:40:00.5Z"}
    ledger.apply_listing(listing(parse_job(item)), [], [], start + 7200)
    # as Azure reports it (one hour and 40 seconds: no minutes in that form), not end minus start
    assert entity(snap(ledger, start + 7200)).last_job_duration_seconds == 3640.4431187


def test_a_job_dated_in_the_future_is_malformed_and_never_the_latest() -> None:
    ledger = VaultLedger(LOOKBACK)
    ahead = job("2099", status="Failed", start=4_070_908_800.0)  # 2099-01-01
    nearly_now = job("skewed", start=T0 + 3600)  # an hour of clock skew is tolerated
    for minute in range(3):
        ledger.apply_listing(listing(job("a"), ahead, nearly_now), [], [], T0 + 60 * minute)
    snapshot = snap(ledger)
    assert entity(snapshot).last_job.job_id == "skewed"
    assert snapshot.malformed_jobs == {"future_time": 1}


# --- one database, one entity (entities.py) ---------------------------------------------------------


def db_job(
    job_id: str, entity: str, operation: str, start: float, workload: str = "SQLDataBase", **more: Any
) -> Job:
    return job(
        job_id,
        entity,
        start=start,
        backup_management_type="AzureWorkload",
        operation=operation,
        job_type="AzureWorkloadJob",
        workload_type=workload,
        **more,
    )


def db_entities(snapshot: VaultSnapshot) -> dict[tuple[str, str], EntitySnapshot]:
    return {
        (e.key.entity, e.key.operation): e
        for e in snapshot.entities
        if e.key.backup_management_type == "AzureWorkload"
    }


def test_protection_stopped_on_a_database_carries_the_entity_of_its_backups() -> None:
    # as recorded: ConfigureBackup and DisableBackup name "msdb", Backup names "msdb [sql-vm]"
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(
        listing(
            db_job("c", "msdb", "ConfigureBackup", T0 - 5 * 3600),
            db_job("b", "msdb [sql-vm]", "Backup (Full)", T0 - 4 * 3600, size_bytes=2**20),
            db_job("d", "MSDB", "DisableBackup", T0 - 3600),
        ),
        [],
        [],
        T0,
    )
    shown = db_entities(snap(ledger))
    assert set(shown) == {
        ("msdb [sql-vm]", "ConfigureBackup"),
        ("msdb [sql-vm]", "Backup (Full)"),
        ("msdb [sql-vm]", "DisableBackup"),
    }
    stopped = shown[("msdb [sql-vm]", "DisableBackup")]
    assert stopped.last_job.job_id == "d" and stopped.last_job.entity == "msdb [sql-vm]"


def test_hana_and_the_old_instance_prefixed_form_match_on_the_database_part() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(
        listing(
            db_job("h1", "h22", "ConfigureBackup", T0 - 7200, workload="SAPHanaDatabase"),
            db_job("h2", "H22/H22 [HANADemoIDC3]", "Backup (Full)", T0 - 3600, workload="SAPHanaDatabase"),
            db_job("s1", "testdb1", "DeleteBackupData", T0 - 7200),
            db_job("s2", "MSSQLSERVER/testdb1 [pstestwlvm1bca8]", "Restore (Full)", T0 - 3600),
        ),
        [],
        [],
        T0,
    )
    assert set(db_entities(snap(ledger))) == {
        ("H22/H22 [HANADemoIDC3]", "ConfigureBackup"),
        ("H22/H22 [HANADemoIDC3]", "Backup (Full)"),
        ("MSSQLSERVER/testdb1 [pstestwlvm1bca8]", "DeleteBackupData"),
        ("MSSQLSERVER/testdb1 [pstestwlvm1bca8]", "Restore (Full)"),
    }


def test_a_bare_name_that_is_ambiguous_or_of_another_workload_is_kept_as_written() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(
        listing(
            db_job("a", "msdb [vm-a]", "Backup (Full)", T0 - 7200),
            db_job("b", "msdb [vm-b]", "Backup (Full)", T0 - 7100),
            db_job("c", "msdb", "DisableBackup", T0 - 3600),  # which of the two? no guess
            db_job("d", "systemdb [hana-1]", "Backup (Full)", T0 - 3600, workload="SAPHanaDatabase"),
            db_job("e", "systemdb", "ConfigureBackup", T0 - 3500),  # an SQL database: not the HANA one
        ),
        [],
        [],
        T0,
    )
    names = {entity for entity, _ in db_entities(snap(ledger))}
    assert names == {"msdb [vm-a]", "msdb [vm-b]", "msdb", "systemdb [hana-1]", "systemdb"}


def test_two_names_of_one_database_and_operation_merge_their_totals() -> None:
    # RestoreWithRehydrate is recorded under both forms
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(
        listing(
            db_job("r1", "sqltest6", "RestoreWithRehydrate", T0 - 7200, size_bytes=3 * 2**20),
            db_job(
                "r2", "sqltest6 [sqlvm]", "RestoreWithRehydrate", T0 - 3600, status="Failed", size_bytes=2**20
            ),
        ),
        [],
        [],
        T0,
    )
    (merged,) = db_entities(snap(ledger)).values()
    assert merged.key.entity == "sqltest6 [sqlvm]" and merged.last_job.job_id == "r2"
    assert merged.last_size_bytes == 2**20
    assert merged.last_success_timestamp == T0 - 7200 + 600


def test_a_database_name_maps_again_when_its_backup_job_leaves_the_lookback() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(
        listing(
            db_job("b", "msdb [sql-vm]", "Backup (Full)", T0 - 2 * DAY),
            db_job("d", "msdb", "DisableBackup", T0 - DAY),
        ),
        [],
        [],
        T0,
    )
    assert ("msdb [sql-vm]", "DisableBackup") in db_entities(snap(ledger))
    later = T0 + LOOKBACK - 1.5 * DAY  # the Backup job is out, the DisableBackup job still in
    ledger.apply_listing({}, [], [], later)
    assert set(db_entities(snap(ledger, later))) == {("msdb", "DisableBackup")}


def test_entity_for_item_names_a_protected_item_as_its_backup_jobs_do() -> None:
    from azure_backup_exporter.entities import entity_for_item

    known = ["SYSTEMDB [hxehost]", "MSSQLSERVER/testdb1 [pstestwlvm1bca8]", "msdb [sql-vm]"]
    assert entity_for_item("systemdb", "hxehost", known) == "SYSTEMDB [hxehost]"
    assert entity_for_item("testdb1", "pstestwlvm1bca8", known) == "MSSQLSERVER/testdb1 [pstestwlvm1bca8]"
    assert entity_for_item("msdb", "other-vm", known) == "msdb [other-vm]"
    assert entity_for_item("vm-web-01", None) == "vm-web-01"


def test_consecutive_failures_count_failed_jobs_since_the_last_success() -> None:
    ledger = VaultLedger(LOOKBACK)
    history = [
        job("f-old", status="Failed", start=T0 - 5 * DAY),
        job("ok", status="CompletedWithWarnings", start=T0 - 4 * DAY),
        job("f1", status="Failed", start=T0 - 3 * DAY),
        job("cancel", status="Cancelled", start=T0 - 2 * DAY),  # neither counts nor resets
        job("f2", status="Failed", start=T0 - DAY),
        job("running", status="InProgress", start=T0 - 600),  # not finished: no outcome yet
    ]
    ledger.apply_listing(listing(*history), [], [], T0)
    assert entity(snap(ledger)).consecutive_failures == 2
    ledger.apply_listing(listing(job("running", status="Completed", start=T0 - 600)), [], [], T0 + 900)
    assert entity(snap(ledger, T0 + 900)).consecutive_failures == 0


def test_consecutive_failures_of_a_restarted_exporter_are_read_from_the_lookback_again() -> None:
    jobs = listing(*(job(f"f{i}", status="Failed", start=T0 - i * 3600) for i in range(1, 4)))
    for ledger in (VaultLedger(LOOKBACK), VaultLedger(LOOKBACK)):  # before and after a restart
        ledger.apply_listing(jobs, [], [], T0)
        assert entity(snap(ledger)).consecutive_failures == 3


def test_counts_outlive_the_jobs_that_made_them_so_counters_never_go_down() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing({}, [], [], T0 - 2 * 3600)
    ledger.apply_listing(listing(job("a", size_bytes=1024), job("b", status="Failed")), [], [], T0)
    ledger.apply_listing({}, [], [], T0 + LOOKBACK)  # both left the lookback, and their entity with them
    later = snap(ledger, T0 + LOOKBACK)
    assert later.entities == ()
    assert later.jobs_finished == {
        ("AzureIaasVM", "Backup", "Completed"): 1,
        ("AzureIaasVM", "Backup", "Failed"): 1,
    }
    assert later.size_bytes_total == 1024


def test_only_backups_are_worth_a_request_for_their_size() -> None:
    ledger = VaultLedger(LOOKBACK)
    ledger.apply_listing(
        listing(
            job("r", operation="Restore"),
            job("f", operation="Backup (Full)"),
            job("c", operation="ConfigureBackup"),
        ),
        [],
        [],
        T0,
    )
    assert [j.job_id for j in ledger.detail_candidates(10)] == ["f"]


def test_the_generation_moves_exactly_when_a_snapshot_would_show_something_new() -> None:
    """The collector keeps a vault's rendering while the generation stands (and no job runs)."""
    ledger = VaultLedger(LOOKBACK)
    jobs = listing(job("a"), job("b", start=T0 - DAY))
    ledger.apply_listing(jobs, [], [], T0)
    first = ledger.generation
    ledger.apply_listing(jobs, [], [], T0 + 60)  # the same listing again: nothing new
    assert ledger.generation == first and snap(ledger, T0 + 60) == snap(ledger, T0)
    ledger.apply_size("a", None)  # details without a size: nothing shown changes
    assert ledger.generation == first
    ledger.apply_size("b", 2048)
    assert ledger.generation == first + 1
    ledger.apply_listing(listing(job("a", status="Failed")), [], [], T0 + 120)  # a job changed
    assert ledger.generation == first + 2
    ledger.apply_listing({}, [], [], T0 + 6 * DAY + 1)  # b leaves the lookback
    assert ledger.generation == first + 3
    running = listing(job("c", status="InProgress", start=T0 + 6 * DAY))
    ledger.apply_listing(running, [], [], T0 + 6 * DAY + 60)
    ledger.apply_listing(running, [], [], T0 + 6 * DAY + 120)  # still running: its time so far is no change
    assert ledger.generation == first + 4


def test_at_a_cold_start_only_each_entitys_latest_finished_backup_is_worth_its_details() -> None:
    """A week of history is tens of thousands of requests for a counter's first sample."""
    ledger = VaultLedger(LOOKBACK)
    history = [job(f"vm1-{i}", start=T0 - DAY + i * 3600) for i in range(5)]
    history += [job("vm2-0", entity="vm-2", start=T0 - 2 * DAY), job("running", status="InProgress")]
    ledger.apply_listing(listing(*history), [], [], T0)
    assert sorted(j.job_id for j in ledger.detail_candidates(100)) == ["vm1-4", "vm2-0"]
    # every backup finishing after the first listing is, once
    ledger.apply_listing(
        listing(*history[:-1], job("running", status="Completed"), job("new", start=T0)), [], [], T0 + 60
    )
    assert sorted(j.job_id for j in ledger.detail_candidates(100)) == ["new", "running", "vm1-4", "vm2-0"]
