"""The exporter on the protection inventory recorded from the live Azure Backup service, checked on /metrics.

The recorded protected items (3,945 states of 1,043 item ids, 2016-2024), backup policies and vaults
(tests/fixtures/azure-recordings/) are grouped by the vault their id names, each item and policy in its
latest recorded state: 1,042 items in 425 vaults (one item line, of a `Microsoft.RecoveryServicesBVTD`
test vault, names no vault and is skipped), 128 policies in the 21 vaults that recorded any, 414 vault
resources as recorded (the 11 others get a minimal GET). A fake ARM on loopback (`arm_fake.py`) serves
them byte for byte: items and policies in pages of 50 with a nextLink, the vault's GET, and empty job
lists. The exporter reads every vault at its default `--inventory-interval`; then every item must show as
docs/metrics.md says (`inventory_recordings.py`, written from the docs alone): one info series with its
type, workload, policy and source, its protection state, health and last backup status when recorded,
its last backup time (absent for "never"), its newest recovery point, and an expected interval exactly
when its policy is served and has a schedule. Sanitised ids repeat across azure-cli's tests, so five
vaults hold several items of one name (328 items under 9 names): one of them, with the newest recovery
point, speaks for each name, as for two VMs of one name in two resource groups. The other 714 items are
each checked series by series.
"""

from __future__ import annotations

import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from azure_backup_exporter.config import load_config
from azure_backup_exporter.policies import expected_intervals, parse_policy
from azure_backup_exporter.service import Exporter

from .arm_fake import IDENTITY_HEADER, InventoryVault, ReplayAzure, running
from .inventory_recordings import (
    ItemExpectation,
    RecordedVault,
    VaultKey,
    _lines,
    expect_item,
    expect_vault_settings,
    recorded_vaults,
    soft_deleted,
)
from .recordings import seconds
from .test_replay import Metrics

ITEM_METRICS = (
    "azure_backup_protected_item_info",
    "azure_backup_protected_item_protection_state",
    "azure_backup_protected_item_health",
    "azure_backup_protected_item_last_backup_status",
    "azure_backup_protected_item_last_recovery_point_timestamp_seconds",
    "azure_backup_protected_item_backup_interval_seconds",
)
VAULT_LABELS = ("subscription_id", "resource_group", "vault")
MAX_SCRAPES = 10  # the first scrapes keep ARM reads in reserve: a few hundred vaults take more than one
PAGE = 50

Shown = dict[str, list[tuple[dict[str, str], float]]]  # metric -> (labels beyond the item's, value)


def minimal_vault(resource_id: str) -> dict[str, Any]:
    """A vault GET without settings, for the vaults whose own resource was never recorded."""
    return {
        "id": resource_id,
        "name": resource_id.rsplit("/", 1)[-1],
        "type": "Microsoft.RecoveryServices/vaults",
        "properties": {"provisioningState": "Succeeded"},
    }


def labels_of(vault: RecordedVault) -> dict[str, str]:
    parts = vault.id.split("/")
    return {"subscription_id": parts[2], "resource_group": parts[4], "vault": parts[8]}


class Exposition:
    """/metrics indexed by vault, and by vault, management type and entity for the item series."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.items: dict[tuple[VaultKey, str, str], Shown] = defaultdict(lambda: defaultdict(list))
        self.vaults: dict[VaultKey, dict[str, list[tuple[dict[str, str], float]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for (name, frozen), value in metrics.values.items():
            labels = dict(frozen)
            if not set(VAULT_LABELS) <= set(labels):
                continue
            vault: VaultKey = tuple(labels.pop(k).lower() for k in VAULT_LABELS)  # type: ignore[assignment]
            if name in ITEM_METRICS:
                key = (vault, labels.pop("backup_management_type"), labels.pop("entity"))
                self.items[key][name].append((labels, value))
            else:
                self.vaults[vault][name].append((labels, value))


def what_shows(item: ItemExpectation, intervals: dict[str, float]) -> Shown:
    """The item's series as docs/metrics.md says they are: each with its own labels and value."""
    shown: Shown = {
        "azure_backup_protected_item_info": [(item.info, 1.0)],
        "azure_backup_protected_item_protection_state": [({"state": item.state}, 1.0)],
    }
    if item.health is not None:
        shown["azure_backup_protected_item_health"] = [({"health": item.health}, 1.0)]
    if item.last_backup_status is not None:
        shown["azure_backup_protected_item_last_backup_status"] = [({"status": item.last_backup_status}, 1.0)]
    if item.last_recovery_point is not None:
        shown["azure_backup_protected_item_last_recovery_point_timestamp_seconds"] = [
            ({}, item.last_recovery_point)
        ]
    if intervals:
        shown["azure_backup_protected_item_backup_interval_seconds"] = [
            ({"backup_kind": kind}, seconds) for kind, seconds in sorted(intervals.items())
        ]
    return shown


