"""The exporter reads the simulator's protection inventory over HTTP: every simulated item gets its series,
each policy shape its interval, each vault its settings; a failing inventory route sets inventory_up 0
and keeps the last values; between readings a warm scrape asks only for jobs; an item whose jobs left
the lookback keeps its inventory series."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from .harness import Sim, samples, scrape, value

START = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
ESTATE = {"seed": 5, "vaults": 4, "subscriptions": 1, "entities_per_vault": 14, "start_time": START}
EXPECTED_INTERVALS = {
    "DefaultPolicy": {"backup": {86400.0}},
    # three days of seven, W. Europe: 2 to 5 days, an hour more across the clocks' change
    "WeeklyPolicy": {"backup": {d * 86400.0 + h for d in (2, 3, 4, 5) for h in (0.0, 3600.0)}},
    "EnhancedPolicy": {"backup": {16 * 3600.0}},  # every 4 h from 08:00 for 12 h
    "EnhancedPolicy-8h": {"backup": {8 * 3600.0}},  # every 8 h all day
    "afs-hourly": {"backup": {16 * 3600.0, 17 * 3600.0}},  # Pacific: 17 h when the clocks go back
    "afs-daily": {"backup": {86400.0}},
    "HourlyLogBackup": {"backup": {86400.0}, "log": {4 * 3600.0}},  # Full weekly + Differential daily
    "hana-weekly-full": {"backup": {86400.0, 90000.0}, "log": {4 * 3600.0}},
}


def vault_labels(vault_id: str) -> dict[str, str]:
    parts = vault_id.split("/")
    return {"subscription_id": parts[2], "resource_group": parts[4], "vault": parts[8]}


def arm_items(sim: Sim, vault_id: str) -> list[dict[str, Any]]:
    """The items as Azure (the simulator) lists them, through the simulator's own Python API."""
    from azure_backup_simulator.inventory import item_states, listed_entities, render_item

    estate = sim.simulator.estate
    with estate.lock:
        vault = estate.vault_by_id(vault_id)
        now = estate.clock.now()
        states = item_states(vault)
        return [render_item(e, states.get(id(e)), now) for e in listed_entities(vault, now)]


def test_every_simulated_item_gets_its_series_and_each_policy_its_interval(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Any]
) -> None:
    from azure_backup_exporter.inventory import item_entity, parse_protected_item

    sim = start_sim(**ESTATE)
    vaults = sim.control("estate")["vaults"]
    exporter = start_exporter(sim, subscriptions=sim.control("estate")["subscriptions"])
    text = scrape(exporter)
    found = samples(text)
    seen_policies = set()
    for vault_id in vaults:
        labels = vault_labels(vault_id)
        assert value(text, "azure_backup_inventory_up", **labels) == 1.0
        items = arm_items(sim, vault_id)
        assert len(items) >= 10
        for raw in items:
            item = parse_protected_item(raw)
            series = {
                **labels,
                "backup_management_type": item.backup_management_type,
                "entity": item_entity(item),
            }
            assert value(text, "azure_backup_protected_item_info", **series) == 1.0, series
            state = {**series, "state": item.protection_state}
            assert value(text, "azure_backup_protected_item_protection_state", **state) == 1.0
            point = value(text, "azure_backup_protected_item_last_recovery_point_timestamp_seconds", **series)
            if "lastRecoveryPoint" in raw["properties"]:
                assert point == item.last_recovery_point
            intervals = {
                lab["backup_kind"]: v
                for lab, v in found.get("azure_backup_protected_item_backup_interval_seconds", [])
                if all(lab.get(k) == w for k, w in series.items())
            }
            policy = item.policy_name
            if item.is_stopped or item.scheduled_for_deferred_delete or not policy:
                assert intervals == {}, series
                continue
            expected = next(want for name, want in EXPECTED_INTERVALS.items() if name.lower() == policy)
            assert set(intervals) == set(expected), series
            assert all(intervals[kind] in expected[kind] for kind in intervals), (series, intervals)
            seen_policies.add(policy)
        security = [
            lab for lab, _ in found["azure_backup_vault_security_info"] if lab["vault"] == labels["vault"]
        ]
        assert len(security) == 1 and security[0]["soft_delete"] in ("Enabled", "AlwaysON", "Disabled")
        assert security[0]["immutability"] in ("Disabled", "Unlocked", "Locked")
    assert len(seen_policies) >= 6
    soft_delete = {lab["soft_delete"] for lab, _ in found["azure_backup_vault_security_info"]}
    assert soft_delete == {"Enabled", "AlwaysON", "Disabled"}


