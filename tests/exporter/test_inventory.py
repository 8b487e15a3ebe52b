"""Protected items and vault settings parse as a user would read them, and items carry their jobs' entity.

Every item type of the examples and recordings (tests/fixtures/inventory), the "never backed up"
sentinels, the newest recovery point per type, vault settings in several states, the entity of each
recorded item against its Backup jobs, and a fuzz: any JSON parses or raises `MalformedItem`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from azure_backup_exporter.inventory import (
    MalformedItem,
    item_entity,
    parse_protected_item,
    parse_vault,
)
from azure_backup_exporter.jobs import parse_timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).parents[1] / "fixtures" / "inventory"
EXAMPLES = FIXTURES / "examples"


def body(path: str) -> dict:
    return json.loads((EXAMPLES / path).read_text())["responses"]["200"]["body"]


def recorded(name: str, key: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def at(text: str) -> float:
    value = parse_timestamp(text)
    assert value is not None
    return value


# --- items -----------------------------------------------------------------------------------------


def test_the_example_vm_reads_as_the_portal_shows_it() -> None:
    item = parse_protected_item(body("2025-08-01/AzureIaasVm/Compute_ProtectedItem_Get.json"))
    assert item.vault is not None and item.vault.name == "PySDKBackupTestRsVault"
    assert (item.item_type, item.backup_management_type, item.workload_type) == (
        "Microsoft.Compute/virtualMachines", "AzureIaasVM", "VM")  # fmt: skip
    assert (item.friendly_name, item.protection_state, item.health, item.last_backup_status) == (
        "iaasvm-1", "Protected", "Passed", "Completed")  # fmt: skip
    assert item.policy_name == "testpolicy1"  # from policyId: the example has no policyName
    assert item.source_resource_id.endswith("/Microsoft.Compute/virtualMachines/iaasvm-1")
    assert item.last_backup_time == at("2018-01-22T12:25:32.048723Z")
    assert item.last_recovery_point == at("2017-11-22T12:25:32.048723Z")
    assert item_entity(item) == "iaasvm-1"
    assert item.expects_backups


@pytest.mark.parametrize("path", ["2025-08-01/AzureIaasVm/BackupProtectedItems_List.json",
                                  "2026-10-01/AzureIaasVm/BackupProtectedItems_List.json"])  # fmt: skip
def test_the_listed_classic_vm_parses_without_backup_fabrics_in_its_id(path: str) -> None:
    (item,) = [parse_protected_item(resource) for resource in body(path)["value"]]
    assert item.item_type == "Microsoft.ClassicCompute/virtualMachines"
    assert item.vault is not None and item.vault.name == "NetSDKTestRsVault"


def test_every_recorded_item_type_parses() -> None:
    items = [parse_protected_item(r["item"]) for r in recorded("recorded-protected-items.jsonl", "item")]
    assert Counter(item.item_type for item in items).keys() == {
        "Microsoft.Compute/virtualMachines", "Microsoft.ClassicCompute/virtualMachines",
        "AzureFileShareProtectedItem", "AzureVmWorkloadSQLDatabase", "AzureVmWorkloadSAPHanaDatabase",
        "MabFileFolderProtectedItem", "Microsoft.Sql/servers/databases"}  # fmt: skip
    healths = {item.health for item in items}
    assert {"Passed", "ActionRequired", "Healthy", "Unhealthy", "IRPending", "NotReachable"} <= healths


def first(predicate) -> dict:  # type: ignore[no-untyped-def]
    for record in recorded("recorded-protected-items.jsonl", "item"):
        if predicate(record["item"]["properties"]):
            return record["item"]
    raise LookupError


def test_a_vm_never_backed_up_has_no_last_backup_time() -> None:
    item = parse_protected_item(first(lambda p: p.get("lastBackupTime") == "2001-01-01T00:00:00Z"))
    assert item.last_backup_time is None and item.last_recovery_point is None
    assert item.last_backup_status == ""


@pytest.mark.parametrize("sentinel", ["2001-01-01T00:00:00Z", "2001-01-01T00:00:00", "0001-01-01T00:00:00",
                                      "1601-01-01T00:00:00Z", "", None])  # fmt: skip
def test_never_sentinels_mean_no_timestamp(sentinel: str | None) -> None:
    resource = first(lambda p: p.get("protectedItemType") == "Microsoft.Compute/virtualMachines")
    resource = {**resource, "properties": {**resource["properties"], "lastBackupTime": sentinel}}
    assert parse_protected_item(resource).last_backup_time is None


def test_a_workload_item_before_its_first_backup_omits_the_time() -> None:
    item = parse_protected_item(first(lambda p: p.get("protectedItemType") == "AzureVmWorkloadSAPHanaDatabase"
                                      and "lastBackupTime" not in p))  # fmt: skip
    assert item.last_backup_time is None and item.last_recovery_point is None


def test_a_file_share_without_last_recovery_point_falls_back_to_a_completed_backup() -> None:
    resource = first(
        lambda p: (
            p.get("protectedItemType") == "AzureFileShareProtectedItem"
            and p.get("lastBackupStatus") == "Completed"
            and "lastRecoveryPoint" not in p
        )
    )
    item = parse_protected_item(resource)
    assert item.last_backup_time is not None
    assert item.last_recovery_point == item.last_backup_time
    failed = {**resource, "properties": {**resource["properties"], "lastBackupStatus": "Failed"}}
    assert parse_protected_item(failed).last_recovery_point is None


def test_a_vm_whose_last_backup_failed_keeps_its_older_recovery_point() -> None:
    item = parse_protected_item(first(lambda p: p.get("lastBackupStatus") == "Failed"
                                      and "lastRecoveryPoint" in p and p.get("healthStatus")))  # fmt: skip
    assert item.last_recovery_point is not None and item.last_backup_time is not None
    assert item.last_recovery_point < item.last_backup_time


def test_a_soft_deleted_stopped_item_expects_no_backups() -> None:
    item = parse_protected_item(first(lambda p: p.get("isScheduledForDeferredDelete") is True))
    assert item.scheduled_for_deferred_delete and item.deferred_delete_time is not None
    assert item.is_stopped and not item.expects_backups
    assert item.policy_name == ""  # a stopped item's policyId and policyName are ""


def test_a_sql_database_reads_server_instance_and_health() -> None:
    item = parse_protected_item(first(lambda p: p.get("protectedItemType") == "AzureVmWorkloadSQLDatabase"
                                      and p.get("lastRecoveryPoint")))  # fmt: skip
    assert item.server_name and item.parent_name == "MSSQLSERVER"
    assert item.health == item.health.strip() != ""
    assert item_entity(item) == f"{item.friendly_name} [{item.server_name}]"


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ("item", "not_an_object"),
        ({"name": "x"}, "no_properties"),
        ({"name": "x", "properties": {}}, "no_item_type"),
        ({"name": "x", "properties": {"protectedItemType": "VM", "lastBackupTime": "yesterday"}}, "bad_time"),
        ({"name": "x", "properties": {"protectedItemType": "VM", "lastBackupTime": 12}}, "bad_time"),
        ({"name": "x", "properties": {"protectedItemType": ["VM"]}}, "bad_field"),
    ],
)
def test_garbage_is_a_malformed_item_with_a_short_reason(resource: object, reason: str) -> None:
    with pytest.raises(MalformedItem) as caught:
        parse_protected_item(resource)
    assert caught.value.reason == reason


# --- the entity, against the recordings' Backup jobs -------------------------------------------------


def test_item_entity_is_what_the_items_backup_jobs_carry() -> None:
    """163 recorded items with Backup jobs of their name: 155 match; the 8 others are 2019's older form."""
    outcome: Counter[tuple[str, bool]] = Counter()
    older_form = []
    for record in recorded("recorded-entities.jsonl", "item"):
        item = parse_protected_item(record["item"])
        entity = item_entity(item)
        matched = entity in record["backup_job_entities"]
        outcome[(item.item_type, matched)] += 1
        if not matched:
            older_form.append((entity, record["backup_job_entities"]))
    assert outcome == {
        ("AzureFileShareProtectedItem", True): 100,
        ("Microsoft.Compute/virtualMachines", True): 29,
        ("AzureVmWorkloadSQLDatabase", True): 16,
        ("AzureVmWorkloadSAPHanaDatabase", True): 10,
        ("AzureVmWorkloadSQLDatabase", False): 3,
        ("AzureVmWorkloadSAPHanaDatabase", False): 5,
    }
    # Until late 2019 Azure prefixed the instance: "MSSQLSERVER/testdb1 [vm]", "H22/H22 [host]".
    assert {(entity, tuple(jobs)) for entity, jobs in older_form} == {
        ("testdb1 [pstestwlvm1bca8]", ("MSSQLSERVER/testdb1 [pstestwlvm1bca8]",)),
        ("H22 [HANADemoIDC3]", ("H22/H22 [HANADemoIDC3]",)),
        ("H22_RESTORED_SARATH [HANADemoIDC3]", ("H22/H22_RESTORED_SARATH [HANADemoIDC3]",)),
    }


