"""The rules and the dashboards come from one vocabulary: the committed rules are what alerts/build.py
writes, and a value changed once (here with `--set`, into a temporary directory) changes both outputs,
leaving no trace of the old value in what they select.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ALERTS_BUILDER, DASHBOARDS_BUILDER, REPO, RULES, run

RULES_NAME = RULES.name
OVERVIEW, ENTITY = "azure-backup-overview.json", "azure-backup-entity.json"


def build(out: Path, *overrides: str) -> None:
    """Both generators into `out`, each with the same `--set` overrides."""
    sets = [argument for override in overrides for argument in ("--set", override)]
    for builder in (ALERTS_BUILDER, DASHBOARDS_BUILDER):
        result = run([sys.executable, str(builder), *sets, "--out", str(out)])
        assert result.returncode == 0, result.stderr


def rule_expressions(path: Path) -> dict[str, str]:
    """Each rule's expression by name; the rules of an alert with two severities, joined."""
    document = yaml.safe_load(path.read_text())
    expressions: dict[str, str] = {}
    for group in document["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule["record"]
            expressions[name] = expressions.get(name, "") + rule["expr"]
    return expressions


def dashboard_panels(path: Path) -> list[dict[str, Any]]:
    return [panel for panel in json.loads(path.read_text())["panels"] if panel["type"] != "row"]


def dashboard_queries(path: Path) -> list[str]:
    board = json.loads(path.read_text())
    return [target["expr"] for panel in dashboard_panels(path) for target in panel["targets"]] + [
        variable["query"] for variable in board["templating"]["list"] if variable["type"] == "query"
    ]


def panel(path: Path, title: str) -> dict[str, Any]:
    return next(found for found in dashboard_panels(path) if found["title"] == title)


def test_committed_rules_are_what_the_generator_writes() -> None:
    result = run([sys.executable, str(ALERTS_BUILDER), "--check"], cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_a_stale_rule_file_is_reported_with_the_command_that_rewrites_it(tmp_path: Path) -> None:
    (tmp_path / RULES_NAME).write_text(RULES.read_text().replace("for: 30m", "for: 31m", 1))
    result = run([sys.executable, str(ALERTS_BUILDER), "--check", "--out", str(tmp_path)])
    assert result.returncode == 1
    assert result.stderr.strip() == f"stale: {RULES_NAME}; run python alerts/build.py"


def test_the_defaults_rebuild_the_committed_files(tmp_path: Path) -> None:
    build(tmp_path)
    assert (tmp_path / RULES_NAME).read_text() == RULES.read_text()
    for name in (OVERVIEW, ENTITY):
        assert (tmp_path / name).read_text() == (REPO / "dashboards" / name).read_text()


def test_another_job_name_and_rpo_change_both_outputs_and_leave_no_old_value(
    tmp_path: Path, promtool: str
) -> None:
    build(tmp_path, "job_name=backup-prod", "rpo_seconds=36000", "rpo_slack_seconds=3600")
    rules = tmp_path / RULES_NAME
    checked = run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(rules)])
    assert checked.returncode == 0, checked.stdout + checked.stderr

    expressions = rule_expressions(rules)
    exporter_down = expressions["AzureBackupExporterDown"]
    assert 'up{job="backup-prod"} == 0' in exporter_down
    assert 'absent(up{job="backup-prod"})' in exporter_down
    assert "azure-backup-exporter" not in "\n".join(expressions.values())
    objective = expressions["azure_backup:recovery_point_objective_seconds"]
    assert "3600  # tunable: rpo_slack_seconds (1h)" in objective
    assert "7200  # tunable: rpo_slack_seconds" not in rules.read_text()

    # The dashboards select jobs through their `$job` variable: no job name is written into a query.
    for name in (OVERVIEW, ENTITY):
        for query in dashboard_queries(tmp_path / name):
            assert "backup-prod" not in query and "azure-backup-exporter" not in query, query
    # The success age turns orange at the objective the alert fires at, on both dashboards.
    age_panels = ((OVERVIEW, "Entities by time since last success"), (ENTITY, "Time since last success"))
    for name, title in age_panels:
        found = panel(tmp_path / name, title)
        steps = found["fieldConfig"]["defaults"]["thresholds"]["steps"] + [
            step
            for override in found["fieldConfig"]["overrides"]
            for prop in override["properties"]
            if prop["id"] == "thresholds"
            for step in prop["value"]["steps"]
        ]
        assert {"color": "orange", "value": 36000} in steps, title
        assert all(step["value"] != 93600 for step in steps), title
        assert "orange after 10 h, red after 48 h" in found["description"], title
    rpo = next(
        variable
        for variable in json.loads((tmp_path / OVERVIEW).read_text())["templating"]["list"]
        if variable["name"] == "rpo"
    )
    assert rpo["current"]["value"] == "36000" and rpo["current"]["text"] == "10h"


