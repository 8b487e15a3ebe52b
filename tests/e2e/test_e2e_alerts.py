"""The whole chain, scenario by scenario: simulated Azure, exporter, Prometheus, Alertmanager, webhook.

One stack serves every scenario. The estate starts empty; each scenario owns its vault and places its
jobs in simulated history so that its condition already holds when the exporter first reads it (a last
success 27 h ago, a job running for 13 h...). All scenarios are seeded before the stack starts, so their
alerts become due together and the tests below mostly wait for notifications that are already on their
way. Prometheus loads a copy of the shipped rules whose `for:` durations are shortened (see `rules.py`);
Alertmanager runs the shipped example configuration with its webhooks pointed at the test's receiver.

Tests that change global state (throttling, stopping the exporter) come last, in file order.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure_backup_simulator import Simulator, SimulatorConfig
from support.alertmanager import EXAMPLE_CONFIG, derive_alertmanager_config
from support.webhook import ReceivedAlert, WebhookReceiver

from e2e.control import SimulatorControl
from e2e.rules import SHIPPED_RULES, derive_test_rules
from e2e.stack import RESEND_DELAY_ARGS, SCRAPE_JOB, Stack, load_rules_now, start_stack

pytestmark = pytest.mark.e2e

HOUR = 3600
# Every alert's `for:` in the test copy of the rules: more than one evaluation (1 s), short enough for a test.
TEST_FOR = "2s"
ALERT_TIMEOUT = 60.0
ALERTMANAGER_WAITS = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
RECEIVER_OF_SEVERITY = {"critical": "pager", "warning": "ticket", "info": "ticket"}
HEALTHY_EVALUATIONS = 15
ERROR_CODE = 400002
ERROR_NAME = "UserErrorGuestAgentStatusUnavailable"  # the errorTitle of 400002: what error_code shows
# A weekly full and daily differential policy, as its jobs last ran (operation, started ago). Its hourly
# log backups are not listed as jobs by Azure (docs/real-data.md), so none is here.
HEALTHY_SQL_POLICY = (
    ("Backup (Full)", 5 * 24 * HOUR),
    ("Backup (Differential)", 20 * HOUR),
)


def shipped_alerts() -> dict[tuple[str, str], dict[str, Any]]:
    """The shipped alerting rules by name and severity (an alert may have a warning and a critical rule)."""
    groups = yaml.safe_load(SHIPPED_RULES.read_text())["groups"]
    return {
        (rule["alert"], rule["labels"]["severity"]): rule
        for group in groups
        for rule in group["rules"]
        if "alert" in rule
    }


@dataclass
class Scenarios:
    """Vault resource ids of each scenario (the vault label is the last path segment)."""

    healthy: str
    failed: str
    stuck: str
    disabled: str
    deleted: str
    revoked: str
    throttled: str
    flaky: str


@dataclass
class EndToEnd:
    stack: Stack
    webhook: WebhookReceiver
    control: SimulatorControl
    vaults: Scenarios
    running_in_throttled_vault: str
    """The job name of vm-03's backup, running until the throttling scenario finishes it."""

    def wait_for_alert(self, alertname: str, status: str = "firing", **labels: str) -> ReceivedAlert:
        def matches(alert: ReceivedAlert) -> bool:
            return (
                alert.labels.get("alertname") == alertname
                and alert.status == status
                and all(alert.labels.get(key) == value for key, value in labels.items())
            )

        return self.webhook.wait_for(matches, ALERT_TIMEOUT, f"{status} {alertname} {labels}")

    def wait_for_notification(
        self, alertname: str, *, vault: str, entity: str | None, operation: str | None, severity: str
    ) -> ReceivedAlert:
        """The firing `alertname` of `vault`, once it has passed `assert_notification`."""
        alert = self.wait_for_alert(alertname, vault=vault)
        assert_notification(
            alert, alertname, vault=vault, entity=entity, operation=operation, severity=severity
        )
        return alert


def name_of(vault_id: str) -> str:
    return vault_id.rsplit("/", 1)[-1]


