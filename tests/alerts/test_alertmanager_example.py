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


def entity(vault: dict[str, str], name: str, operation: str = "Backup") -> dict[str, str]:
    return {**vault, "backup_management_type": "AzureIaasVM", "entity": name, "operation": operation}


def test_amtool_accepts_the_example(amtool: str) -> None:
    result = run([amtool, "check-config", str(ALERTMANAGER_EXAMPLE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=AzureBackupRecoveryPointOverdue", "vault=rsv-1"], "pager"),
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


def item(vault: dict[str, str], name: str) -> dict[str, str]:
    return {**vault, "backup_management_type": "AzureIaasVM", "entity": name, "backup_kind": "backup"}


JOB = {"job": "azure-backup-exporter"}
DISABLE_BACKUP_1 = entity(VAULT_1, "vm-c", "DisableBackup")
DELETE_2 = entity(VAULT_2, "vm-g", "DeleteBackupData")


def test_one_replica_down_mutes_nothing_and_all_replicas_down_mute_the_job(alertmanager: str) -> None:
    other = {"job": "azure-backup-exporter-eu"}
    sent = [
        # One replica of this job is down (a ticket): the alerts, served by the other replica, go on.
        alert("AzureBackupExporterDown", "warning", {**JOB, "instance": "exporter-a:10000"}),
        alert("AzureBackupJobFailed", "warning", {**JOB, **entity(VAULT_1, "vm-a")}),
        # No replica of the other job answers: its alerts are stale and muted.
        alert("AzureBackupExporterDown", "critical", other),
        alert("AzureBackupRecoveryPointOverdue", "critical", {**other, **item(VAULT_2, "vm-f")}),
        alert("AzureBackupProtectionDisabled", "critical", {**other, **DELETE_2}),
    ]
    expected = {("AzureBackupRecoveryPointOverdue", other["job"], "rsv-2", "vm-f", "")}
    assert muted_alerts(alertmanager, sent, expected) == expected


def test_inhibitions_mute_item_alerts_of_a_dark_vault_and_tickets_under_a_page_but_never_security_alerts(
    alertmanager: str,
) -> None:
    sent = [
        # No replica can read vault rsv-1: its item alerts are stale and muted, the security alerts are not.
        alert("AzureBackupVaultRefreshFailing", "critical", {**JOB, **VAULT_1}),
        alert("AzureBackupRecoveryPointOverdue", "critical", {**JOB, **item(VAULT_1, "vm-a")}),
        alert("AzureBackupJobRunningTooLong", "warning", {**JOB, **entity(VAULT_1, "vm-b")}),
        alert("AzureBackupProtectionDisabled", "critical", {**JOB, **DISABLE_BACKUP_1}),
        alert("AzureBackupVaultDefencesWeakened", "critical", {**JOB, **VAULT_1, "defence": "soft delete"}),
        # Vault rsv-2 is readable: the page on vm-d mutes the tickets on vm-d only.
        alert("AzureBackupRecoveryPointOverdue", "critical", {**JOB, **item(VAULT_2, "vm-d")}),
        alert("AzureBackupRecoveryPointOverdue", "warning", {**JOB, **item(VAULT_2, "vm-d")}),
        alert("AzureBackupJobFailed", "warning", {**JOB, **entity(VAULT_2, "vm-d")}),
        alert("AzureBackupJobFailed", "warning", {**JOB, **entity(VAULT_2, "vm-e")}),
        # vm-e's failed job is the ticket; Azure's "action required" on it is redundant.
        alert("AzureBackupItemNeedsAction", "warning", {**JOB, **item(VAULT_2, "vm-e")}),
        # Three days of warnings: the ticket replaces the info note.
        alert("AzureBackupCompletedWithWarnings", "warning", {**JOB, **item(VAULT_2, "vm-w")}),
        alert("AzureBackupCompletedWithWarnings", "info", {**JOB, **item(VAULT_2, "vm-w")}),
    ]
    expected = {
        ("AzureBackupRecoveryPointOverdue", JOB["job"], "rsv-1", "vm-a", ""),
        ("AzureBackupJobRunningTooLong", JOB["job"], "rsv-1", "vm-b", ""),
        ("AzureBackupRecoveryPointOverdue", JOB["job"], "rsv-2", "vm-d", ""),
        ("AzureBackupJobFailed", JOB["job"], "rsv-2", "vm-d", ""),
        ("AzureBackupItemNeedsAction", JOB["job"], "rsv-2", "vm-e", ""),
        ("AzureBackupCompletedWithWarnings", JOB["job"], "rsv-2", "vm-w", ""),
    }
    assert muted_alerts(alertmanager, sent, expected) == expected
    # The alerts of vm-d, and those of vm-w, differ by severity only: the lower one is muted.
    received = requests.get(f"{alertmanager}/api/v2/alerts", timeout=10).json()
    muted_severities = {
        (a["labels"]["alertname"], a["labels"].get("entity", ""), a["labels"]["severity"])
        for a in received
        if a["status"]["inhibitedBy"]
    }
    assert ("AzureBackupRecoveryPointOverdue", "vm-d", "warning") in muted_severities
    assert ("AzureBackupRecoveryPointOverdue", "vm-d", "critical") not in muted_severities
    assert ("AzureBackupCompletedWithWarnings", "vm-w", "info") in muted_severities
    assert ("AzureBackupCompletedWithWarnings", "vm-w", "warning") not in muted_severities
