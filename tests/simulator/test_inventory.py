"""The protection inventory the simulator serves: protected items, policies and vault settings, consistent
with the jobs it lists and the ones it hides, read the way the exporter reads them."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import pytest
from azure_backup_exporter.inventory import item_entity, parse_protected_item
from azure_backup_exporter.policies import expected_intervals, parse_policy
from azure_backup_simulator.timefmt import parse_timestamp

from .clients import START, VAULTS_API_VERSION, ArmClient, Control

ESTATE = {
    "seed": 5,
    "subscriptions": 2,
    "vaults": 8,
    "entities_per_vault": 14,
    "history_days": 7,
    "failure_rate": 0.15,
    "list_hidden_scheduled_jobs": True,  # the item's state counts them: the test must see them
    "start_time": START,
}
GOOD = ("Completed", "CompletedWithWarnings")


def list_all(arm: ArmClient, path: str) -> list[dict]:
    answer, out = arm.get(path), []
    while True:
        assert answer.status_code == 200, answer.text
        out.extend(answer.json()["value"])
        link = answer.json().get("nextLink")
        if not link:
            return out
        answer = arm.session.get(link, timeout=10)


@pytest.fixture(scope="module")
def estate():
    from azure_backup_simulator import Simulator, SimulatorConfig

    with Simulator(SimulatorConfig(**ESTATE)) as sim:
        arm = ArmClient(sim)
        vaults = {}
        for vault_id in Control(sim).estate()["vaults"]:
            vaults[vault_id] = {
                "items": list_all(arm, vault_id + "/backupProtectedItems"),
                "policies": list_all(arm, vault_id + "/backupPolicies"),
                "jobs": arm.list_all_jobs(vault_id),
                "vault": arm.get(vault_id, api_version=VAULTS_API_VERSION).json(),
            }
        yield vaults


def all_items(estate) -> list[tuple[str, dict]]:
    return [(vault_id, item) for vault_id, read in estate.items() for item in read["items"]]


def test_every_item_parses_and_its_entity_is_that_of_its_backup_jobs(estate) -> None:
    """The exporter joins inventory and jobs on `entity`: every backup job's entityFriendlyName is the
    entity of one listed item (generated estate: no orphan jobs), and each item's entity has jobs."""
    checked = 0
    for _vault_id, read in estate.items():
        entities = {item_entity(parse_protected_item(item)) for item in read["items"]}
        assert len(entities) == len(read["items"]), "one entity per item"
        backup_entities = {
            job["properties"]["entityFriendlyName"]
            for job in read["jobs"]
            if job["properties"]["operation"].startswith("Backup")
            and job["properties"].get("jobType") != "VaultJob"
        }
        deleted = {
            job["properties"]["entityFriendlyName"].lower()
            for job in read["jobs"]
            if job["properties"]["operation"] == "DeleteBackupData"
        }
        orphans = {name for name in backup_entities - entities if name.split(" [")[0].lower() not in deleted}
        assert not orphans, "only items deleted for good (soft delete off) leave jobs without an item"
        for item in read["items"]:
            parsed = parse_protected_item(item)
            if parsed.last_backup_time is not None:
                assert item_entity(parsed) in backup_entities
                checked += 1
    assert checked > 40


def newest(jobs: list[dict], entity: str, *, good: bool = False, logs: bool = True) -> dict | None:
    found = [
        job["properties"]
        for job in jobs
        if job["properties"]["entityFriendlyName"] == entity
        and job["properties"]["operation"].startswith("Backup")
        and "endTime" in job["properties"]
        and job["properties"]["status"] != "InProgress"
        and (logs or job["properties"]["operation"] != "Backup (Log)")
        and (not good or job["properties"]["status"] in GOOD)
    ]
    return max(found, key=lambda p: parse_timestamp(p["startTime"])) if found else None