def seed_scenarios(control: SimulatorControl) -> Scenarios:
    """One vault per scenario, with jobs placed in history so that each condition already holds."""
    vaults = Scenarios(
        **{
            field: control.add_vault("rsv-" + field.replace("_", "-"))
            for field in Scenarios.__dataclass_fields__
        }
    )

    # Healthy: recent successes, a job running for a normal time, nothing that should alert.
    control.add_job(vaults.healthy, "vm-web-01", "Completed", started_ago=2 * HOUR, ended_ago=2 * HOUR - 900)
    control.add_job(
        vaults.healthy, "vm-web-02", "Completed", started_ago=20 * HOUR, ended_ago=20 * HOUR - 1200
    )
    control.add_job(vaults.healthy, "vm-web-02", "InProgress", started_ago=600)
    control.add_job(
        vaults.healthy,
        "sql-orders",
        "Completed",
        started_ago=30 * 60,
        ended_ago=25 * 60,
        operation="Backup (Full)",
        backup_management_type="AzureWorkload",
        job_type="AzureWorkloadJob",
    )
    # A transient failure retried successfully, a restore, a share and a weekly full + daily differential
    # policy: all healthy.
    control.add_job(
        vaults.healthy,
        "vm-web-03",
        "Failed",
        started_ago=5 * HOUR,
        ended_ago=5 * HOUR - 300,
        error_code=ERROR_CODE,
    )
    control.add_job(vaults.healthy, "vm-web-03", "Completed", started_ago=4 * HOUR, ended_ago=4 * HOUR - 900)
    control.add_job(
        vaults.healthy,
        "vm-web-01",
        "Completed",
        started_ago=3 * HOUR,
        ended_ago=3 * HOUR - 600,
        operation="Restore",
    )
    control.add_job(
        vaults.healthy,
        "share-docs",
        "Completed",
        started_ago=10 * HOUR,
        ended_ago=10 * HOUR - 120,
        backup_management_type="AzureStorage",
        job_type="AzureStorageJob",
    )
    for operation, started_ago in HEALTHY_SQL_POLICY:
        control.add_job(
            vaults.healthy,
            "sql-sales",
            "Completed",
            started_ago=started_ago,
            ended_ago=started_ago - 600,
            operation=operation,
            backup_management_type="AzureWorkload",
            job_type="AzureWorkloadJob",
        )

    # The latest backup failed; an earlier success keeps the critical alerts (and their inhibition) away.
    control.add_job(vaults.failed, "vm-app-01", "Completed", started_ago=20 * HOUR, ended_ago=20 * HOUR - 900)
    control.add_job(
        vaults.failed,
        "vm-app-01",
        "Failed",
        started_ago=HOUR,
        ended_ago=HOUR - 300,
        error_code=ERROR_CODE,
        error_title="The VM agent is unable to communicate with Azure Backup.",
    )

    # Running for 13 h, with no usual duration known: over the 12 h default.
    control.add_job(vaults.stuck, "vm-files-01", "InProgress", started_ago=13 * HOUR)

    control.add_job(
        vaults.disabled,
        "vm-retired-01",
        "Completed",
        started_ago=900,
        ended_ago=840,
        operation="DisableBackup",
    )
    control.add_job(
        vaults.disabled,
        "vm-purged-01",
        "Completed",
        started_ago=600,
        ended_ago=540,
        operation="DeleteBackupData",
    )

    for vault in (vaults.deleted, vaults.revoked, vaults.throttled):
        control.add_job(vault, "vm-01", "Completed", started_ago=HOUR, ended_ago=HOUR - 600)

    # Last success 25 h ago, then failures: the first one now, two more once Prometheus watches
    # (`add_repeated_failures`): the exporter's count of failures in a row goes 1, then 3.
    control.add_job(
        vaults.flaky, "vm-flaky-01", "Completed", started_ago=25 * HOUR, ended_ago=25 * HOUR - 900
    )
    control.add_job(
        vaults.flaky,
        "vm-flaky-01",
        "Failed",
        started_ago=3 * HOUR,
        ended_ago=3 * HOUR - 300,
        error_code=ERROR_CODE,
    )
    return vaults


def add_repeated_failures(control: SimulatorControl, vaults: Scenarios) -> None:
    """Two more failures, recent enough for the exporter's next refresh to see them appear."""
    for started_ago in (500, 300):
        control.add_job(
            vaults.flaky,
            "vm-flaky-01",
            "Failed",
            started_ago=started_ago,
            ended_ago=started_ago - 100,
            error_code=ERROR_CODE,
        )