def comparable(shown: Shown) -> dict[str, list[tuple[tuple[tuple[str, str], ...], float]]]:
    """Times to the millisecond (the exposition prints floats), series in a fixed order."""
    return {
        name: sorted((tuple(sorted(labels.items())), round(value, 3)) for labels, value in series)
        for name, series in shown.items()
        if series
    }


def point_of(shown: dict[str, list[tuple[Any, float]]]) -> float:
    """The newest recovery point shown, 0 for none."""
    series = shown.get("azure_backup_protected_item_last_recovery_point_timestamp_seconds")
    return series[0][1] if series else 0.0


def unique_items(vault: RecordedVault) -> list[tuple[dict[str, Any], ItemExpectation]]:
    """The vault's items that no other item of the vault shares a name with."""
    expected = [(raw, expect_item(raw)) for raw in vault.items]
    names = Counter((item.backup_management_type, item.entity) for _, item in expected)
    return [(raw, item) for raw, item in expected if names[(item.backup_management_type, item.entity)] == 1]


def served_intervals(vault: RecordedVault, raw: dict[str, Any], item: ItemExpectation) -> dict[str, float]:
    """The expected interval of a served policy of the item's name, none for a soft-deleted item."""
    if soft_deleted(raw) or not item.policy_key:
        return {}
    for policy in vault.policies:
        if policy["name"].lower() == item.policy_key:
            return dict(expected_intervals(parse_policy(policy)))
    return {}


def simple_interval(policy: dict[str, Any]) -> dict[str, float] | None:
    """An expectation independent of `policies.py` for the common shapes, in UTC (no zone, or UTC): one
    daily run gives a day; a workload's daily Full alone gives a day, its Log its frequency. None: another
    shape, left to `expected_intervals`."""
    p = policy["properties"]
    zone = p.get("timeZone") or (p.get("settings") or {}).get("timeZone") or "UTC"
    if zone != "UTC":
        return None
    schedule = p.get("schedulePolicy")
    if schedule is not None:
        one_daily = (
            schedule.get("scheduleRunFrequency") == "Daily"
            and len(schedule.get("scheduleRunTimes") or []) == 1
        )
        return (
            {"backup": 86400.0}
            if one_daily and schedule["schedulePolicyType"] == "SimpleSchedulePolicy"
            else None
        )
    subs = {sub["policyType"]: sub["schedulePolicy"] for sub in p.get("subProtectionPolicy") or []}
    full, log = subs.pop("Full", None), subs.pop("Log", None)
    if (
        subs
        or full is None
        or full.get("scheduleRunFrequency") != "Daily"
        or len(full["scheduleRunTimes"]) != 1
    ):
        return None
    return {"backup": 86400.0} | ({"log": log["scheduleFrequencyInMins"] * 60.0} if log else {})


@pytest.fixture(scope="module")
def inventory_replay() -> Iterator[tuple[Exposition, dict[VaultKey, RecordedVault], ReplayAzure]]:
    vaults, _, _ = recorded_vaults()
    served = {
        key: InventoryVault(
            resource=vault.resource or minimal_vault(vault.id), items=vault.items, policies=vault.policies
        )
        for key, vault in vaults.items()
    }
    now = max(seconds(line["recorded_at"]) for line in _lines("protected-items.jsonl")) + 3600.0
    fake = ReplayAzure({}, page_size=PAGE, inventory=served)
    with running(fake), pytest.MonkeyPatch.context() as env:
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
            env.delenv(name, raising=False)
        env.setenv("IDENTITY_ENDPOINT", fake.identity_endpoint)
        env.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
        config = load_config(
            {
                "web.listen-address": "127.0.0.1:0",
                "arm-endpoint": fake.arm_endpoint,
                "vault": [vault.id for vault in vaults.values()],
                "scrape-timeout": "120s",
            },
            {},
        )
        exporter = Exporter(config, clock=lambda: now)
        exporter.start()
        try:
            for _ in range(MAX_SCRAPES):
                with urllib.request.urlopen(f"{exporter.url}/metrics", timeout=120) as answer:
                    metrics = Metrics(answer.read().decode())
                if len(metrics.series("azure_backup_inventory_up")) == len(vaults):
                    break
        finally:
            exporter.stop()
    yield Exposition(metrics), vaults, fake