def test_hana_entity_is_the_database_in_capitals_and_its_host() -> None:
    item = parse_protected_item(first(lambda p: p.get("protectedItemType") == "AzureVmWorkloadSAPHanaDatabase"
                                      and p.get("serverName") == "hxehost"))  # fmt: skip
    assert item.friendly_name == "systemdb"
    assert item_entity(item) == "SYSTEMDB [hxehost]"


# --- vaults ----------------------------------------------------------------------------------------


def test_the_example_vault_shows_its_defences_as_azure_writes_them() -> None:
    for path in (
        "recoveryservices-vaults-2025-08-01/GETVault.json",
        "recoveryservices-vaults-2026-11-01/GETVault.json",
    ):
        vault = parse_vault(body(path))
        assert vault.vault is not None and vault.vault.name == "swaggerExample"
        assert (vault.location, vault.storage_redundancy, vault.cross_region_restore) == (
            "westus", "GeoRedundant", "Enabled")  # fmt: skip
        assert (vault.soft_delete, vault.soft_delete_retention_days, vault.enhanced_security) == (
            "Enabled", 14, "Enabled")  # fmt: skip
        assert (vault.immutability, vault.multi_user_authorization, vault.public_network_access) == (
            "Disabled", "Disabled", "Enabled")  # fmt: skip


