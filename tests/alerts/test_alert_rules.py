"""The shipped alert rules: valid, lint-free, unit-tested by promtool, documented, and tunable in one edit
(of mixin/vocabulary.py, from which alerts/build.py writes them).

promtool is the judge of the PromQL and of the alerts' behaviour (alerts/tests/*.yaml hold the series
histories); these tests run it and check what a reader of the rules and runbooks relies on.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure_backup_exporter.collector import METRICS

from mixin.vocabulary import Vocabulary, thresholds

from .conftest import ALERTS_BUILDER, DASHBOARDS_DOC, RULE_TESTS, RULES, RUNBOOKS, run

REQUIRED_ALERTS = {
    "AzureBackupRecoveryPointOverdue",
    "AzureBackupFirstBackupOverdue",
    "AzureBackupItemNeedsAction",
    "AzureBackupProtectionStopped",
    "AzureBackupCompletedWithWarnings",
    "AzureBackupJobFailed",
    "AzureBackupRepeatedFailures",
    "AzureBackupJobRunningTooLong",
    "AzureBackupProtectionDisabled",
    "AzureBackupVaultDefencesWeakened",
    "AzureBackupVaultRefreshFailing",
    "AzureBackupVaultGone",
    "AzureBackupSubscriptionListFailing",
    "AzureBackupApiThrottled",
    "AzureBackupExporterDown",
}
RUNBOOK_BASE = "https://github.com/example-org/azure-backup-exporter/blob/main/docs/runbooks.md#"
TUNABLE = re.compile(r"(?P<value>\d+(?:\.\d+)?)[ \t]*#[ \t]*tunable:[ \t]*(?P<name>[a-z0-9_]+)")
PROMETHEUS_LABELS = {"job", "instance", "le"}


def load_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def alerting_rules() -> list[dict[str, Any]]:
    """Every alerting rule; an alert with a warning and a critical threshold is two rules of one name."""
    return [rule for rule in load_rules() if "alert" in rule]


def alert_names() -> set[str]:
    return {rule["alert"] for rule in alerting_rules()}


def glance_table() -> dict[tuple[str, str], list[str]]:
    """Rows of the runbooks' "Alerts at a glance" table: (alert name, severity) -> its cells."""
    text = RUNBOOKS.read_text()
    section = text.split("## Alerts at a glance", 1)[1].split("\n## ", 1)[0]
    rows: dict[tuple[str, str], list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"\| \[(AzureBackup\w+)\]\(#(\w+)\) \|", line)
        if match:
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[(match.group(1), cells[3])] = cells
    return rows


def test_promtool_check_rules_reports_no_lint_finding(promtool: str) -> None:
    result = run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(RULES)])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS" in output and "FAILED" not in output, output


def test_promtool_unit_tests_pass(promtool: str) -> None:
    files = sorted(RULE_TESTS.glob("*.yaml"))
    assert files, "no promtool tests in alerts/tests"
    result = run([promtool, "test", "rules", *map(str, files)], cwd=RULE_TESTS)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.count("SUCCESS") == len(files), output