def test_last_backup_and_recovery_point_follow_the_newest_finished_jobs_hidden_ones_included(estate) -> None:
    kinds = defaultdict(int)
    for vault_id, item in all_items(estate):
        properties = item["properties"]
        parsed = parse_protected_item(item)
        entity = item_entity(parsed)
        jobs = estate[vault_id]["jobs"]
        workload = properties["backupManagementType"] == "AzureWorkload"
        last = newest(jobs, entity, logs=not workload)
        if properties["protectedItemType"] == "DPMProtectedItem":  # the spec gives DPM no lastBackupTime
            status = properties["extendedInfo"]["lastBackupStatus"]
            assert status == (last["status"] if last else ""), entity
        elif last is None:
            assert parsed.last_backup_time is None, entity
        else:
            assert parsed.last_backup_time == pytest.approx(parse_timestamp(last["startTime"])), entity
            kinds[properties["protectedItemType"]] += 1
        good = newest(jobs, entity, good=True)
        if properties["protectedItemType"] == "AzureFileShareProtectedItem":
            assert "lastRecoveryPoint" not in properties  # as recorded: 1 of 677 states had one
        elif properties["protectedItemType"] != "MabFileFolderProtectedItem":
            if good is None:
                assert "lastRecoveryPoint" not in properties
            else:
                point = parse_timestamp(properties["lastRecoveryPoint"])
                assert 0 <= point - parse_timestamp(good["startTime"]) < 6, entity
        if (
            last is not None
            and last["status"] == "Failed"
            and properties["backupManagementType"] == "AzureIaasVM"
        ):
            assert properties["lastBackupStatus"] == "Failed"
            assert properties["healthStatus"] == "ActionRequired"
    assert set(kinds) >= {
        "Microsoft.Compute/virtualMachines",
        "AzureFileShareProtectedItem",
        "AzureVmWorkloadSQLDatabase",
        "AzureVmWorkloadSAPHanaDatabase",
        "MabFileFolderProtectedItem",
    }


def test_items_stopped_never_backed_up_soft_deleted_and_a_silent_mars_server(estate) -> None:
    states = [item["properties"] for _, item in all_items(estate)]
    stopped = [p for p in states if p["protectionState"] == "ProtectionStopped"]
    assert any(p.get("lastRecoveryPoint") for p in stopped), "stopped with data retained"
    for p in stopped:
        if p["backupManagementType"] == "AzureIaasVM":
            assert p["policyId"] == "" and p["policyName"] == ""
        else:
            assert "policyId" not in p
    assert any(p.get("isScheduledForDeferredDelete") for p in stopped)
    never = [p for p in states if p["protectionState"] == "IRPending"]
    assert never
    for p in never:
        if p["backupManagementType"] == "AzureIaasVM" and p["lastBackupStatus"] == "":
            assert p["lastBackupTime"] == "2001-01-01T00:00:00Z" and "lastRecoveryPoint" not in p
        if (
            p["backupManagementType"] in ("AzureStorage", "AzureWorkload")
            and p["lastBackupStatus"] == "IRPending"
        ):
            assert "lastBackupTime" not in p
    now = START.timestamp()
    silent = [
        p
        for p in states
        if p["backupManagementType"] == "MAB"
        and p["protectionState"] != "ProtectionStopped"
        and now - parse_timestamp(p.get("lastBackupTime", "2001-01-01T00:00:00Z")) > 1.5 * 86400
    ]
    assert silent, "a MARS server still protected whose last backup is days old"


def test_every_policy_shape_is_served_with_its_interval(estate) -> None:
    shapes = {}
    for read in estate.values():
        for raw in read["policies"]:
            properties = raw["properties"]
            schedule = properties.get("schedulePolicy") or {}
            key = (
                properties["backupManagementType"],
                schedule.get("schedulePolicyType", "workload"),
                schedule.get("scheduleRunFrequency", ""),
            )
            shapes[key] = expected_intervals(parse_policy(raw))
            if properties["backupManagementType"] == "AzureWorkload":
                kinds = [sub["policyType"] for sub in properties["subProtectionPolicy"]]
                assert kinds == ["Full", "Differential", "Log"]
                assert properties["settings"]["timeZone"] != "UTC"
    assert shapes[("AzureIaasVM", "SimpleSchedulePolicy", "Daily")] == {"backup": 86400}
    assert (
        2 * 86400 <= shapes[("AzureIaasVM", "SimpleSchedulePolicy", "Weekly")]["backup"] <= 5 * 86400 + 3600
    )
    assert shapes[("AzureIaasVM", "SimpleSchedulePolicyV2", "Hourly")]["backup"] in (8 * 3600, 16 * 3600)
    # every 4 h from 08:00 for 12 h, Pacific: 16 h overnight, 17 h the night the clocks go back
    assert shapes[("AzureStorage", "SimpleSchedulePolicy", "Hourly")]["backup"] in (16 * 3600, 17 * 3600)
    assert shapes[("AzureStorage", "SimpleSchedulePolicy", "Daily")] == {"backup": 86400}
    workload = shapes[("AzureWorkload", "workload", "")]  # daily Full or Differential; 25 h across DST
    assert workload["backup"] in (86400, 90000) and workload["log"] == 4 * 3600


