"""Shards: N replicas split an estate by a hash of each vault's id, with no coordination."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from azure_backup_exporter.config import ConfigError, load_config
from azure_backup_exporter.discovery import shard_of
from azure_backup_exporter.jobs import VaultRef
from azure_backup_exporter.service import Exporter

from .harness import Sim, samples, scrape


def test_three_shards_collect_every_vault_exactly_once(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=12, subscriptions=2)
    subscriptions = sim.control("estate")["subscriptions"]
    every_vault = {vault.rsplit("/", 1)[-1] for vault in sim.control("estate")["vaults"]}
    collected: list[set[str]] = []
    for index in range(3):
        exporter = start_exporter(
            sim, subscriptions=subscriptions, **{"shard.index": str(index), "shard.count": "3"}
        )
        text = scrape(exporter)
        collected.append({labels["vault"] for labels, _ in samples(text)["azure_backup_vault_up"]})
    assert set().union(*collected) == every_vault
    assert sum(len(shard) for shard in collected) == len(every_vault)  # none twice
    assert all(collected)  # 12 vaults over 3 shards: none empty with this estate


def test_a_vault_keeps_its_shard_whatever_the_case_of_its_id() -> None:
    vault = VaultRef("00000000-0000-0000-0000-0000000000AB", "RG-Backup", "Rsv-01")
    same = VaultRef("00000000-0000-0000-0000-0000000000ab", "rg-backup", "rsv-01")
    assert all(shard_of(vault, count) == shard_of(same, count) for count in range(1, 9))


def test_a_shard_index_beyond_the_count_is_refused() -> None:
    with pytest.raises(ConfigError, match="--shard.index: expected a shard from 0 to 1"):
        load_config(
            {
                "subscription": ["00000000-0000-0000-0000-000000000001"],
                "shard.index": "2",
                "shard.count": "2",
            },
            {},
        )
