"""The exporter on every job recorded from the live Azure Backup service, checked on /metrics.

4,128 real jobs (2016-2024, tests/fixtures/azure-recordings/) are served by a fake ARM on loopback
(`arm_fake.py`: listed without their sizes, each GET with them, as the service does) for the three
replay vaults they were assigned to. The exporter runs with its clock fixed an hour after the last
recorded job and a lookback reaching back before the first, so every job is read, as recorded, with no
byte re-dated; the lookback is cut into 30-day windows as against the real service (about a hundred a
vault, some of several pages). Then each recorded job must show as the metrics documentation says
(`recordings.expected`): latest status per entity and operation, durations in both recorded forms,
sizes from both size fields, error codes, counts, and nothing malformed.
"""

from __future__ import annotations

import math
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from azure_backup_exporter.config import load_config
from azure_backup_exporter.service import Exporter
from prometheus_client.parser import text_string_to_metric_families

from .arm_fake import IDENTITY_HEADER, ReplayAzure, running
from .recordings import (
    VaultExpectation,
    expected,
    finished,
    jobs_by_vault,
    recorded,
    reported_duration,
    seconds,
    size,
)

Labels = frozenset[tuple[str, str]]
TRANSFERRED = "Data Transferred (in MB)"
CLOCK_MARGIN = 3600.0


