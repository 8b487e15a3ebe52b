"""The alerts on protected items, through the whole chain: a generated estate in the simulator (policies,
items in every state), the exporter reading its inventory, Prometheus with the shipped rules (short `for:`
and `keep_firing_for:`), Alertmanager with the shipped example, a webhook.

The estate is generated (seed fixed, no random failure or warning, so that every alert has a cause the test
knows): each of its four vaults holds one item in a state a monitor must notice, by the vault's index
(docs/simulator.md): protection stopped, a first backup pending, soft-deleted, a MARS server silent for days.
The ground truth comes from the simulator's own estate. Then the test does what an attacker or a failing
item does, through the control API: stops protection, turns soft delete off, makes backups end with warnings.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure_backup_simulator import Simulator, SimulatorConfig
from support.alertmanager import EXAMPLE_CONFIG, derive_alertmanager_config
from support.net import wait_until
from support.webhook import ReceivedAlert, WebhookReceiver

from e2e.control import SimulatorControl
from e2e.rules import SHIPPED_RULES, derive_test_rules
from e2e.stack import RESEND_DELAY_ARGS, Stack, load_rules_now, start_stack

pytestmark = pytest.mark.e2e

TEST_FOR = "2s"
ALERT_TIMEOUT = 90.0
ALERTMANAGER_WAITS = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
RECEIVER_OF_SEVERITY = {"critical": "pager", "warning": "ticket", "info": "ticket"}
SEED = 11


@dataclass
class Estate:
    stack: Stack
    webhook: WebhookReceiver
    control: SimulatorControl
    simulator: Simulator

    def wait_for_alert(self, alertname: str, status: str = "firing", **labels: str) -> ReceivedAlert:
        def matches(alert: ReceivedAlert) -> bool:
            return (
                alert.labels.get("alertname") == alertname
                and alert.status == status
                and all(alert.labels.get(key) == value for key, value in labels.items())
            )

        return self.webhook.wait_for(matches, ALERT_TIMEOUT, f"{status} {alertname} {labels}")

    def entities(self) -> list[Any]:
        """Every generated item of the simulated estate, with its vault."""
        return [
            entity
            for vault in self.simulator.state.estate.vaults.values()
            for entity in vault.entities.values()
            if not entity.injected
        ]


@pytest.fixture(scope="module")
def estate() -> Iterator[Estate]:
    with ExitStack() as resources:
        workdir = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="e2e-inventory-")))
        webhook = resources.enter_context(WebhookReceiver())
        config = SimulatorConfig(seed=SEED, vaults=4, failure_rate=0.0, warning_rate=0.0)
        simulator = resources.enter_context(Simulator(config))
        control = SimulatorControl(simulator.control_url)
        alertmanager_config = derive_alertmanager_config(
            yaml.safe_load(EXAMPLE_CONFIG.read_text()), webhook.url, ALERTMANAGER_WAITS
        )
        rule_file = workdir / SHIPPED_RULES.name
        stack = start_stack(
            resources,
            simulator,
            rule_files=[rule_file],
            alertmanager_config=alertmanager_config,
            vaults=control.vaults(),
            exporter_args=[
                "--min-refresh-interval", "0s",
                "--inventory-interval", "2s",
                "--vault-list-interval", "2s",
            ],
            prometheus_args=RESEND_DELAY_ARGS,
        )  # fmt: skip
        stack.prometheus.wait_for_targets_up()
        stack.prometheus.wait_for("count(azure_backup_inventory_up == 1) == 4")
        load_rules_now(
            stack.prometheus,
            rule_file,
            derive_test_rules(SHIPPED_RULES.read_text(), {}, TEST_FOR, keep_firing_for=TEST_FOR),
        )
        yield Estate(stack, webhook, control, simulator)


def assert_item_alert(alert: ReceivedAlert, alertname: str, severity: str, entity: Any) -> None:
    """An alert about one protected item: its labels, its receiver, and a description with no hole."""
    assert alert.labels["severity"] == severity
    assert alert.receiver == RECEIVER_OF_SEVERITY[severity]
    assert alert.labels["vault"] == entity.vault.name
    assert alert.labels["entity"] == entity.name
    assert "instance" not in alert.labels
    description = alert.annotations["description"]
    assert entity.name in description and f"vault {entity.vault.name}" in description
    assert "{{" not in description and "<no value>" not in description
    assert alert.annotations["runbook_url"].endswith("/docs/runbooks.md#" + alertname.lower())


def test_a_mars_server_silent_for_days_pages_for_two_missed_recovery_points(estate: Estate) -> None:
    silent = [
        entity
        for entity in estate.entities()
        if entity.kind.key == "mars" and not entity.active and entity.stopped_at is None
    ]
    assert silent, "the estate has no silent MARS server"
    for entity in silent:
        alert = estate.wait_for_alert(
            "AzureBackupRecoveryPointOverdue", severity="critical", entity=entity.name
        )
        assert_item_alert(alert, "AzureBackupRecoveryPointOverdue", "critical", entity)
        assert alert.labels["backup_kind"] == "backup"
        assert "more than twice its backup interval of 1d 0h 0m 0s" in alert.annotations["description"]


def test_only_items_that_missed_recovery_points_page(estate: Estate) -> None:
    """Every page on an item is one whose recovery point is more than two intervals and the slack old, and
    not one page is about a stopped, soft-deleted or never backed up item."""
    estate.wait_for_alert("AzureBackupRecoveryPointOverdue", severity="critical")
    prometheus = estate.stack.prometheus
    pages = prometheus.query('ALERTS{alertname="AzureBackupRecoveryPointOverdue", severity="critical"}')
    silent = {
        entity.name
        for entity in estate.entities()
        if entity.kind.key == "mars" and not entity.active and entity.stopped_at is None
    }
    assert {page["metric"]["entity"] for page in pages} == silent
    stopped = {entity.name for entity in estate.entities() if entity.stopped_at is not None}
    assert stopped, "the estate has no stopped item"
    overdue = prometheus.query('ALERTS{alertname=~"AzureBackup(RecoveryPointOverdue|FirstBackupOverdue)"}')
    assert not {alert["metric"]["entity"] for alert in overdue} & stopped


def test_a_stopped_item_stays_visible_as_a_low_priority_ticket(estate: Estate) -> None:
    stopped = next(
        entity for entity in estate.entities() if entity.stopped_at is not None and entity.deleted_at is None
    )
    alert = estate.wait_for_alert("AzureBackupProtectionStopped", entity=stopped.name)
    assert_item_alert(alert, "AzureBackupProtectionStopped", "info", stopped)


def test_stopping_protection_pages_once_then_the_item_is_a_ticket(estate: Estate) -> None:
    entity = next(
        entity
        for entity in estate.entities()
        if entity.active and entity.kind.key == "vm" and entity.policy is not None
    )
    estate.control.stop_item(entity.vault.resource_id, entity.name)
    page = estate.wait_for_alert("AzureBackupProtectionDisabled", entity=entity.name)
    assert page.labels["operation"] == "DisableBackup" and page.receiver == "pager"
    assert f"A DisableBackup job for {entity.name} (AzureIaasVM) started" in page.annotations["description"]
    ticket = estate.wait_for_alert("AzureBackupProtectionStopped", entity=entity.name)
    assert_item_alert(ticket, "AzureBackupProtectionStopped", "info", entity)
    # The page is still firing: the stop is recent (6 h), and nothing resolved it meanwhile.
    assert not [
        alert
        for alert in estate.webhook.alerts()
        if alert.labels.get("alertname") == "AzureBackupProtectionDisabled"
        and alert.labels.get("entity") == entity.name
        and alert.status == "resolved"
    ]


def test_turning_soft_delete_off_pages(estate: Estate) -> None:
    vault = next(
        vault
        for vault in estate.simulator.state.estate.vaults.values()
        if vault.settings.get("soft_delete") == "Enabled"
    )
    estate.control.set_vault_settings(vault.resource_id, soft_delete="Disabled")
    alert = estate.wait_for_alert("AzureBackupVaultDefencesWeakened", vault=vault.name)
    assert alert.labels["severity"] == "critical" and alert.receiver == "pager"
    assert alert.labels["defence"] == "soft delete"
    assert alert.annotations["description"].startswith(f"The soft delete of vault {vault.name} ")


def test_backups_completing_with_warnings_open_a_ticket(estate: Estate) -> None:
    entity = next(
        entity
        for entity in estate.entities()
        if entity.active and entity.kind.key == "vm" and entity.policy is not None
    )
    for started_ago in (7200, 3600):
        estate.control.add_job(
            entity.vault.resource_id,
            entity.name,
            "CompletedWithWarnings",
            started_ago=started_ago,
            ended_ago=started_ago - 600,
        )
    # Every `for:` is 2 s here, so the three-day escalation comes at once: the ticket is the warning, and the
    # shipped inhibition holds the info note back.
    alert = estate.wait_for_alert("AzureBackupCompletedWithWarnings", entity=entity.name, severity="warning")
    assert_item_alert(alert, "AzureBackupCompletedWithWarnings", "warning", entity)
    held_back = wait_until(
        lambda: [
            held
            for held in estate.stack.alertmanager.alerts()
            if held["labels"]["alertname"] == "AzureBackupCompletedWithWarnings"
            and held["labels"]["entity"] == entity.name
            and held["labels"]["severity"] == "info"
            and held["status"]["inhibitedBy"]
        ],
        timeout=ALERT_TIMEOUT,
        what="the info note held back by the warning",
    )
    assert held_back[0]["status"]["state"] == "suppressed"
