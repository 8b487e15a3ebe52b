"""The simulator's protected items answer like the live service as recorded: per `protectedItemType`, no
key Azure was never recorded writing for that type, every key every recorded item of the type had, and
the same forms of values (time formats and the "never" sentinel, the enum values, healthDetails,
extendedInfo) as tests/fixtures/recorded-item-shapes.json, made by make_recorded_item_shapes.py from
3,945 real item states.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from .clients import START, ArmClient, Control
from .item_shapes import item_shape

RECORDED = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "recorded-item-shapes.json").read_text(
        encoding="utf-8"
    )
)["types"]
DEFERRED_DELETE = {"isScheduledForDeferredDelete", "deferredDeleteTimeInUTC", "deferredDeleteTimeRemaining"}
SPEC_ONLY = {"AzureVmWorkloadSAPHanaDatabase": DEFERRED_DELETE}
"""Keys the simulator writes beyond the recordings, from the reference (azure-api-protected-items.md):
soft delete covers SAP HANA databases as it does SQL ones (recorded with these keys); no soft-deleted
HANA item was recorded."""
NEVER_RECORDED = {"DPMProtectedItem", "MabFileFolderProtectedItem"}
"""Types the simulator serves that no recording shows: nothing to compare with. The two recorded
`MabFileFolderProtectedItem` states (2017) are Azure VMs typed MAB (`computerName`
`iaasvmcontainerv2;pstestrg;pspagetest1`, `workloadType` VM), not MARS items."""


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
def items() -> list[dict]:
    """A varied estate's items (failed, never backed up, stopped, soft-deleted), as listed over ARM."""
    from azure_backup_simulator import Simulator, SimulatorConfig

    config = SimulatorConfig(
        seed=21,
        subscriptions=2,
        vaults=12,
        entities_per_vault=16,
        history_days=7,
        start_time=START,
        failure_rate=0.15,
        warning_rate=0.1,
    )
    with Simulator(config) as sim:
        arm = ArmClient(sim)
        control = Control(sim)
        vaults = control.estate()["vaults"]
        listed = [item for vault in vaults for item in list_all(arm, vault + "/backupProtectedItems")]
    return listed


def by_type(items: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        grouped[item["properties"]["protectedItemType"]].append(item)
    return grouped


def test_each_recorded_type_is_served_and_compared(items: list[dict]) -> None:
    served = set(by_type(items))
    assert served - NEVER_RECORDED <= set(RECORDED)
    assert {
        "Microsoft.Compute/virtualMachines",
        "AzureFileShareProtectedItem",
        "AzureVmWorkloadSQLDatabase",
        "AzureVmWorkloadSAPHanaDatabase",
        "MabFileFolderProtectedItem",
    } <= served


def test_keys_are_those_recorded_for_the_type(items: list[dict]) -> None:
    for kind, alike in by_type(items).items():
        if kind in NEVER_RECORDED:
            continue
        recorded = RECORDED[kind]
        allowed = set(recorded["keys"]) | SPEC_ONLY.get(kind, set())
        always = {key for key, count in recorded["keys"].items() if count == recorded["items"]}
        for item in alike:
            keys = set(item["properties"])
            where = f"{kind} {item['name']}"
            assert keys <= allowed, f"{where}: keys never recorded: {sorted(keys - allowed)}"
            assert always <= keys, f"{where}: keys every recorded item had, missing: {sorted(always - keys)}"
            info = set(item_shape(item)["extendedInfo"])
            if "extendedInfo" not in SPEC_ONLY.get(kind, set()):
                assert info <= set(recorded["extendedInfo"]), f"{where}: extendedInfo {sorted(info)}"


def test_values_have_the_recorded_forms_sentinels_and_enums(items: list[dict]) -> None:
    """Items whose last backup status was never recorded for their type are left out, as the job shapes
    leave out job statuses never recorded: the simulator's jobs have outcomes no recording shows (a
    file share's backup CompletedWithWarnings; a failed SQL backup, Unhealthy as recorded for SAP HANA
    only), and the item says what its last job did."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    unrecorded: set[tuple[str, str]] = set()
    for kind, alike in by_type(items).items():
        if kind in NEVER_RECORDED:
            continue
        recorded = RECORDED[kind]
        for item in alike:
            shape = item_shape(item)
            where = f"{kind} {item['name']}"
            status = shape["forms"]["lastBackupStatus"]
            if status not in recorded["forms"]["lastBackupStatus"]:
                unrecorded.add((kind, status))
                continue
            for field, form in shape["forms"].items():
                if field in SPEC_ONLY.get(kind, set()):
                    continue
                assert form in recorded["forms"][field], (
                    f"{where}: {field} {form}, recorded {recorded['forms'][field]}"
                )
                seen[(kind, field)].add(form)
            if "extendedInfo" not in SPEC_ONLY.get(kind, set()):
                for field, form in shape["infoForms"].items():
                    assert form in recorded["infoForms"][field], f"{where}: extendedInfo.{field} {form}"
            for detail in shape["healthDetails"]:
                assert detail in recorded["healthDetails"], f"{where}: healthDetails {detail}"
    assert unrecorded <= {
        ("AzureFileShareProtectedItem", "str:CompletedWithWarnings"),
        ("AzureVmWorkloadSQLDatabase", "str:Unhealthy"),
    }
    # the states a monitor must tell apart are all served, in Azure's words
    vm = "Microsoft.Compute/virtualMachines"
    assert {"never-2001", "ticks"} <= seen[(vm, "lastBackupTime")]
    assert {"str:", "str:Completed", "str:Failed"} <= seen[(vm, "lastBackupStatus")]
    assert {"str:Protected", "str:ProtectionStopped"} <= seen[(vm, "protectionState")]
    assert {"str:Healthy", "str:Unhealthy"} <= seen[
        ("AzureVmWorkloadSQLDatabase", "lastBackupStatus")
    ] | seen[("AzureVmWorkloadSAPHanaDatabase", "lastBackupStatus")]