def test_every_vault_was_read_with_its_settings_and_inventory_up_1(inventory_replay: Any) -> None:
    shown, vaults, fake = inventory_replay
    _, items_skipped, policies_skipped = recorded_vaults()
    assert (len(vaults), sum(len(v.items) for v in vaults.values())) == (425, 1042)
    assert (items_skipped, policies_skipped) == (1, 2)
    assert sum(1 for v in vaults.values() if v.resource is not None) == 414
    assert fake.refused == []
    for key, vault in vaults.items():
        series = shown.vaults[key]
        where = vault.id
        assert series["azure_backup_inventory_up"] == [({}, 1.0)], where
        assert series["azure_backup_vault_up"] == [({}, 1.0)], where
        settings = expect_vault_settings(vault.resource)
        info = {k: settings[k] for k in ("location", "storage_redundancy", "cross_region_restore")}
        assert series["azure_backup_vault_info"] == [(info, 1.0)], where
        security = {k: v for k, v in settings.items() if k not in info}
        assert series["azure_backup_vault_security_info"] == [(security, 1.0)], where
    # some recorded vaults carry their defences: the labels are not all empty
    assert {lab["soft_delete"] for lab in shown.metrics.series("azure_backup_vault_security_info")} > {""}
    assert {lab["location"] for lab in shown.metrics.series("azure_backup_vault_info")} > {""}


def test_items_and_policies_were_listed_through_their_pages(inventory_replay: Any) -> None:
    _, vaults, fake = inventory_replay
    pages = sum(max(1, -(-len(v.items) // PAGE)) for v in vaults.values())
    assert fake.requests[("list_protected_items", 200)] == pages  # each vault once, at the default interval
    assert pages > len(vaults)  # the 317 items of the busiest vault took seven pages
    assert fake.requests[("list_policies", 200)] == len(vaults)
    assert fake.requests[("get_vault", 200)] == len(vaults)


def test_every_recorded_item_gets_its_series_as_documented(inventory_replay: Any) -> None:
    shown, vaults, _ = inventory_replay
    checked = speaking = 0
    for key, vault in vaults.items():
        by_name: dict[tuple[str, str], list[Shown]] = defaultdict(list)
        for raw in vault.items:
            item = expect_item(raw)
            wanted = what_shows(item, served_intervals(vault, raw, item))
            by_name[(item.backup_management_type, item.entity)].append(wanted)
        names = {(bmt, name) for (vault_key, bmt, name) in shown.items if vault_key == key}
        assert names == set(by_name), vault.id
        for (bmt, name), alike in by_name.items():
            got = comparable(shown.items[(key, bmt, name)])
            where = f"{vault.id} {bmt} {name!r}"
            assert [len(got[metric]) for metric in ITEM_METRICS[:2]] == [1, 1], where
            if len(alike) == 1:
                assert got == comparable(alike[0]), where
                checked += 1
                continue
            # several recorded items of one name: one speaks for all, the one with the newest point
            assert got in [comparable(wanted) for wanted in alike], where
            newest = max(point_of(comparable(wanted)) for wanted in alike)
            assert point_of(got) == newest, where
            speaking += 1
    assert (checked, speaking) == (1042 - 328, 9)


def test_the_interval_is_there_exactly_when_the_policy_is_served_with_a_schedule(
    inventory_replay: Any,
) -> None:
    shown, vaults, _ = inventory_replay
    kinds: Counter[tuple[str, float]] = Counter()
    independent = 0
    for key, vault in vaults.items():
        policies = {policy["name"].lower(): policy for policy in vault.policies}
        for raw, item in unique_items(vault):  # the others: one of each name speaks (test above)
            series = shown.items[(key, item.backup_management_type, item.entity)]
            got = {
                labels["backup_kind"]: value
                for labels, value in series["azure_backup_protected_item_backup_interval_seconds"]
            }
            policy = policies.get(item.policy_key)
            if policy is None or soft_deleted(raw):
                assert got == {}, (vault.id, item.entity)
                continue
            assert got == expected_intervals(parse_policy(policy)), (vault.id, item.entity)
            simple = simple_interval(policy)
            if simple is not None:
                assert got == simple, (vault.id, item.entity, policy["name"])
                independent += 1
            kinds.update(got.items())
    # every daily policy was also checked against a day computed without policies.py
    assert independent == kinds[("backup", 86400.0)] == 52
    # recorded shapes that items use: daily (a day), workload logs every 15 min, 1 h and 2 h, and the
    # weekly Full plus weekly Differential of SAP HANA (Tue 03:00 -> Mon 12:00: 153 h)
    assert {
        ("backup", 86400.0),
        ("log", 900.0),
        ("log", 3600.0),
        ("log", 7200.0),
        ("backup", 153 * 3600.0),
    } <= set(kinds)


def test_every_item_has_one_protection_state_as_recorded(inventory_replay: Any) -> None:
    shown, vaults, _ = inventory_replay
    states: Counter[str] = Counter()
    for key in vaults:
        for (vault_key, _, _), series in shown.items.items():
            if vault_key == key:
                ((labels, _),) = series["azure_backup_protected_item_protection_state"]
                states[labels["state"]] += 1
    assert "" not in states  # every recorded item carries its protectionState
    assert set(states) == {"IRPending", "Protected", "ProtectionStopped", "ProtectionError", "Healthy"}