def test_a_weekly_vm_backs_up_on_its_days_only(estate) -> None:
    from zoneinfo import ZoneInfo

    checked = 0
    for read in estate.values():
        weekly = next(p for p in read["policies"] if p["name"] == "WeeklyPolicy")
        days = set(weekly["properties"]["schedulePolicy"]["scheduleRunDays"])
        zone = ZoneInfo("Europe/Berlin")
        names = {
            i["properties"]["friendlyName"]
            for i in read["items"]
            if i["properties"].get("policyName") == "WeeklyPolicy"
        }
        for job in read["jobs"]:
            properties = job["properties"]
            if properties["entityFriendlyName"] in names and properties["operation"] == "Backup":
                local = datetime.fromtimestamp(parse_timestamp(properties["startTime"]), zone)
                if local.hour == 23:  # a scheduled run (ad hoc backups start in the day)
                    assert local.strftime("%A") in days
                    checked += 1
    assert checked >= 3


def test_vault_settings_in_several_states(estate) -> None:
    seen = defaultdict(set)
    for read in estate.values():
        properties = read["vault"]["properties"]
        security = properties["securitySettings"]
        seen["soft_delete"].add(security["softDeleteSettings"]["softDeleteState"])
        seen["immutability"].add(security["immutabilitySettings"]["state"])
        seen["mua"].add(security["multiUserAuthorization"])
        seen["public"].add(properties["publicNetworkAccess"])
        seen["redundancy"].add(properties["redundancySettings"]["standardTierStorageRedundancy"])
        seen["crr"].add(properties["redundancySettings"]["crossRegionRestore"])
    assert seen == {
        "soft_delete": {"Enabled", "AlwaysON", "Disabled"},
        "immutability": {"Disabled", "Unlocked", "Locked"},
        "mua": {"Enabled", "Disabled"},
        "public": {"Enabled", "Disabled"},
        "redundancy": {"GeoRedundant", "LocallyRedundant", "ZoneRedundant"},
        "crr": {"Enabled", "Disabled"},
    }


def test_vault_lists_carry_what_a_get_returns(make_sim) -> None:
    sim = make_sim(vaults=4, subscriptions=1)
    arm = ArmClient(sim)
    subscription = Control(sim).estate()["subscriptions"][0]
    listed = arm.get(
        f"/subscriptions/{subscription}/providers/Microsoft.RecoveryServices/vaults",
        api_version=VAULTS_API_VERSION,
    ).json()["value"]
    for vault in listed:
        assert vault == arm.get(vault["id"], api_version=VAULTS_API_VERSION).json()