def test_a_failing_inventory_route_sets_inventory_up_0_and_keeps_the_last_values(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Any]
) -> None:
    sim = start_sim(**{**ESTATE, "vaults": 2})
    first, second = sim.control("estate")["vaults"]
    exporter = start_exporter(sim, vaults=[first, second], inventory_interval="1s", vault_list_interval="1s")
    before = scrape(exporter)
    info = [lab for lab, _ in samples(before)["azure_backup_protected_item_info"] if lab["vault"] in first]
    assert info
    sim.control(
        "faults", {"route_faults": [{"route": "list_protected_items", "vaults": [first], "status": 500}]}
    )
    sim.control("clock", {"advance_seconds": 5})
    after = ""
    for _ in range(20):  # the inventory is due again once a second of wall time has passed
        after = scrape(exporter)
        if value(after, "azure_backup_inventory_up", **vault_labels(first)) == 0.0:
            break
    assert value(after, "azure_backup_inventory_up", **vault_labels(first)) == 0.0
    assert value(after, "azure_backup_inventory_up", **vault_labels(second)) == 1.0
    kept = [lab for lab, _ in samples(after)["azure_backup_protected_item_info"] if lab["vault"] in first]
    assert kept == info


def test_between_readings_warm_scrapes_only_list_jobs(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Any]
) -> None:
    sim = start_sim(**{**ESTATE, "vaults": 3})
    vaults = sim.control("estate")["vaults"]
    exporter = start_exporter(sim, vaults=vaults, inventory_interval="15m", detail_fetch_budget=0)
    scrape(exporter)
    first = sim.requests()
    for route in ("list_protected_items", "list_policies", "get_vault"):
        assert first[route] == {"200": 3}, (route, first)
    sim.reset_counts()
    for _ in range(3):
        scrape(exporter)
    assert sim.requests() == {"list_jobs": {"200": 9}}


def test_an_item_whose_jobs_left_the_lookback_keeps_its_inventory_series(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Any]
) -> None:
    """A MARS server gone silent for days: no job in a one-day lookback, yet Azure still lists it."""
    from azure_backup_exporter.inventory import item_entity, parse_protected_item

    # the exporter's window is on the wall clock: the simulated estate starts now
    sim = start_sim(**{**ESTATE, "vaults": 4, "start_time": None})
    vaults = sim.control("estate")["vaults"]
    now = sim.simulator.estate.clock.now()
    exporter = start_exporter(sim, vaults=vaults, lookback="1d")
    text = scrape(exporter)
    # the simulator's MARS servers gone silent (inactive, not stopped) whose last backup is over a day old
    gone = {
        (vault.resource_id.lower(), entity.name)
        for vault in sim.simulator.estate.vaults.values()
        for entity in vault.entities.values()
        if entity.kind.key == "mars" and not entity.active and entity.stopped_at is None
    }
    silent = []
    for vault_id in vaults:
        for raw in arm_items(sim, vault_id):
            item = parse_protected_item(raw)
            last = item.last_backup_time
            if (vault_id.lower(), item.friendly_name) in gone and last and last < now - 86400:
                silent.append((vault_id, item))
    assert silent
    entities_with_jobs = {
        lab["entity"]
        for name, found in samples(text).items()
        if "job" in name and "protected_item" not in name
        for lab, _ in found
        if "entity" in lab
    }
    assert len(entities_with_jobs) > 10, "other items' recent jobs are there"
    for vault_id, item in silent:
        series = {**vault_labels(vault_id), "backup_management_type": "MAB", "entity": item_entity(item)}
        jobs = [
            lab
            for name, found in samples(text).items()
            if "job" in name and "protected_item" not in name
            for lab, _ in found
            if lab.get("entity") == series["entity"]
        ]
        assert not jobs, "its jobs left the lookback"
        assert value(text, "azure_backup_protected_item_info", **series) == 1.0
        assert (
            value(
                text,
                "azure_backup_protected_item_last_backup_status",
                status=item.last_backup_status,
                **series,
            )
            == 1.0
        )
