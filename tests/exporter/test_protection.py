"""The protection ledger in-process: parsed items, policies and settings in, an inventory snapshot out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from azure_backup_exporter.inventory import parse_protected_item, parse_vault
from azure_backup_exporter.policies import parse_policy
from azure_backup_exporter.protection import ProtectionLedger
from azure_backup_exporter.snapshot import ItemSnapshot

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "inventory" / "examples"
VAULT_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"
POLICY_ID = f"{VAULT_ID}/backupPolicies/"
VM_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/"


def vm(name: str, policy: str = "DailyPolicy", **properties: Any) -> dict[str, Any]:
    return {
        "id": f"{VAULT_ID}/backupFabrics/Azure/protectionContainers/iaasvmcontainerv2;rg;{name}"
        f"/protectedItems/vm;iaasvmcontainerv2;rg;{name}",
        "name": f"vm;iaasvmcontainerv2;rg;{name}",
        "properties": {
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "backupManagementType": "AzureIaasVM",
            "workloadType": "VM",
            "friendlyName": name,
            "sourceResourceId": VM_ID + name,
            "policyId": POLICY_ID + policy,
            "policyName": policy,
            "protectionState": "Protected",
            "healthStatus": "Passed",
            "lastBackupStatus": "Completed",
            "lastBackupTime": "2026-11-30T22:00:00Z",
            "lastRecoveryPoint": "2026-11-30T22:05:00Z",
            **properties,
        },
    }


def daily(name: str, at: str = "2026-01-01T22:00:00Z") -> dict[str, Any]:
    return {
        "id": POLICY_ID + name,
        "name": name,
        "properties": {
            "backupManagementType": "AzureIaasVM",
            "schedulePolicy": {
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily",
                "scheduleRunTimes": [at],
            },
            "timeZone": "UTC",
        },
    }


def weekly(name: str, days: list[str]) -> dict[str, Any]:
    policy = daily(name)
    policy["properties"]["schedulePolicy"] |= {"scheduleRunFrequency": "Weekly", "scheduleRunDays": days}
    return policy


def by_entity(ledger: ProtectionLedger) -> dict[str, ItemSnapshot]:
    return {item.entity: item for item in ledger.snapshot(up=True).items}


def test_each_item_gets_the_interval_of_its_own_policy() -> None:
    ledger = ProtectionLedger()
    ledger.apply_policies(
        [parse_policy(daily("DailyPolicy")), parse_policy(weekly("Weekly", ["Monday", "Thursday"]))]
    )
    ledger.apply_items(
        [parse_protected_item(vm("vm-daily")), parse_protected_item(vm("vm-weekly", "Weekly"))]
    )
    items = by_entity(ledger)
    assert items["vm-daily"].intervals == {"backup": 86400.0}
    assert items["vm-weekly"].intervals == {"backup": 4 * 86400.0}
    assert items["vm-weekly"].policy == "Weekly"


def test_the_policy_keeps_its_written_name_when_the_item_names_it_by_policy_name_only() -> None:
    """Recorded (2016, .NET SDK): a VM with `policyName: DefaultPolicy` and no `policyId`."""
    ledger = ProtectionLedger()
    ledger.apply_policies([parse_policy(daily("DefaultPolicy"))])
    item = vm("vm-old", "DefaultPolicy")
    del item["properties"]["policyId"]
    ledger.apply_items([parse_protected_item(item)])
    (shown,) = ledger.snapshot(up=True).items
    assert (shown.policy, shown.intervals) == ("DefaultPolicy", {"backup": 86400.0})


def test_an_item_whose_policy_was_not_listed_or_is_soft_deleted_has_no_interval() -> None:
    ledger = ProtectionLedger()
    ledger.apply_policies([parse_policy(daily("DailyPolicy"))])
    deleted = vm("vm-deleted", isScheduledForDeferredDelete=True, protectionState="ProtectionStopped")
    ledger.apply_items([parse_protected_item(vm("vm-orphan", "Gone")), parse_protected_item(deleted)])
    items = by_entity(ledger)
    assert items["vm-orphan"].intervals == {} and items["vm-deleted"].intervals == {}
    assert items["vm-deleted"].protection_state == "ProtectionStopped"


def test_a_new_listing_replaces_the_last_and_policies_apply_to_items_read_before() -> None:
    ledger = ProtectionLedger()
    ledger.apply_items([parse_protected_item(vm("vm-1")), parse_protected_item(vm("vm-2"))])
    assert {i: s.intervals for i, s in by_entity(ledger).items()} == {"vm-1": {}, "vm-2": {}}
    ledger.apply_policies([parse_policy(daily("DailyPolicy"))])
    ledger.apply_items([parse_protected_item(vm("vm-2"))])
    assert {i: s.intervals for i, s in by_entity(ledger).items()} == {"vm-2": {"backup": 86400.0}}


def test_two_items_with_one_name_give_one_series_the_newest_recovery_point() -> None:
    ledger = ProtectionLedger()
    older = vm("vm-twin", lastRecoveryPoint="2026-11-01T00:00:00Z")
    newer = vm("vm-twin", lastRecoveryPoint="2026-11-30T00:00:00Z")
    newer["id"] = newer["id"].replace(";rg;", ";rg2;")
    ledger.apply_items([parse_protected_item(older), parse_protected_item(newer)])
    (only,) = ledger.snapshot(up=True).items
    assert only.last_recovery_point_timestamp == 1_795_996_800.0  # 2026-11-30


def test_before_any_reading_the_snapshot_says_so_and_settings_come_whole() -> None:
    ledger = ProtectionLedger()
    empty = ledger.snapshot(up=False)
    assert (empty.up, empty.read, empty.items, empty.settings) == (False, False, (), None)
    vault = json.loads((EXAMPLES / "recoveryservices-vaults-2026-11-01" / "GETVault.json").read_text())
    ledger.apply_settings(parse_vault(vault["responses"]["200"]["body"]))
    settings = ledger.snapshot(up=True).settings
    assert settings is not None and settings.location


def mars(name: str, **properties: Any) -> dict[str, Any]:
    """A MARS (MAB) item as the recordings show one: no lastRecoveryPoint, a lastBackupTime."""
    return {
        "id": f"{VAULT_ID}/backupFabrics/Azure/protectionContainers/{name}.corp/protectedItems/"
        f"MabFileFolderProtectedItem;{name}",
        "name": f"MabFileFolderProtectedItem;{name}",
        "properties": {
            "protectedItemType": "MabFileFolderProtectedItem",
            "backupManagementType": "MAB",
            "workloadType": "FileFolder",
            "friendlyName": name,
            "computerName": f"{name}.corp",
            "protectionState": "Protected",
            "policyName": "DailyPolicy",
            **properties,
        },
    }


def test_a_mars_item_keeps_its_last_recovery_point_when_its_backups_start_failing() -> None:
    """Azure drops a MARS item's only recovery point (a successful lastBackupTime) at its first failure."""
    ledger = ProtectionLedger()
    ledger.apply_items(
        [
            parse_protected_item(
                mars("srv-1", lastBackupStatus="Completed", lastBackupTime="2026-11-29T00:00:00Z")
            )
        ]
    )
    assert by_entity(ledger)["srv-1"].last_recovery_point_timestamp == 1_795_910_400.0  # 2026-11-29
    ledger.apply_items(
        [
            parse_protected_item(
                mars("srv-1", lastBackupStatus="Failed", lastBackupTime="2026-11-30T00:00:00Z")
            )
        ]
    )
    shown = by_entity(ledger)["srv-1"]
    assert shown.last_recovery_point_timestamp == 1_795_910_400.0
    assert shown.last_backup_status == "Failed"


