"""Every query of every panel and variable is valid PromQL and reads only series the exporter emits.

Names and labels are checked against `azure_backup_exporter.collector.METRICS` (and the recording rules
in `alerts/`), never against a list kept here; validity is judged by promtool and by a real Prometheus.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from azure_backup_exporter.collector import METRICS
from grafana_model import REPO, Query, all_values, dashboards, grafana_builtins, queries, substitute
from support.prometheus import PrometheusQueryError, PrometheusServer
from support.promql import selectors

PROMTOOL = os.environ.get("PROMTOOL_BINARY", "/usr/bin/promtool")
# Series Prometheus itself writes for every scrape of the exporter (they describe the exporter's target).
SCRAPE_SERIES = {"up": (), "scrape_duration_seconds": (), "scrape_samples_scraped": ()}
TARGET_LABELS = {"job", "instance"}
# Values of single-value variables, with the characters real names carry (Grafana does not escape them).
SINGLE_VALUE_SAMPLE = {
    "subscription_id": "00000000-0000-0000-0000-000000000000",
    "resource_group": "rg.prod",
    "vault": "rsv-01",
    "backup_management_type": "AzureWorkload",
    "entity": "SQLDataBase;mssqlserver;db (1)",
    "operation": "Backup (Log)",
}

ALL_QUERIES = [
    pytest.param(query, id=f"{query.dashboard_uid}: {query.where}")
    for board in dashboards()
    for query in queries(board)
]


def exported_series() -> dict[str, set[str]]:
    """Every series name the exporter emits, with the labels it may carry (scrape labels included)."""
    series: dict[str, set[str]] = {}
    for spec in METRICS:
        labels = set(spec.labels) | TARGET_LABELS
        if spec.kind == "histogram":
            series[f"{spec.name}_bucket"] = labels | {"le"}
            series[f"{spec.name}_sum"] = labels
            series[f"{spec.name}_count"] = labels
        else:
            series[spec.name] = labels
    return series


def recording_rules() -> set[str]:
    names = set()
    for path in sorted(Path(REPO / "alerts").glob("*.rules.y*ml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            names |= {rule["record"] for rule in group.get("rules", []) if "record" in rule}
    return names


def test_the_collector_contract_is_what_the_dashboards_were_written_against() -> None:
    names = {spec.name for spec in METRICS}
    assert {
        "azure_backup_last_job_status",
        "azure_backup_jobs_finished_total",
        "azure_backup_vault_up",
        "azure_backup_job_duration_seconds",
    } <= names


@pytest.mark.parametrize("query", ALL_QUERIES)
def test_reads_only_series_and_labels_the_exporter_emits(query: Query) -> None:
    series = exported_series()
    rules = recording_rules()
    found = selectors(query.expr)
    assert found, f"{query.where}: reads no series"
    for selector in found:
        assert selector.metric, f"{query.where}: selector without a metric name"
        if selector.metric in rules:
            continue
        if selector.metric in SCRAPE_SERIES:
            allowed = TARGET_LABELS
        else:
            assert selector.metric in series, f"{query.where}: the exporter emits no {selector.metric}"
            allowed = series[selector.metric]
        unknown = selector.label_names - allowed
        assert not unknown, f"{query.where}: {selector.metric} has no label(s) {sorted(unknown)}"


def test_every_exported_family_except_bookkeeping_is_on_a_dashboard() -> None:
    """Not a rule of the issue, but a metric nobody can see is a metric nobody watches."""
    used = {
        selector.metric
        for board in dashboards()
        for query in queries(board)
        for selector in selectors(query.expr)
    }
    shown = {spec.name for spec in METRICS if spec.name in used or f"{spec.name}_bucket" in used}
    unseen = {spec.name for spec in METRICS} - shown
    assert not unseen


@pytest.mark.parametrize("query", ALL_QUERIES)
def test_is_valid_promql_for_prometheus(query: Query, empty_prometheus: PrometheusServer) -> None:
    board = next(board for board in dashboards() if board["uid"] == query.dashboard_uid)
    values = all_values(board, SINGLE_VALUE_SAMPLE)
    values |= grafana_builtins(scrape_interval_seconds=15, step_seconds=60, range_seconds=86400)
    expr = substitute(query.expr, values)
    try:
        empty_prometheus.query(expr)
    except PrometheusQueryError as error:
        pytest.fail(f"{query.where}: {error}\n{expr}")


def test_promtool_accepts_every_query_as_a_rule_expression(tmp_path: Path) -> None:
    """promtool's own parser and type checker over every query at once: each becomes a recording rule."""
    rules, where = [], {}
    for board in dashboards():
        values = all_values(board, SINGLE_VALUE_SAMPLE)
        values |= grafana_builtins(scrape_interval_seconds=15, step_seconds=60, range_seconds=86400)
        for index, query in enumerate(queries(board)):
            name = f"dashboard:{board['uid'].replace('-', '_')}:{index}"
            rules.append({"record": name, "expr": substitute(query.expr, values)})
            where[name] = f"{board['uid']}: {query.where}"
    rule_file = tmp_path / "dashboard-queries.rules.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([PROMTOOL, "check", "rules", str(rule_file)], capture_output=True, text=True)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n(rule names: {where})"
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
