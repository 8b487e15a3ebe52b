"""The collector on fixed snapshots: exact exposition text, label escaping, and the contract table."""

from __future__ import annotations

import subprocess
from pathlib import Path

from azure_backup_exporter.collector import METRICS, render
from azure_backup_exporter.inventory import VaultSettings
from azure_backup_exporter.jobs import Job, VaultRef
from azure_backup_exporter.snapshot import (
    DURATION_BUCKETS_SECONDS,
    ApiSnapshot,
    EntityKey,
    EntitySnapshot,
    HistogramSnapshot,
    InventorySnapshot,
    ItemSnapshot,
    VaultSnapshot,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

GOLDEN = Path(__file__).parent / "golden" / "collector.prom"
VAULT = VaultRef("00000000-0000-0000-0000-000000000001", "rg-prod", "vault-1")
ODD = 'vm "quoted" \\ back\nslash-é-日本'


def _histogram(*durations: float) -> HistogramSnapshot:
    counts = [0] * (len(DURATION_BUCKETS_SECONDS) + 1)
    for seconds in durations:
        counts[next((i for i, b in enumerate(DURATION_BUCKETS_SECONDS) if seconds <= b), -1)] += 1
    return HistogramSnapshot(tuple(counts), sum(durations))


def fixed_snapshots() -> tuple[list[VaultSnapshot], ApiSnapshot]:
    done = Job(
        "j1",
        "vm-01",
        "AzureIaasVM",
        "Backup",
        "Completed",
        "AzureIaaSVMJob",
        1_800_000_000.0,
        1_800_001_200.0,
        1200.0,
        2332 * 1048576,
    )
    failed = Job(
        "j2",
        ODD,
        "AzureWorkload",
        "Backup (Log)",
        "Failed",
        "AzureWorkloadJob",
        1_800_002_000.0,
        1_800_002_060.0,
        60.0,
        None,
        "510008",
    )
    running = Job("j3", "share-1", "AzureStorage", "Backup", "InProgress", "AzureStorageJob", 1_800_003_000.0)
    configured = Job(
        "j4", "vm-01", "AzureIaasVM", "ConfigureBackup", "Completed", "AzureIaaSVMJob", 1_799_000_000.0,
        1_799_000_030.0, 30.0,
    )  # fmt: skip
    healthy = VaultSnapshot(
        vault=VAULT,
        up=True,
        refresh_duration_seconds=0.25,
        entities=(
            EntitySnapshot(
                EntityKey("AzureIaasVM", "vm-01", "Backup"),
                done,
                1200.0,
                1_800_001_200.0,
                2332 * 1048576,
            ),
            EntitySnapshot(EntityKey("AzureWorkload", ODD, "Backup (Log)"), failed, 60.0, None, None),
            EntitySnapshot(
                EntityKey("AzureStorage", "share-1", "Backup"), running, 42.0, 1_799_990_000.0, None
            ),
            EntitySnapshot(
                EntityKey("AzureIaasVM", "vm-01", "ConfigureBackup"), configured, 30.0, 1_799_000_030.0, None
            ),
        ),
        job_counts={
            ("AzureIaasVM", "Backup", "Completed"): 3,
            ("AzureIaasVM", "Backup", "Failed"): 1,
            ("AzureWorkload", "Backup (Log)", "Failed"): 1,
            ("AzureStorage", "Backup", "InProgress"): 1,
        },
        jobs_finished={
            ("AzureIaasVM", "Backup", "Completed"): 3,
            ("AzureIaasVM", "Backup", "Failed"): 1,
            ("AzureWorkload", "Backup (Log)", "Failed"): 1,
        },
        size_bytes_total=3 * 2332 * 1048576,
        durations={
            ("AzureIaasVM", "Backup"): _histogram(1200.0, 1300.0, 50.0, 90000.0),
            ("AzureWorkload", "Backup (Log)"): _histogram(60.0),
        },
        malformed_jobs={"bad_time": 2},
        inventory=InventorySnapshot(
            up=True,
            read=True,
            items=(
                ItemSnapshot(
                    "AzureIaasVM",
                    "vm-01",
                    "Microsoft.Compute/virtualMachines",
                    "VM",
                    "DailyPolicy",
                    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-01",
                    "Protected",
                    "Passed",
                    "Completed",
                    1_800_001_100.0,
                    {"backup": 86400.0},
                ),
                ItemSnapshot(
                    "AzureWorkload",
                    "msdb [sql-01]",
                    "AzureVmWorkloadSQLDatabase",
                    "SQLDataBase",
                    "SqlPolicy",
                    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/sql-01",
                    "ProtectionStopped",
                    "Healthy",
                    "Healthy",
                    None,
                    {"backup": 86400.0, "log": 3600.0},
                ),
            ),
            settings=VaultSettings(
                id=VAULT.resource_id,
                vault=VAULT,
                location="westeurope",
                storage_redundancy="GeoRedundant",
                cross_region_restore="Enabled",
                soft_delete="AlwaysON",
                soft_delete_retention_days=14,
                enhanced_security="Enabled",
                immutability="Locked",
                multi_user_authorization="Enabled",
                public_network_access="Disabled",
            ),
        ),
    )
    broken = VaultSnapshot(
        VaultRef("00000000-0000-0000-0000-000000000002", "rg", "gone"),
        False,
        0.5,
        inventory=InventorySnapshot(up=False, read=False),
    )
    api = ApiSnapshot(
        {("list_jobs", "200"): 7, ("list_jobs", "429"): 1, ("get_job", "200"): 3},
        {"00000000-0000-0000-0000-000000000001": 11999},
    )
    return [broken, healthy], api


class _Fixed(Collector):
    def collect(self):  # type: ignore[no-untyped-def]
        vaults, api = fixed_snapshots()
        subscriptions = {
            "00000000-0000-0000-0000-000000000001": True,
            "00000000-0000-0000-0000-000000000003": False,
        }
        return render(vaults, api, version="1.2.3", subscriptions_up=subscriptions)


def exposition() -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed())
    return generate_latest(registry).decode()