def test_another_job_name_is_what_exporter_down_watches(tmp_path: Path, promtool: str) -> None:
    """A target of the configured job that never answered is reported; the shipped rules, watching their
    own job name, see only that no target of `azure-backup-exporter` exists."""
    build(tmp_path, "job_name=backup-prod")
    summary = "Prometheus cannot scrape azure-backup-exporter."
    runbook = "https://github.com/example-org/azure-backup-exporter/blob/main/docs/runbooks.md#azurebackupexporterdown"
    target_down = {
        "exp_labels": {"severity": "critical", "job": "backup-prod"},
        "exp_annotations": {
            "summary": summary,
            "description": "No target of job backup-prod answers, or none exists: no backup alert can fire "
            "while it lasts.",
            "runbook_url": runbook,
        },
    }
    shipped_job_absent = {
        "exp_labels": {"severity": "critical", "job": "azure-backup-exporter"},
        "exp_annotations": {
            "summary": summary,
            "description": "No target of job azure-backup-exporter answers, or none exists: no backup alert "
            "can fire while it lasts.",
            "runbook_url": runbook,
        },
    }
    for rules, expected in ((tmp_path / RULES_NAME, [target_down]), (RULES, [shipped_job_absent])):
        unit_test = {
            "rule_files": [str(rules)],
            "evaluation_interval": "1m",
            "tests": [{
                "interval": "1m",
                "input_series": [
                    {"series": 'up{job="backup-prod",instance="exporter:10000"}', "values": "0x30"}
                ],
                "alert_rule_test": [{"eval_time": "20m", "alertname": "AzureBackupExporterDown",
                                     "exp_alerts": expected}],
            }],
        }  # fmt: skip
        (tmp_path / "down.test.yaml").write_text(yaml.safe_dump(unit_test))
        result = run([promtool, "test", "rules", "down.test.yaml"], cwd=tmp_path)
        assert result.returncode == 0, f"{rules}: " + result.stdout + result.stderr


def test_every_selector_comes_from_the_vocabulary(tmp_path: Path, promtool: str) -> None:
    """Other names for every operation and status: neither output keeps one of Azure's names in a selector."""
    build(
        tmp_path,
        "backup_operations=(Full|Log)Backup",
        "log_backup_operation=LogBackup",
        "protection_stopping_operations=StopProtection,Purge",
        "running_statuses=Running,Stopping",
        "success_statuses=Done,DoneWithWarnings",
        "failed_status=Broken",
        "configure_operation=Protect",
        "unlisted_schedule_management_types=AgentKind",
        "stopped_protection_states=Halted",
        "action_protection_states=Broken2",
        "action_health_values=Sick",
    )
    checked = run([promtool, "check", "rules", "--lint=all", "--lint-fatal", str(tmp_path / RULES_NAME)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = "\n".join(rule_expressions(tmp_path / RULES_NAME).values())
    dashboards = "\n".join(
        query for name in (OVERVIEW, ENTITY) for query in dashboard_queries(tmp_path / name)
    )
    old = [
        "Backup( \\(",
        "Backup (Log)",
        "InProgress",
        "Cancelling",
        '"Completed|',
        '"Failed"',
        "DisableBackup",
        "DeleteBackupData",
    ]
    rules_old = ['"ConfigureBackup"', '"MAB|', '"ProtectionStopped"', '"ProtectionError|', '"ActionRequired|']
    for text in rules_old:
        assert text not in rules, text
    for text in old:
        assert text not in rules, text
        assert text not in dashboards, text
    for new in (
        "operation=~`(Full|Log)Backup`",
        'status="Broken"',
        'status=~"Running|Stopping"',
        'status=~"Done|DoneWithWarnings"',
        'operation=~"StopProtection|Purge"',
        'operation="Protect"',
        'backup_management_type=~"AgentKind"',
        'state=~"Halted"',
        'state=~"Broken2"',
        'health=~"Sick"',
    ):
        assert new in rules, new
    for new in (
        'operation=~"(Full|Log)Backup"',
        'operation!="LogBackup"',
        'status="Broken"',
        'status=~"Running|Stopping"',
        'status!~"Running|Stopping"',
    ):
        assert new in dashboards, new


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("rpo_seconds=26h", "error: rpo_seconds: expected a positive whole number, got '26h'"),
        (
            "job=backup-prod",
            "error: --set 'job=backup-prod': expected name=value with a name of "
            "mixin/vocabulary.py (job_name, ",
        ),
        (
            "success_age_red_seconds=3600",
            "error: success_age_red_seconds: expected more than rpo_seconds (93600), got 3600",
        ),
    ],
    ids=["not-a-number", "unknown-name", "red-before-orange"],
)
def test_a_bad_override_is_one_line_naming_the_entry_and_the_expected_form(
    tmp_path: Path, override: str, message: str
) -> None:
    for builder in (ALERTS_BUILDER, DASHBOARDS_BUILDER):
        result = run([sys.executable, str(builder), "--set", override, "--out", str(tmp_path)])
        assert result.returncode == 2
        assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
        assert list(tmp_path.iterdir()) == [], "nothing is written"