def test_every_alert_has_a_firing_case_and_a_near_miss() -> None:
    fires: set[str] = set()
    misses: set[str] = set()
    for path in RULE_TESTS.glob("*.yaml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                expected = check.get("exp_alerts") or []
                (fires if expected else misses).add(check["alertname"])
                for alert in expected:
                    pinned = set(alert.get("exp_annotations", {}))
                    assert {"summary", "description", "runbook_url"} <= pinned, (
                        f"{path.name}: a firing case of {check['alertname']} must pin every annotation"
                    )
    assert REQUIRED_ALERTS - fires == set(), "alerts without a firing case"
    assert REQUIRED_ALERTS - misses == set(), "alerts without a near miss"


def test_the_issue_alerts_exist_with_severity_and_annotations() -> None:
    assert REQUIRED_ALERTS <= alert_names()
    for rule in alerting_rules():
        name = rule["alert"]
        assert name.startswith("AzureBackup")
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        annotations = rule["annotations"]
        assert "{{" not in annotations["summary"], f"{name}: summary is a static sentence"
        assert (
            "{{ $labels.vault }}" in annotations["description"]
            or name in ("AzureBackupApiThrottled", "AzureBackupExporterDown")
            or (
                name == "AzureBackupSubscriptionListFailing"
                and "$labels.subscription_id" in annotations["description"]
            )
        ), name
        assert annotations["runbook_url"] == RUNBOOK_BASE + name.lower(), name


EXPORTER_ALERTS = {
    "AzureBackupVaultDefencesWeakened",
    "AzureBackupVaultRefreshFailing",
    "AzureBackupVaultGone",
    "AzureBackupSubscriptionListFailing",
    "AzureBackupApiThrottled",
    "AzureBackupExporterDown",
}


# Alerts on a protected item as a whole (the inventory): no operation label.
ITEM_ALERTS = {
    "AzureBackupRecoveryPointOverdue",
    "AzureBackupFirstBackupOverdue",
    "AzureBackupItemNeedsAction",
    "AzureBackupProtectionStopped",
    "AzureBackupCompletedWithWarnings",
}


def test_item_and_job_alerts_name_vault_entity_and_operation_in_their_description() -> None:
    for rule in alerting_rules():
        name = rule["alert"]
        if name in EXPORTER_ALERTS:
            continue
        description = rule["annotations"]["description"]
        labels = ["vault", "entity", "backup_management_type", "resource_group", "subscription_id"]
        if name not in ITEM_ALERTS:
            labels.append("operation")
        for label in labels:
            assert f"$labels.{label}" in description, f"{name} does not name {label}"


def test_every_alert_keeps_firing_across_a_restart_or_a_scrape_gap() -> None:
    """A restart or a scrape gap of up to 10 minutes neither resolves nor re-fires an alert, whatever the
    alert (alerts/tests/ show it on series that go stale and come back)."""
    for rule in alerting_rules():
        assert rule.get("keep_firing_for") == Vocabulary().keep_firing_for, rule["alert"]


def test_every_alert_has_a_runbook_section_and_a_correct_row_in_the_glance_table() -> None:
    headings = set(re.findall(r"^## (AzureBackup\w+)$", RUNBOOKS.read_text(), flags=re.MULTILINE))
    rows = glance_table()
    for rule in alerting_rules():
        name, severity = rule["alert"], rule["labels"]["severity"]
        assert name in headings, f"docs/runbooks.md has no section '## {name}'"
        assert (name, severity) in rows, f"the glance table has no {severity} row for {name}"
        _, expression, for_cell, _, why = rows[(name, severity)]
        assert for_cell == rule.get("for", "0m"), f"{name} ({severity}): table says for {for_cell}"
        assert expression and len(why) > 40, f"{name}: expression and reason must be given"
    assert len(rows) == len(alerting_rules()), "a row of the glance table has no rule"


def test_every_runbook_section_says_how_to_confirm_with_promql_and_az_backup_job() -> None:
    text = RUNBOOKS.read_text()
    parts = ("**What it means.**", "**Confirm.**", "```promql", "az backup job", "**Common causes", "**Fix")
    for name in alert_names():
        section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in parts:
            assert part in section, f"runbook section {name} lacks {part}"


def test_every_recording_rule_is_explained_in_the_runbooks() -> None:
    text = RUNBOOKS.read_text()
    for rule in load_rules():
        if "record" in rule:
            assert f"- `{rule['record']}`:" in text, f"docs/runbooks.md does not explain {rule['record']}"


def test_every_threshold_is_one_vocabulary_entry_used_once_and_documented_with_its_default() -> None:
    defaults = thresholds(Vocabulary())
    expressions = "\n".join(rule["expr"] for rule in load_rules())
    tunables = [(m.group("name"), m.group("value")) for m in TUNABLE.finditer(expressions)]
    names = [name for name, _ in tunables]
    assert len(names) == len(set(names)), f"a tunable appears twice: {names}"
    assert len(names) == expressions.count("# tunable:"), "a '# tunable:' comment does not follow a number"
    assert len(names) == RULES.read_text().count("# tunable:") - 1, "a tunable outside an expression"
    for name, value in tunables:
        assert defaults.get(name) == int(value), f"tunable {name} = {value} is not the vocabulary's {name}"
    runbooks, dashboards = RUNBOOKS.read_text(), DASHBOARDS_DOC.read_text()
    for name, value in defaults.items():
        doc = runbooks if name in names else dashboards
        assert re.search(rf"^\| `{name}` \| `{value}`", doc, flags=re.MULTILINE), (
            f"{'docs/runbooks.md' if name in names else 'docs/dashboards.md'} does not document "
            f"threshold {name} with default {value}"
        )


def test_rules_use_only_metrics_and_labels_of_the_exporter_contract() -> None:
    exposed: dict[str, set[str]] = {}
    for spec in METRICS:
        if spec.kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                exposed[spec.name + suffix] = set(spec.labels) | {"le"}
        else:
            exposed[spec.name] = set(spec.labels)
    recorded = {rule["record"] for rule in load_rules() if "record" in rule}
    all_labels = set().union(*exposed.values()) | PROMETHEUS_LABELS | {"status"}
    for rule in load_rules():
        expr = rule["expr"]
        for metric in set(re.findall(r"\b(azure_backup[a-z0-9_:]*)", expr)):
            assert metric in exposed or metric in recorded, f"unknown metric {metric} in {expr}"
        selectors = re.findall(r"\b(azure_backup_[a-z0-9_]+|up)\{([^}]*)\}", expr, flags=re.DOTALL)
        for metric, matchers in selectors:
            allowed = exposed.get(metric, PROMETHEUS_LABELS)
            for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers):
                assert label in allowed | PROMETHEUS_LABELS, f"{metric} has no label {label}"
        for grouping in re.findall(r"\b(?:on|ignoring|by|without)\s*\(([^)]*)\)", expr):
            for label in filter(None, (part.strip() for part in grouping.split(","))):
                assert label in all_labels, f"unknown label {label} in {expr}"