@pytest.fixture(scope="module")
def e2e() -> Iterator[EndToEnd]:
    with ExitStack() as resources:
        workdir = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="e2e-")))
        webhook = resources.enter_context(WebhookReceiver())
        simulator = resources.enter_context(Simulator(SimulatorConfig(vaults=0)))
        control = SimulatorControl(simulator.control_url)
        vaults = seed_scenarios(control)
        running = control.add_job(vaults.throttled, "vm-03", "InProgress", started_ago=600)
        alertmanager_config = derive_alertmanager_config(
            yaml.safe_load(EXAMPLE_CONFIG.read_text()), webhook.url, ALERTMANAGER_WAITS
        )
        rule_file = workdir / SHIPPED_RULES.name
        stack = start_stack(
            resources,
            simulator,
            rule_files=[rule_file],
            alertmanager_config=alertmanager_config,
            vaults=list(vars(vaults).values()),
            exporter_args=["--min-refresh-interval", "0s"],
            prometheus_args=RESEND_DELAY_ARGS,
        )
        stack.prometheus.wait_for_targets_up()
        # Prometheus holds every vault's first read before anything changes: the deleted and revoked vaults
        # are read successfully before they go away, and the flaky entity's failures in a row are seen growing
        # from 1.
        prometheus = stack.prometheus
        prometheus.wait_for(f"count(azure_backup_vault_up == 1) == {len(vars(vaults))}")
        prometheus.wait_for(f'azure_backup_consecutive_failures{{vault="{name_of(vaults.flaky)}"}} == 1')
        add_repeated_failures(control, vaults)
        control.set_faults(deleted_vaults=[vaults.deleted], revoked_vaults=[vaults.revoked])
        load_rules_now(
            stack.prometheus,
            rule_file,
            derive_test_rules(SHIPPED_RULES.read_text(), {}, TEST_FOR, keep_firing_for=TEST_FOR),
        )
        yield EndToEnd(stack, webhook, control, vaults, running)


def assert_notification(
    alert: ReceivedAlert,
    alertname: str,
    *,
    vault: str,
    entity: str | None,
    operation: str | None,
    severity: str,
) -> None:
    """The labels and annotations a person paged by this alert relies on."""
    rule = shipped_alerts()[(alertname, severity)]
    assert alert.labels["severity"] == severity
    assert alert.receiver == RECEIVER_OF_SEVERITY[severity]
    assert alert.labels["vault"] == vault
    assert alert.labels["resource_group"] == "rg-e2e"
    assert alert.labels.get("entity") == entity
    assert alert.labels.get("operation") == operation
    assert alert.labels["job"] == SCRAPE_JOB
    assert alert.annotations["summary"] == rule["annotations"]["summary"]
    assert alert.annotations["runbook_url"] == rule["annotations"]["runbook_url"]
    assert alert.annotations["runbook_url"].endswith("/docs/runbooks.md#" + alertname.lower())
    description = alert.annotations["description"]
    assert f"vault {vault}" in description and "{{" not in description and "<no value>" not in description
    if entity is not None:
        assert entity in description and operation in description


def test_failed_backup_reaches_the_ticket_receiver_with_vault_entity_and_error_code(e2e: EndToEnd) -> None:
    vault = name_of(e2e.vaults.failed)
    alert = e2e.wait_for_notification(
        "AzureBackupJobFailed", vault=vault, entity="vm-app-01", operation="Backup", severity="warning"
    )
    assert alert.labels["backup_management_type"] == "AzureIaasVM"
    # that job's errorTitle is a sentence, not a name: error_code falls back to Azure's integer
    assert f"Error code {ERROR_CODE}." in alert.annotations["description"]


def test_job_running_far_too_long_opens_a_ticket(e2e: EndToEnd) -> None:
    vault = name_of(e2e.vaults.stuck)
    alert = e2e.wait_for_notification(
        "AzureBackupJobRunningTooLong",
        vault=vault,
        entity="vm-files-01",
        operation="Backup",
        severity="warning",
    )
    assert "has been running for 13h" in alert.annotations["description"]


