"""Hostile job records served over HTTP by the reference fake: one bad record costs one job, never a vault.

Each record here once took down more than itself: a lone surrogate (valid JSON) in an entity name
made every `/metrics` answer 500, for all vaults; a 400-digit TimeSpan or an `endTime` past year 9999
in UTC raised OverflowError on every refresh (the vault stayed down for good); a huge "Backup Size" in
a job's details stopped the fetching of every other size; `P999...D` made a histogram sum +Inf; a
vault id with a lone surrogate failed its every refresh and every `/metrics`.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from azure_backup_exporter.config import load_config
from azure_backup_exporter.service import Exporter

from .harness import samples, scrape, value
from .reference_fake import FakeAzure, FakeVault, running
from .test_reference_fake import SUB, job, size

H, M = timedelta(hours=1), timedelta(minutes=1)
GIB = 1024**3
HOSTILE_VAULT, CALM_VAULT = "rsv-hostile", "rsv-calm"


def backup(
    name: str,
    entity: str,
    started: timedelta,
    duration: str = "00:10:00",
    rg: str = "rg-hostile",
    **extra: Any,
) -> dict[str, Any]:
    vault = HOSTILE_VAULT if rg == "rg-hostile" else CALM_VAULT
    ended = None if "endTime" in extra else started - 10 * M
    return job(name, entity, "AzureIaaSVMJob", "AzureIaasVM", "Backup", "Completed", started, ended,
               duration, vault=vault, rg=rg, **extra)  # fmt: skip


MALFORMED = [
    backup("m1", "vm-timespan", 9 * H, duration="1" * 400 + ".00:00:00"),
    backup("m2", "vm-iso", 9 * H, duration="P" + "9" * 400 + "D"),
    backup("m3", "vm-year-10000", 9 * H, endTime="9999-12-31T23:00:00-14:00"),
    backup("m4", "vm-listed-size", 9 * H, **size("9" * 400 + " PB")),
]


@pytest.fixture
def fake(azure_identity_env: Callable[[Any], None]) -> Iterator[FakeAzure]:
    azure = FakeAzure()
    azure.vaults = [
        FakeVault(
            SUB,
            "rg-hostile",
            HOSTILE_VAULT,
            jobs=[
                backup("s1", "\ud800", 3 * H),
                # the newest of the two, so its details are asked for first
                backup("d1", "vm-huge-size", 2 * H),
                backup("d2", "vm-sized", 4 * H),
                *MALFORMED,
            ],
            details={"d1": size("9" * 400 + " PB"), "d2": size("3 GB")},
        ),
        FakeVault(SUB, "rg-calm", CALM_VAULT, jobs=[backup("c1", "vm-calm", 1 * H, rg="rg-calm")]),
        # listed with a lone surrogate in its name: its jobs cannot be asked for by that name
        FakeVault(SUB, "rg-\udc80", "rsv-\udc80"),
    ]
    with running(azure):
        azure_identity_env(azure)
        yield azure


@pytest.fixture
def exporter(fake: FakeAzure) -> Iterator[Exporter]:
    options = {
        "web.listen-address": "127.0.0.1:0",
        "arm-endpoint": fake.arm_endpoint,
        "subscription": [SUB],
        "min-refresh-interval": "0s",
    }
    with Exporter(load_config(options, {})) as running_exporter:
        yield running_exporter


def test_hostile_records_cost_one_job_each_and_metrics_stay_up(exporter: Exporter) -> None:
    text = scrape(exporter)  # scrape() asserts the 200
    found = samples(text)
    up = {labels["vault"]: v for labels, v in found["azure_backup_vault_up"]}
    assert up == {HOSTILE_VAULT: 1.0, CALM_VAULT: 1.0, "rsv-\ufffd": 0.0}
    assert value(text, "azure_backup_vault_up", resource_group="rg-\ufffd") == 0.0
    assert value(text, "azure_backup_last_job_status", vault=CALM_VAULT, entity="vm-calm") == 1.0

    # the lone surrogate is shown as U+FFFD; the other records are skipped and counted
    assert value(text, "azure_backup_last_job_status", entity="\ufffd", status="Completed") == 1.0
    assert value(text, "azure_backup_jobs_malformed_total", vault=HOSTILE_VAULT) == len(MALFORMED)
    entities = {labels["entity"] for labels, _ in found["azure_backup_last_job_status"]}
    assert entities == {"\ufffd", "vm-huge-size", "vm-sized", "vm-calm"}

    # an absurd size in one job's details costs that size only
    assert value(text, "azure_backup_last_job_size_bytes", entity="vm-sized") == 3 * GIB
    assert value(text, "azure_backup_last_job_size_bytes", entity="vm-huge-size") is None
    assert all(math.isfinite(v) for labels, v in found["azure_backup_job_duration_seconds_sum"])

    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