def test_items_and_policies_page_with_next_links(make_sim) -> None:
    sim = make_sim(seed=2, vaults=1, entities_per_vault=7, page_size=3)
    arm, control = ArmClient(sim), Control(sim)
    vault_id = control.estate()["vaults"][0]
    items = list_all(arm, vault_id + "/backupProtectedItems")
    policies = list_all(arm, vault_id + "/backupPolicies")
    assert len({item["id"] for item in items}) == len(items) >= 6
    assert len({policy["id"] for policy in policies}) == len(policies) == 8
    by_route = control.get("requests").json()["by_route"]
    assert by_route["list_protected_items"]["200"] == -(-len(items) // 3)
    assert by_route["list_policies"]["200"] == 3
    assert arm.get(vault_id + "/backupProtectedItems", **{"$skiptoken": "bogus"}).status_code == 400


def test_route_faults_hit_the_chosen_route_and_vaults(make_sim) -> None:
    sim = make_sim(seed=2, vaults=2)
    arm, control = ArmClient(sim), Control(sim)
    first, second = control.estate()["vaults"]
    control.faults(
        route_faults=[
            {"route": "list_protected_items", "vaults": [first], "status": 403},
            {"route": "list_policies", "status": 500},
            {"route": "get_vault", "vaults": [second.upper()], "status": 404},
        ]
    )
    denied = arm.get(first + "/backupProtectedItems")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "AuthorizationFailed"
    assert arm.get(second + "/backupProtectedItems").status_code == 200
    assert arm.get(first + "/backupPolicies").status_code == 500
    assert arm.get(second, api_version=VAULTS_API_VERSION).status_code == 404
    assert arm.get(first, api_version=VAULTS_API_VERSION).status_code == 200
    assert arm.get(first + "/backupJobs").status_code == 200
    bad = control.post("faults", {"route_faults": [{"route": "list_policies", "status": 418}]})
    assert bad.status_code == 400 and "status" in bad.json()["error"]["message"]
    control.post("reset")
    assert arm.get(first + "/backupProtectedItems").status_code == 200


def item_named(arm: ArmClient, vault_id: str, name: str) -> dict | None:
    return next(
        (
            i["properties"]
            for i in list_all(arm, vault_id + "/backupProtectedItems")
            if i["properties"]["friendlyName"] == name
        ),
        None,
    )


def test_stop_and_resume_protection_through_the_control_api(make_sim) -> None:
    sim = make_sim(seed=2, vaults=1, entities_per_vault=8, history_days=2)
    arm, control = ArmClient(sim), Control(sim)
    vault_id = control.estate()["vaults"][0]
    target = next(
        i["properties"]
        for i in list_all(arm, vault_id + "/backupProtectedItems")
        if i["properties"].get("policyName") == "DefaultPolicy"
        and i["properties"]["protectionState"] == "Protected"
    )
    name = target["friendlyName"]
    stopped = control.post("items/stop", {"vault": vault_id, "item": name})
    assert stopped.status_code == 200, stopped.text
    assert [job["properties"]["operation"] for job in stopped.json()["jobs"]] == ["DisableBackup"]
    control.advance(3 * 86400)
    arm.refresh_token()
    after = item_named(arm, vault_id, name)
    assert after["protectionState"] == "ProtectionStopped" and after["policyName"] == ""
    assert after["lastRecoveryPoint"] == target["lastRecoveryPoint"], "data retained, no new backup"
    assert control.post("items/stop", {"vault": vault_id, "item": name}).status_code == 409
    assert control.post("items/resume", {"vault": vault_id, "item": name}).status_code == 200
    control.advance(2 * 86400)
    arm.refresh_token()
    resumed = item_named(arm, vault_id, name)
    assert resumed["protectionState"] == "Protected" and resumed["policyName"] == "DefaultPolicy"
    assert parse_timestamp(resumed["lastBackupTime"]) > parse_timestamp(target["lastBackupTime"]) + 3 * 86400
    missing = control.post("items/stop", {"vault": vault_id, "item": "no-such-item"})
    assert missing.status_code == 404


def test_deleting_data_soft_deletes_or_removes_by_the_vaults_soft_delete(make_sim) -> None:
    sim = make_sim(seed=2, vaults=1, entities_per_vault=8, history_days=2)
    arm, control = ArmClient(sim), Control(sim)
    vault_id = control.estate()["vaults"][0]
    assert control.post("vaults/settings", {"vault": vault_id, "soft_delete": "Enabled"}).status_code in (
        200,
        409,
    )
    names = [
        i["properties"]["friendlyName"]
        for i in list_all(arm, vault_id + "/backupProtectedItems")
        if i["properties"]["protectionState"] != "ProtectionStopped"
    ]
    soft = control.post("items/stop", {"vault": vault_id, "item": names[0], "delete_data": True})
    assert soft.status_code == 200, soft.text
    if (
        arm.get(vault_id, api_version=VAULTS_API_VERSION).json()["properties"]["securitySettings"][
            "softDeleteSettings"
        ]["softDeleteState"]
        != "Disabled"
    ):
        assert item_named(arm, vault_id, names[0])["isScheduledForDeferredDelete"] is True


def test_an_attacker_weakens_a_vault_but_not_what_azure_locks(make_sim) -> None:
    sim = make_sim(seed=2, vaults=6)
    arm, control = ArmClient(sim), Control(sim)
    for vault_id in control.estate()["vaults"]:
        vault = arm.get(vault_id, api_version=VAULTS_API_VERSION).json()["properties"]
        answer = control.post(
            "vaults/settings",
            {"vault": vault_id, "soft_delete": "Disabled", "multi_user_authorization": "Disabled"},
        )
        if vault["securitySettings"]["softDeleteSettings"]["softDeleteState"] == "AlwaysON":
            assert answer.status_code == 409
            continue
        assert answer.status_code == 200, answer.text
        security = arm.get(vault_id, api_version=VAULTS_API_VERSION).json()["properties"]["securitySettings"]
        assert security["softDeleteSettings"]["softDeleteState"] == "Disabled"
        assert security["multiUserAuthorization"] == "Disabled"
    vault_id = control.estate()["vaults"][0]
    bad = control.post("vaults/settings", {"vault": vault_id, "soft_delete": "Off"})
    assert bad.status_code == 400 and "soft_delete" in bad.json()["error"]["message"]
    unknown = control.post("vaults/settings", {"vault": vault_id, "firewall": "Off"})
    assert unknown.status_code == 400 and "firewall" in unknown.json()["error"]["message"]