@pytest.mark.parametrize(
    ("entity", "operation"), [("vm-retired-01", "DisableBackup"), ("vm-purged-01", "DeleteBackupData")]
)
def test_disabled_protection_or_deleted_backup_data_pages(e2e: EndToEnd, entity: str, operation: str) -> None:
    vault = name_of(e2e.vaults.disabled)
    alert = e2e.wait_for_alert("AzureBackupProtectionDisabled", vault=vault, entity=entity)
    assert_notification(
        alert,
        "AzureBackupProtectionDisabled",
        vault=vault,
        entity=entity,
        operation=operation,
        severity="critical",
    )
    assert f"A {operation} job for {entity} (AzureIaasVM)" in alert.annotations["description"]


def test_deleted_and_revoked_vaults_page_while_the_others_keep_reporting(e2e: EndToEnd) -> None:
    deleted, revoked = name_of(e2e.vaults.deleted), name_of(e2e.vaults.revoked)
    for vault in (deleted, revoked):
        e2e.wait_for_notification(
            "AzureBackupVaultRefreshFailing",
            vault=vault,
            entity=None,
            operation=None,
            severity="critical",
        )
    prometheus = e2e.stack.prometheus
    up = {r["metric"]["vault"]: r["value"][1] for r in prometheus.query("azure_backup_vault_up")}
    others = {name_of(v) for v in vars(e2e.vaults).values()} - {deleted, revoked}
    assert up == {deleted: "0", revoked: "0", **dict.fromkeys(others, "1")}
    latest = prometheus.query("count by (vault) (azure_backup_last_job_status == 1)")
    assert others <= {r["metric"]["vault"] for r in latest}
    # The operator's log names each vault with Azure's error code.
    log = e2e.stack.exporter.output(limit=1_000_000).splitlines()
    assert any(deleted in line and "ResourceNotFound" in line for line in log)
    assert any(revoked in line and "AuthorizationFailed" in line for line in log)


def test_repeated_failures_open_a_ticket(e2e: EndToEnd) -> None:
    vault = name_of(e2e.vaults.flaky)
    alert = e2e.wait_for_notification(
        "AzureBackupRepeatedFailures",
        vault=vault,
        entity="vm-flaky-01",
        operation="Backup",
        severity="warning",
    )
    assert "failed 3 times in a row without a success" in alert.annotations["description"]
    assert f"Latest error code {ERROR_NAME}." in alert.annotations["description"]


def test_a_later_success_resolves_the_failed_backup_alert(e2e: EndToEnd) -> None:
    vault = name_of(e2e.vaults.failed)
    e2e.wait_for_alert("AzureBackupJobFailed", vault=vault)
    e2e.control.add_job(e2e.vaults.failed, "vm-app-01", "Completed", started_ago=120, ended_ago=10)
    resolved = e2e.wait_for_alert("AzureBackupJobFailed", status="resolved", vault=vault)
    assert resolved.labels["entity"] == "vm-app-01"
    assert resolved.receiver == "ticket"


def test_healthy_estate_stays_silent(e2e: EndToEnd) -> None:
    prometheus = e2e.stack.prometheus
    vault = name_of(e2e.vaults.healthy)
    # The window: the rules have evaluated the healthy vault's series many times, while the other
    # scenarios' alerts went through the same rules and Alertmanager (the tests above). `[5m]` reaches back
    # to before the rules were loaded.
    evaluated = f'azure_backup:last_finished_job_duration_seconds{{vault="{vault}", entity="vm-web-01"}}'
    prometheus.wait_for(f"count_over_time({evaluated}[5m]) >= {HEALTHY_EVALUATIONS}", timeout=ALERT_TIMEOUT)
    latest = prometheus.query(f'azure_backup_last_job_status{{vault="{vault}"}} == 1')
    assert sorted(
        (r["metric"]["entity"], r["metric"]["operation"], r["metric"]["status"]) for r in latest
    ) == [
        ("share-docs", "Backup", "Completed"),
        ("sql-orders", "Backup (Full)", "Completed"),
        ("sql-sales", "Backup (Differential)", "Completed"),
        ("sql-sales", "Backup (Full)", "Completed"),
        ("vm-web-01", "Backup", "Completed"),
        ("vm-web-01", "Restore", "Completed"),
        ("vm-web-02", "Backup", "InProgress"),
        ("vm-web-03", "Backup", "Completed"),
    ]
    assert prometheus.query(f'ALERTS{{vault="{vault}"}}[5m]') == []
    global_alerts = 'ALERTS{alertname=~"AzureBackup(ApiThrottled|ExporterDown)"}'
    assert prometheus.query(f"{global_alerts}[5m]") == []
    assert [
        a for a in e2e.webhook.alerts() if a.labels.get("vault") == vault or "vault" not in a.labels
    ] == []