def test_exposition_matches_the_golden_file() -> None:
    # After a deliberate change, from tests/:
    # ../.venv/bin/python -c 'from exporter.test_collector import write_golden; write_golden()'
    assert exposition() == GOLDEN.read_text(encoding="utf-8")


def write_golden() -> None:
    GOLDEN.write_text(exposition(), encoding="utf-8")


def test_odd_label_values_survive_exposition() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    entities = {
        sample.labels["entity"]
        for family in text_string_to_metric_families(exposition())
        for sample in family.samples
        if "entity" in sample.labels
    }
    assert ODD in entities


def test_every_family_of_the_contract_is_emitted_with_its_labels() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    emitted = {family.name: family for family in text_string_to_metric_families(exposition())}
    for spec in METRICS:
        base = spec.name.removesuffix("_total") if spec.kind == "counter" else spec.name
        family = emitted[base]
        assert family.type == spec.kind
        first = next(s for s in family.samples if not s.name.endswith(("_count", "_sum")))
        assert set(first.labels) - {"le"} == set(spec.labels), spec.name
    assert set(emitted) == {s.name.removesuffix("_total") if s.kind == "counter" else s.name for s in METRICS}


def test_promtool_accepts_the_exposition() -> None:
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=exposition(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_finished_counters_start_at_zero_for_every_finished_status() -> None:
    """A failure after only successes is an increase of an existing series, which increase() sees."""
    from prometheus_client.parser import text_string_to_metric_families

    (finished,) = [
        family
        for family in text_string_to_metric_families(exposition())
        if family.name == "azure_backup_jobs_finished"
    ]
    counts = {
        (s.labels["backup_management_type"], s.labels["operation"], s.labels["status"]): s.value
        for s in finished.samples
        if s.name.endswith("_total")
    }
    assert {status: n for (bmt, _, status), n in counts.items() if bmt == "AzureWorkload"} == {
        "Completed": 0.0, "CompletedWithWarnings": 0.0, "Cancelled": 0.0, "Failed": 1.0,
    }  # fmt: skip
    assert counts[("AzureIaasVM", "Backup", "Completed")] == 3.0
    # one per kind of job and shard, not per vault or entity
    assert all(
        set(s.labels) == {"shard", "backup_management_type", "operation", "status"} for s in finished.samples
    )
    assert {s.labels["shard"] for s in finished.samples} == {"0"}


def series_of(text: str, entity: str, operation: str) -> set[str]:
    marker = f'entity="{entity}",operation="{operation}"'
    return {line.split("{")[0] for line in text.splitlines() if marker in line and not line.startswith("#")}


def test_a_listed_item_has_its_recovery_point_and_no_last_success_of_its_own() -> None:
    """One concept, one series: a listed item's last success is its recovery point (inventory)."""
    text = exposition()
    assert "azure_backup_last_success_timestamp_seconds" not in series_of(text, "vm-01", "Backup")
    assert "azure_backup_protected_item_last_recovery_point_timestamp_seconds" in {
        line.split("{")[0] for line in text.splitlines() if 'entity="vm-01"' in line
    }
    # share-1 is not a listed item: its jobs are all there is
    assert "azure_backup_last_success_timestamp_seconds" in series_of(text, "share-1", "Backup")


def test_a_backup_gets_the_full_set_and_other_operations_their_status_and_start() -> None:
    text = exposition()
    assert series_of(text, "vm-01", "Backup") == {
        "azure_backup_last_job_status",
        "azure_backup_last_job_start_timestamp_seconds",
        "azure_backup_last_job_duration_seconds",
        "azure_backup_last_job_size_bytes",
        "azure_backup_consecutive_failures",
    }
    assert series_of(text, "vm-01", "ConfigureBackup") == {
        "azure_backup_last_job_status",
        "azure_backup_last_job_start_timestamp_seconds",
    }


def test_job_kinds_add_up_across_vaults() -> None:
    """The duration histogram and the finished counter are one per kind of job, whatever the vault count."""
    vaults, api = fixed_snapshots()
    healthy = vaults[1]
    other = VaultSnapshot(
        VaultRef("00000000-0000-0000-0000-000000000001", "rg-prod", "vault-2"),
        True,
        0.1,
        durations={("AzureIaasVM", "Backup"): _histogram(100.0)},
        jobs_finished={("AzureIaasVM", "Backup", "Completed"): 2},
    )
    families = {family.name: family for family in render([healthy, other], api)}
    completed = [
        sample.value
        for sample in families["azure_backup_jobs_finished"].samples
        if sample.labels
        == {
            "shard": "0",
            "backup_management_type": "AzureIaasVM",
            "operation": "Backup",
            "status": "Completed",
        }
    ]
    assert completed == [5.0]
    vm_count = [
        sample.value
        for sample in families["azure_backup_job_duration_seconds"].samples
        if sample.name.endswith("_count") and sample.labels["backup_management_type"] == "AzureIaasVM"
    ]
    assert vm_count == [5.0]