def test_a_listed_vault_without_properties_has_empty_settings_until_its_configs_fill_in() -> None:
    listed = body("recoveryservices-vaults-2025-08-01/GETVault.json")
    bare = {key: listed[key] for key in ("id", "name", "location", "type")}
    vault = parse_vault(bare)
    assert (vault.storage_redundancy, vault.soft_delete, vault.immutability) == ("", "", "")
    storage = body("2025-08-01/Common/BackupStorageConfig_Get.json")
    config = body("2025-08-01/Common/BackupResourceVaultConfigs_Get.json")
    filled = parse_vault(bare, storage_config=storage, vault_config=config)
    assert (filled.storage_redundancy, filled.enhanced_security) == ("GeoRedundant", "Enabled")
    assert filled.cross_region_restore == ""  # the example's storage config has no crossRegionRestoreFlag


def test_recorded_vaults_in_several_states() -> None:
    records = recorded("recorded-vaults.jsonl", "vault")
    vaults = [parse_vault(r["vault"]) for r in records if r["kind"] == "vault"]
    seen = {(v.soft_delete, v.immutability, v.multi_user_authorization, v.storage_redundancy) for v in vaults}
    assert ("Enabled", "", "Disabled", "GeoRedundant") in seen  # soft delete on, immutability never set
    assert ("Disabled", "", "Disabled", "GeoRedundant") in seen  # soft delete switched off
    assert ("", "Unlocked", "Invalid", "") in seen  # immutable (unlocked), no softDeleteSettings
    assert ("", "", "", "ZoneRedundant") in seen
    assert {v.public_network_access for v in vaults} == {"", "Enabled", "Disabled"}
    storage = [r["config"] for r in records if r["kind"] == "vaultstorageconfig"]
    redundancies = {parse_vault({"id": "x"}, storage_config=s).storage_redundancy for s in storage}
    assert redundancies == {"GeoRedundant", "LocallyRedundant"}


@pytest.mark.parametrize(
    ("resource", "configs", "reason"),
    [
        (None, {}, "not_an_object"),
        ({"properties": "x"}, {}, "no_properties"),
        ({"properties": {"securitySettings": []}}, {}, "bad_field"),
        ({"properties": {}}, {"storage_config": "GeoRedundant"}, "bad_config"),
    ],
)
def test_garbage_vaults_are_malformed(resource: object, configs: dict, reason: str) -> None:
    with pytest.raises(MalformedItem) as caught:
        parse_vault(resource, **configs)
    assert caught.value.reason == reason


# --- fuzz ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=25), children, max_size=5)
    ),
    max_leaves=25,
)
item_keys = st.sampled_from(
    [
        "protectedItemType",
        "friendlyName",
        "serverName",
        "lastBackupTime",
        "lastRecoveryPoint",
        "lastBackupStatus",
        "policyId",
        "policyName",
        "healthStatus",
        "protectionState",
        "isScheduledForDeferredDelete",
        "deferredDeleteTimeInUTC",
        "backupManagementType",
    ]  # fmt: skip
)
field_values = (
    st.sampled_from(
        [
            "2001-01-01T00:00:00Z",
            "0001-01-01T00:00:00",
            "2023-03-15T04:46:39.3441012Z",
            "9999-12-31T23:59:59Z",
            "AzureVmWorkloadSAPHanaDatabase",
            "AzureWorkload",
            "Completed",
            "\ud800",
            True,
            1e308,
        ]  # fmt: skip
    )
    | json_values
)


@settings(max_examples=200, deadline=None)
@given(top=json_values, properties=st.dictionaries(item_keys, field_values, max_size=10))
def test_any_json_is_an_item_or_malformed(top: object, properties: dict) -> None:
    for resource in (top, {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.RecoveryServices/"
                           "vaults/v/x", "name": "n", "properties": properties}):  # fmt: skip
        try:
            item = parse_protected_item(resource)
        except MalformedItem:
            continue
        item_entity(item).encode("utf-8")
        for moment in (item.last_backup_time, item.last_recovery_point):
            assert moment is None or moment > 978307200.0


@settings(max_examples=100, deadline=None)
@given(top=json_values, security=json_values, storage=json_values)
def test_any_json_is_a_vault_or_malformed(top: object, security: object, storage: object) -> None:
    for resource in (top, {"id": "v", "properties": {"securitySettings": security}}):
        try:
            parse_vault(resource, storage_config={"properties": storage})
        except MalformedItem:
            continue