def test_hard_throttling_keeps_the_exporter_serving_and_loses_no_job(e2e: EndToEnd) -> None:
    prometheus = e2e.stack.prometheus
    vault = name_of(e2e.vaults.throttled)
    before = prometheus.query(f'azure_backup_last_job_status{{vault="{vault}", entity="vm-03"}} == 1')
    assert [r["metric"]["status"] for r in before] == ["InProgress"]
    throttle_start = time.time()
    e2e.control.set_faults(throttle=True)
    # Both happen in Azure while the exporter cannot read it: a new job, and the running one ends.
    e2e.control.add_job(e2e.vaults.throttled, "vm-02", "Completed", started_ago=300, ended_ago=30)
    e2e.control.finish_job(e2e.running_in_throttled_vault, "Completed")
    alert = e2e.wait_for_alert("AzureBackupApiThrottled")
    rule = shipped_alerts()[("AzureBackupApiThrottled", "warning")]
    assert alert.labels["severity"] == "warning" and alert.receiver == "ticket"
    assert alert.labels["job"] == SCRAPE_JOB and "instance" not in alert.labels
    assert alert.annotations["summary"] == rule["annotations"]["summary"]
    assert alert.annotations["runbook_url"] == rule["annotations"]["runbook_url"]
    assert "with HTTP 429 (too many requests)" in alert.annotations["description"]
    # Still throttled, and every scrape since the throttling began succeeded, reporting the 429s itself
    # and the vault's last known data: its series were in every one of those scrapes.
    now = time.time()
    throttled_for = f"{max(1, int(now - throttle_start))}s"
    assert prometheus.query(f'min_over_time(up{{job="{SCRAPE_JOB}"}}[{throttled_for}]) == 1', at=now)
    scrapes = prometheus.query(f'count_over_time(up{{job="{SCRAPE_JOB}"}}[{throttled_for}])', at=now)
    known = prometheus.query(
        f'count_over_time(azure_backup_last_job_status{{vault="{vault}", entity="vm-01"}}[{throttled_for}])',
        at=now,
    )
    assert [r["value"][1] for r in known] == [scrapes[0]["value"][1]]
    assert prometheus.query('azure_backup_api_requests_total{code="429"} > 0')
    assert prometheus.query(f'azure_backup_last_job_status{{vault="{vault}", entity="vm-02"}}') == []

    e2e.control.set_faults(throttle=False)
    assert prometheus.wait_for(
        f'azure_backup_last_job_status{{vault="{vault}", entity="vm-02", status="Completed"}} == 1',
        timeout=ALERT_TIMEOUT,
    )
    # The job that ended during the throttling: its end is seen and counted once.
    assert prometheus.wait_for(
        f'azure_backup_last_job_status{{vault="{vault}", entity="vm-03", status="Completed"}} == 1'
    )
    # each with its outcome: no failure in a row, and a success at its job's end
    outcomes = prometheus.query(f'azure_backup_consecutive_failures{{vault="{vault}"}}')
    assert sorted((r["metric"]["entity"], r["value"][1]) for r in outcomes) == [
        ("vm-01", "0"),
        ("vm-02", "0"),
        ("vm-03", "0"),
    ]
    successes = prometheus.query(f'azure_backup_last_success_timestamp_seconds{{vault="{vault}"}}')
    assert sorted(r["metric"]["entity"] for r in successes) == ["vm-01", "vm-02", "vm-03"]


def test_stopped_exporter_pages(e2e: EndToEnd) -> None:
    e2e.stack.exporter.stop()
    # The only replica is down: one page for the job, naming no instance.
    alert = e2e.wait_for_alert("AzureBackupExporterDown", severity="critical")
    rule = shipped_alerts()[("AzureBackupExporterDown", "critical")]
    assert alert.labels["job"] == SCRAPE_JOB and "instance" not in alert.labels
    assert alert.receiver == "pager"
    assert alert.annotations["summary"] == rule["annotations"]["summary"]
    assert alert.annotations["runbook_url"] == rule["annotations"]["runbook_url"]
    assert alert.annotations["description"].startswith(f"No target of job {SCRAPE_JOB} answers")