ITEM = {
    "subscription_id": "s",
    "resource_group": "r",
    "vault": "v",
    "backup_management_type": "AzureIaasVM",
    "entity": "vm",
}
RUNBOOK = RUNBOOK_BASE + "azurebackuprecoverypointoverdue"


def overdue(severity: str, twice: str, missing: str) -> dict[str, Any]:
    return {
        "exp_labels": {"severity": severity, **ITEM, "backup_kind": "backup"},
        "exp_annotations": {
            "summary": f"An Azure Backup item missed {missing}.",
            "description": "The newest recovery point of vm (AzureIaasVM) in vault v (resource group r, "
            f"subscription s) is 3h 30m 0s old, more than {twice}its backup interval of 1h 0m 0s and its "
            "slack: "
            + (
                "one scheduled recovery point is missing."
                if severity == "warning"
                else "two scheduled recovery points are missing, and the data is losing protection."
            ),
            "runbook_url": RUNBOOK,
        },
    }


@pytest.mark.parametrize(
    ("slack_seconds", "expected"),
    [
        (None, []),
        (
            "1800",
            [
                overdue("warning", "", "a scheduled recovery point"),
                overdue("critical", "twice ", "two scheduled recovery points"),
            ],
        ),
    ],
    ids=["shipped-2h-slack-is-quiet-after-3h30m", "slack-tuned-to-30m-warns-and-pages-after-3h30m"],
)
def test_tuning_the_rpo_slack_is_one_vocabulary_value(
    promtool: str, tmp_path: Path, slack_seconds: str | None, expected: list[dict[str, Any]]
) -> None:
    """An hourly item whose newest recovery point is 3 h 30 m old: within 1 h + 2 h of slack held an hour;
    past 1 h + 30 min (held an hour) and 2 h + 30 min (held 15 minutes) when the slack is 30 minutes."""
    if slack_seconds is None:
        shutil.copy(RULES, tmp_path / "rules.yaml")
    else:
        built = run(
            [
                sys.executable,
                str(ALERTS_BUILDER),
                "--set",
                f"rpo_slack_seconds={slack_seconds}",
                "--out",
                str(tmp_path),
            ]
        )
        assert built.returncode == 0, built.stderr
        (tmp_path / "azure-backup.rules.yaml").rename(tmp_path / "rules.yaml")
    matchers = ",".join(f'{name}="{value}"' for name, value in ITEM.items())
    interval = f'azure_backup_protected_item_backup_interval_seconds{{{matchers},backup_kind="backup"}}'
    unit_test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "5m",
        "tests": [{
            "interval": "5m",
            "input_series": [
                {"series": f"azure_backup_protected_item_last_recovery_point_timestamp_seconds{{{matchers}}}",
                 "values": "0x60"},
                {"series": interval, "values": "3600x60"},
            ],
            "alert_rule_test": [{
                "eval_time": "210m",
                "alertname": "AzureBackupRecoveryPointOverdue",
                "exp_alerts": expected,
            }],
        }],
    }  # fmt: skip
    (tmp_path / "rpo.test.yaml").write_text(yaml.safe_dump(unit_test))
    result = run([promtool, "test", "rules", "rpo.test.yaml"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