class Metrics:
    """The exposition as {(sample name, labels): value}."""

    def __init__(self, text: str) -> None:
        self.values: dict[tuple[str, Labels], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.values[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def get(self, name: str, **labels: str) -> float | None:
        return self.values.get((name, frozenset(labels.items())))

    def series(self, name: str, **labels: str) -> list[dict[str, str]]:
        wanted = set(labels.items())
        return [dict(lab) for n, lab in self.values if n == name and wanted <= lab]


@pytest.fixture(scope="module")
def replay() -> Iterator[tuple[Metrics, dict[tuple[str, str, str], VaultExpectation], ReplayAzure, float]]:
    vaults = jobs_by_vault()
    times = [
        seconds(p[k])
        for line in recorded()
        for p in [line["job"]["properties"]]
        for k in ("startTime", "endTime")
        if k in p
    ]
    now = max(times) + CLOCK_MARGIN
    lookback_days = math.ceil((now - min(times)) / 86400) + 1
    fake = ReplayAzure(vaults, page_size=50)
    with running(fake), pytest.MonkeyPatch.context() as env:
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "MSI_ENDPOINT"):
            env.delenv(name, raising=False)
        env.setenv("IDENTITY_ENDPOINT", fake.identity_endpoint)
        env.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
        config = load_config(
            {
                "web.listen-address": "127.0.0.1:0",
                "arm-endpoint": fake.arm_endpoint,
                "vault": [
                    f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{name}"
                    for sub, rg, name in vaults
                ],
                "lookback": f"{lookback_days}d",
                "min-refresh-interval": "0s",
                "scrape-timeout": "300s",
                "detail-fetch-budget": 5000,
                "inventory-interval": "0s",  # the recordings' jobs only: their vaults have no inventory
            },
            {},
        )
        exporter = Exporter(config, clock=lambda: now)
        exporter.start()
        try:
            with urllib.request.urlopen(f"{exporter.url}/metrics", timeout=300) as answer:
                metrics = Metrics(answer.read().decode())
        finally:
            exporter.stop()
    yield metrics, {key: expected(jobs) for key, jobs in vaults.items()}, fake, now


def is_backup(operation: str) -> bool:
    """The operations the exporter gives a duration, a size and a last success (docs/metrics.md)."""
    return operation == "Backup" or operation.startswith("Backup (")


def vault_labels(metrics: Metrics, key: tuple[str, str, str]) -> dict[str, str]:
    (found,) = [
        lab for lab in metrics.series("azure_backup_vault_up")
        if (lab["subscription_id"].lower(), lab["resource_group"].lower(), lab["vault"].lower()) == key
    ]  # fmt: skip
    return found


def test_every_recorded_job_was_read_and_none_is_malformed(replay: Any) -> None:
    metrics, vaults, fake, _ = replay
    assert len(recorded()) == 4128 and len(vaults) == 3
    assert fake.refused == []
    jobs: Counter[tuple[str, str, str]] = Counter()
    for key, want in vaults.items():
        vault = vault_labels(metrics, key)
        assert metrics.get("azure_backup_vault_up", **vault) == 1.0
        assert not metrics.series("azure_backup_jobs_malformed_total", **vault) or all(
            metrics.get("azure_backup_jobs_malformed_total", **lab) == 0
            for lab in metrics.series("azure_backup_jobs_malformed_total", **vault)
        )
        jobs.update(want.jobs)
    shown = {
        (lab["backup_management_type"], lab["operation"], lab["status"]): metrics.get(
            "azure_backup_jobs", **lab
        )
        for lab in metrics.series("azure_backup_jobs")
    }
    assert shown == {k: float(v) for k, v in jobs.items()}  # one series per kind of job, over every vault
    assert sum(shown.values()) == 4128
    assert sum(sum(want.jobs.values()) for want in vaults.values()) == 4128


def test_latest_status_start_end_and_duration_of_each_entity_and_operation(replay: Any) -> None:
    metrics, vaults, _, now = replay
    for key, want in vaults.items():
        vault = vault_labels(metrics, key)
        statuses = metrics.series("azure_backup_last_job_status", **vault)
        assert len(statuses) == len(want.entities), "one series per entity and operation, no more"
        for (kind, entity, operation), facts in want.entities.items():
            labels = {**vault, "backup_management_type": kind, "entity": entity, "operation": operation}
            p = facts.latest["properties"]
            where = f"{entity!r} {operation!r} (job {facts.latest['name']})"
            assert metrics.get("azure_backup_last_job_status", **labels, status=p["status"]) == 1.0, where
            assert metrics.get("azure_backup_last_job_start_timestamp_seconds", **labels) == pytest.approx(
                seconds(p["startTime"]), abs=1e-3
            ), where
            duration = metrics.get("azure_backup_last_job_duration_seconds", **labels)
            if not is_backup(operation):
                assert duration is None, where  # a restore or a configuration: its status and start
                continue
            took = (
                reported_duration(facts.latest) if finished(facts.latest) else now - seconds(p["startTime"])
            )
            assert duration == pytest.approx(took, abs=1e-3), where


def test_counts_successes_and_sizes_of_each_entity(replay: Any) -> None:
    metrics, vaults, _, _ = replay
    sized = 0
    finished_jobs: Counter[tuple[str, str, str]] = Counter()
    for key, want in vaults.items():
        vault = vault_labels(metrics, key)
        vault_total = 0
        for (kind, entity, operation), facts in want.entities.items():
            labels = {**vault, "backup_management_type": kind, "entity": entity, "operation": operation}
            where = f"{entity!r} {operation!r}"
            finished_jobs.update({(kind, operation, status): n for status, n in facts.finished.items()})
            success = metrics.get("azure_backup_last_success_timestamp_seconds", **labels)
            last_size = metrics.get("azure_backup_last_job_size_bytes", **labels)
            if not is_backup(operation):  # restores' sizes are not fetched, nor their successes shown
                assert success is None and last_size is None, where
                continue
            assert success == (pytest.approx(facts.last_success, abs=1e-3) if facts.last_success else None), (
                where
            )
            fetched = facts.fetched_sizes()  # a first start: each entity's latest and latest successful
            if fetched:
                sized += 1
                vault_total += sum(s for _, s in fetched)
                assert last_size == pytest.approx(fetched[-1][1], abs=1), where
            else:
                assert last_size is None, where
        total = metrics.get("azure_backup_job_size_bytes_total", **vault)
        assert total == pytest.approx(vault_total, abs=len(want.entities) * 10), key
    assert sized > 0
    shown = {
        (lab["backup_management_type"], lab["operation"], lab["status"]): metrics.get(
            "azure_backup_jobs_finished_total", **lab
        )
        for lab in metrics.series("azure_backup_jobs_finished_total")
    }
    assert {kind: n for kind, n in shown.items() if n} == {
        kind: float(n) for kind, n in finished_jobs.items()
    }


def test_sizes_come_from_both_fields(replay: Any) -> None:
    """IaaS VM backups report "Backup Size"; file shares and databases "Data Transferred (in MB)"."""
    metrics, vaults, _, _ = replay
    kinds = {lab["backup_management_type"] for lab in metrics.series("azure_backup_last_job_size_bytes")}
    assert kinds == {"AzureIaasVM", "AzureStorage", "AzureWorkload"}  # backups only: restores are not fetched
    transferred = [
        line["job"] for line in recorded()
        if TRANSFERRED in line["job"]["properties"].get("extendedInfo", {}).get("propertyBag", {})
    ]  # fmt: skip
    assert len(transferred) == 525 and all(size(job) is not None for job in transferred)


def test_error_codes_are_the_names_azure_gives_else_the_integer(replay: Any) -> None:
    metrics, vaults, _, _ = replay
    seen = set()
    for key, want in vaults.items():
        vault = vault_labels(metrics, key)
        errors = metrics.series("azure_backup_last_job_error_info", **vault)
        expected_errors = {
            (kind, entity, operation): facts.latest["properties"]["errorDetails"][0]
            for (kind, entity, operation), facts in want.entities.items()
            if facts.latest["properties"].get("errorDetails")
        }
        assert len(errors) == len(expected_errors)
        for (kind, entity, operation), detail in expected_errors.items():
            code = detail.get("errorTitle") or str(detail["errorCode"])
            labels = {**vault, "backup_management_type": kind, "entity": entity, "operation": operation}
            assert metrics.get("azure_backup_last_job_error_info", **labels, error_code=code) == 1.0
            seen.add(code)
    assert "1073871825" in seen  # a file share's error: Azure gives no name, only the integer
    assert any(code.startswith("UserError") for code in seen)


def test_duration_histograms_observe_every_finished_job_once(replay: Any) -> None:
    """One histogram per kind of job over every vault: the recorded vaults' durations add up."""
    metrics, vaults, _, _ = replay
    observed: dict[tuple[str, str], list[float]] = defaultdict(list)
    for want in vaults.values():
        for kind, durations in want.durations.items():
            observed[kind] += durations
    for (kind, operation), durations in observed.items():
        labels = {"shard": "0", "backup_management_type": kind, "operation": operation}
        assert metrics.get("azure_backup_job_duration_seconds_count", **labels) == len(durations)
        assert metrics.get("azure_backup_job_duration_seconds_sum", **labels) == pytest.approx(
            sum(durations), abs=1e-3
        )


def test_a_database_keeps_one_entity_across_its_operations(replay: Any) -> None:
    """Recorded: `h22` for ConfigureBackup and DisableBackup, `H22/H22 [HANADemoIDC3]` for Backup."""
    metrics, _, _, _ = replay
    hana = {
        lab["operation"]
        for lab in metrics.series("azure_backup_last_job_status", entity="H22/H22 [HANADemoIDC3]")
    }
    assert {"ConfigureBackup", "DisableBackup", "Backup (Full)"} <= hana
    assert not metrics.series("azure_backup_last_job_status", entity="h22")
    sql = {
        lab["operation"] for lab in metrics.series("azure_backup_last_job_status", entity="sqltest2 [sqlvm]")
    }
    assert len(sql) >= 2
    # several servers back up an `msdb` in this vault: the bare name is kept, not guessed
    assert metrics.series("azure_backup_last_job_status", entity="msdb", operation="ConfigureBackup")


def test_the_listing_was_windowed_and_paged_and_sizes_were_fetched_by_id(replay: Any) -> None:
    _, vaults, fake, _ = replay
    listings, gets = fake.requests[("list_jobs", 200)], fake.requests[("get_job", 200)]
    assert listings > 3 * 90  # about a hundred 30-day windows a vault
    assert fake.paged > 0  # some windows hold more jobs than a page
    sizable = sum(
        len(facts.fetched_sizes())
        for want in vaults.values()
        for (_, _, operation), facts in want.entities.items()
        if is_backup(operation)
    )
    assert gets >= sizable > 0