def test_a_recovery_point_never_goes_back_and_an_item_no_longer_listed_is_forgotten() -> None:
    ledger = ProtectionLedger()
    ledger.apply_items([parse_protected_item(vm("vm-1", lastRecoveryPoint="2026-11-30T00:00:00Z"))])
    ledger.apply_items([parse_protected_item(vm("vm-1", lastRecoveryPoint="2026-11-01T00:00:00Z"))])
    assert by_entity(ledger)["vm-1"].last_recovery_point_timestamp == 1_795_996_800.0
    ledger.apply_items([])
    bare = vm("vm-1")
    del bare["properties"]["lastRecoveryPoint"]
    ledger.apply_items([parse_protected_item(bare)])  # listed again: what was seen before is gone
    assert by_entity(ledger)["vm-1"].last_recovery_point_timestamp is None


def test_an_item_azure_gives_no_recovery_point_takes_its_last_successful_backup_job() -> None:
    """After a restart the exporter has seen no recovery point of a failing MARS item; its jobs have."""
    ledger = ProtectionLedger()
    ledger.apply_items(
        [
            parse_protected_item(mars("srv-1", lastBackupStatus="Failed")),
            parse_protected_item(vm("vm-1", lastRecoveryPoint="2026-11-30T00:00:00Z")),
        ]
    )
    successes = {("MAB", "srv-1"): 1_795_900_000.0, ("AzureIaasVM", "vm-1"): 1_796_000_000.0}
    items = {item.entity: item for item in ledger.snapshot(True, ["srv-1", "vm-1"], successes).items}
    assert items["srv-1"].last_recovery_point_timestamp == 1_795_900_000.0
    # Azure's own recovery point wins over a job's end when it has one
    assert items["vm-1"].last_recovery_point_timestamp == 1_795_996_800.0


def test_the_generation_moves_only_with_a_reading_that_changes_what_is_shown() -> None:
    ledger = ProtectionLedger()
    item = mars("srv-1", lastBackupStatus="Completed", lastBackupTime="2026-11-29T00:00:00Z")
    ledger.apply_items([parse_protected_item(item)])
    ledger.apply_policies([parse_policy(daily("DailyPolicy"))])
    read = ledger.generation
    ledger.apply_items([parse_protected_item(item)])  # the same listing, read again
    ledger.apply_policies([parse_policy(daily("DailyPolicy"))])
    assert ledger.generation == read
    failed = mars("srv-1", lastBackupStatus="Failed", lastBackupTime="2026-11-30T00:00:00Z")
    ledger.apply_items([parse_protected_item(failed)])
    assert ledger.generation > read
