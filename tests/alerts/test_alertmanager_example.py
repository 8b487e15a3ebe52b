"""The example Alertmanager configuration: valid, routes by severity, its inhibitions mute what they claim.

amtool judges the configuration and the routing; a real Alertmanager (started on a loopback port with the
example file) judges the inhibitions, since amtool cannot evaluate them offline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
import requests
import yaml
from support.alertmanager import AlertmanagerServer

from .conftest import ALERTMANAGER_EXAMPLE, run

VAULT_1 = {"subscription_id": "s1", "resource_group": "rg", "vault": "rsv-1"}
VAULT_2 = {"subscription_id": "s1", "resource_group": "rg", "vault": "rsv-2"}
SCRAPE = {"job": "azure-backup-exporter", "instance": "exporter:10000"}


def entity(vault: dict[str, str], name: str, operation: str = "Backup") -> dict[str, str]:
    return {**vault, "backup_management_type": "AzureIaasVM", "entity": name, "operation": operation}


def test_amtool_accepts_the_example(amtool: str) -> None:
    result = run([amtool, "check-config", str(ALERTMANAGER_EXAMPLE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=AzureBackupNoRecentSuccess", "vault=rsv-1"], "pager"),
        (["severity=critical", "alertname=AzureBackupExporterDown", "job=azure-backup-exporter"], "pager"),
        (["severity=warning", "alertname=AzureBackupJobFailed", "vault=rsv-1"], "ticket"),
        (["severity=info", "alertname=AzureBackupCompletedWithWarnings", "vault=rsv-1"], "ticket"),
    ],
    ids=["critical-pages", "exporter-down-pages", "warning-tickets", "info-tickets"],
)
def test_routes_send_critical_to_the_pager_and_the_rest_to_tickets(
    amtool: str, labels: list[str], receiver: str
) -> None:
    result = run([
        amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER_EXAMPLE}",
        f"--verify.receivers={receiver}", *labels,
    ])  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_notifications_are_grouped_by_vault() -> None:
    route = yaml.safe_load(ALERTMANAGER_EXAMPLE.read_text())["route"]
    assert {"subscription_id", "resource_group", "vault"} <= set(route["group_by"])


@pytest.fixture
def alertmanager(alertmanager_binary: str) -> Iterator[str]:
    """A real Alertmanager running the example configuration as shipped; yields its base URL."""
    config = yaml.safe_load(ALERTMANAGER_EXAMPLE.read_text())
    with AlertmanagerServer(config, binary=alertmanager_binary) as server:
        yield server.url


def alert(name: str, severity: str, labels: dict[str, str]) -> dict[str, object]:
    now = datetime.now(timezone.utc)
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": name},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }


def key(labels: dict[str, str]) -> tuple[str, ...]:
    return (labels["alertname"], labels.get("job", ""), labels.get("vault", ""), labels.get("entity", ""))


def muted_alerts(alertmanager: str, sent: list[dict[str, object]], expected: set[tuple[str, ...]]) -> set:
    """Post `sent` and poll until Alertmanager holds all of it and mutes `expected`; the muted keys."""
    response = requests.post(f"{alertmanager}/api/v2/alerts", json=sent, timeout=10)
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    while True:
        received = requests.get(f"{alertmanager}/api/v2/alerts", timeout=10).json()
        muted = {
            (*key(a["labels"]), a["labels"].get("instance", ""))
            for a in received
            if a["status"]["inhibitedBy"]
        }
        if len(received) == len(sent) and muted == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(received) == len(sent)
    return muted


def test_a_replica_down_or_blind_to_a_vault_mutes_its_own_alerts_only(alertmanager: str) -> None:
    replica_a = {"job": "azure-backup-exporter", "instance": "exporter-a:10000"}
    replica_b = {"job": "azure-backup-exporter", "instance": "exporter-b:10000"}
    sent = [
        # Replica A cannot be scraped: its (stale) alerts are muted, replica B's are not.
        alert("AzureBackupExporterDown", "critical", replica_a),
        alert("AzureBackupJobFailed", "warning", {**replica_a, **entity(VAULT_1, "vm-a")}),
        alert("AzureBackupJobFailed", "warning", {**replica_b, **entity(VAULT_1, "vm-a")}),
        # Replica B cannot read vault rsv-2 (its role there was removed): B's alerts on rsv-2 are muted,
        # those of replica C, which reads rsv-2 fine, are not.
        alert("AzureBackupVaultRefreshFailing", "critical", {**replica_b, **VAULT_2}),
        alert("AzureBackupNoRecentSuccess", "critical", {**replica_b, **entity(VAULT_2, "vm-x")}),
        alert(
            "AzureBackupNoRecentSuccess",
            "critical",
            {"job": "azure-backup-exporter", "instance": "exporter-c:10000", **entity(VAULT_2, "vm-x")},
        ),
    ]
    expected = {
        ("AzureBackupJobFailed", replica_a["job"], "rsv-1", "vm-a", replica_a["instance"]),
        ("AzureBackupNoRecentSuccess", replica_b["job"], "rsv-2", "vm-x", replica_b["instance"]),
    }
    assert muted_alerts(alertmanager, sent, expected) == expected


DISABLE_BACKUP_1 = entity(VAULT_1, "vm-c", "DisableBackup")


def test_inhibitions_mute_entity_alerts_of_a_dark_vault_or_exporter_but_never_protection_alerts(
    alertmanager: str,
) -> None:
    other_exporter = {"job": "azure-backup-exporter-eu", "instance": "exporter-eu:10000"}
    sent = [
        # Vault rsv-1 cannot be read: its entity alerts are stale and muted, the security alert is not.
        alert("AzureBackupVaultRefreshFailing", "critical", {**SCRAPE, **VAULT_1}),
        alert("AzureBackupNoRecentSuccess", "critical", {**SCRAPE, **entity(VAULT_1, "vm-a")}),
        alert("AzureBackupJobRunningTooLong", "warning", {**SCRAPE, **entity(VAULT_1, "vm-b")}),
        alert("AzureBackupProtectionDisabled", "critical", {**SCRAPE, **DISABLE_BACKUP_1}),
        # Vault rsv-2 is fine: a critical alert on vm-d mutes the warning on vm-d only.
        alert("AzureBackupNoRecentSuccess", "critical", {**SCRAPE, **entity(VAULT_2, "vm-x")}),
        alert("AzureBackupNoSuccessInLookback", "critical", {**SCRAPE, **entity(VAULT_2, "vm-d")}),
        alert("AzureBackupJobFailed", "warning", {**SCRAPE, **entity(VAULT_2, "vm-d")}),
        alert("AzureBackupJobFailed", "warning", {**SCRAPE, **entity(VAULT_2, "vm-e")}),
        # Another exporter is down: its alerts are muted, those of this exporter are not.
        alert("AzureBackupExporterDown", "critical", {"job": other_exporter["job"]}),
        alert("AzureBackupJobFailed", "warning", {**other_exporter, **entity(VAULT_2, "vm-f")}),
    ]
    response = requests.post(f"{alertmanager}/api/v2/alerts", json=sent, timeout=10)
    assert response.status_code == 200, response.text

    expected_muted = {
        ("AzureBackupNoRecentSuccess", SCRAPE["job"], "rsv-1", "vm-a"),
        ("AzureBackupJobRunningTooLong", SCRAPE["job"], "rsv-1", "vm-b"),
        ("AzureBackupJobFailed", SCRAPE["job"], "rsv-2", "vm-d"),
        ("AzureBackupJobFailed", other_exporter["job"], "rsv-2", "vm-f"),
    }
    deadline = time.monotonic() + 30
    while True:
        received = requests.get(f"{alertmanager}/api/v2/alerts", timeout=10).json()
        muted = {key(a["labels"]) for a in received if a["status"]["inhibitedBy"]}
        if len(received) == len(sent) and muted == expected_muted or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(received) == len(sent)
    assert muted == expected_muted
