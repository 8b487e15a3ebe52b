#!/usr/bin/env python3
"""Writes the Grafana dashboards of azure-backup-exporter: the estate overview and one entity in depth.

Why code rather than hand-edited JSON: two dashboards share their template variables, label selectors,
status colours and panel conventions (datasource variable, description, unit); written once here they
cannot drift apart. The selectors and thresholds they share with the alert rules come from
mixin/vocabulary.py. Plain dicts, no dependency. The JSON output is committed, and a test fails when it
is not what this script writes.

    python dashboards/build.py           # rewrite dashboards/*.json
    python dashboards/build.py --check   # exit 1 if a committed file is stale
    python dashboards/build.py --set rpo_seconds=129600 --out DIR   # an override, written elsewhere
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mixin.generate import main as generate  # noqa: E402
from mixin.vocabulary import Vocabulary, alternatives, duration_text, promql_string  # noqa: E402

OVERVIEW_UID = "azure-backup-overview"
ENTITY_UID = "azure-backup-entity"
SCHEMA_VERSION = 39
TAGS = ["azure", "backup", "azure-backup-exporter"]

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24

TARGET_VARS = ("job", "instance")
VAULT_VARS = TARGET_VARS + ("subscription_id", "resource_group", "vault")
ENTITY_VARS = VAULT_VARS + ("backup_management_type", "entity")
# What identifies a vault, an entity, a jobs count: without `instance`, so that two exporter replicas
# collecting the same vaults are counted once (`max by (...)` over them), and one replica per shard works too.
VAULT_KEY = ("job", "subscription_id", "resource_group", "vault")
ENTITY_KEY = VAULT_KEY + ("backup_management_type", "entity", "operation")
JOBS_KEY = VAULT_KEY + ("backup_management_type", "operation", "status")



@dataclass(frozen=True)
class Shared:
    """What the dashboards take from the vocabulary, written as they use it: label matchers, and the
    colours of the time since the last success (orange past the RPO, red past two missed daily backups)."""

    running: str
    not_running: str
    backups: str  # Restore, ConfigureBackup and the rest make no recovery point
    not_log: str  # log backups have their own, shorter objective
    failed: str
    rpo_seconds: int
    success_age_steps: list[tuple[float | None, str]]
    success_age_colours: str  # "orange after 26 h, red after 48 h", for descriptions

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> Shared:
        running = promql_string(alternatives(vocabulary.running_statuses))
        orange, red = vocabulary.rpo_seconds, vocabulary.success_age_red_seconds
        return cls(
            running=f"status=~{running}",
            not_running=f"status!~{running}",
            backups=f"operation=~{promql_string(vocabulary.backup_operations)}",
            not_log=f"operation!={promql_string(vocabulary.log_backup_operation)}",
            failed=f"status={promql_string(vocabulary.failed_status)}",
            rpo_seconds=vocabulary.rpo_seconds,
            success_age_steps=[(None, "green"), (orange, "orange"), (red, "red")],
            success_age_colours=f"orange after {_spaced(orange)}, red after {_spaced(red)}",
        )


def _spaced(seconds: int) -> str:
    """`26 h`: a duration as the dashboards' descriptions write it."""
    return re.sub(r"^(\d+)", r"\1 ", duration_text(seconds))


STATUS_COLOURS = {
    "Completed": "green",
    "CompletedWithWarnings": "yellow",
    "InProgress": "blue",
    "Cancelling": "purple",
    "Cancelled": "orange",
    "Failed": "red",
}

Panel = dict[str, Any]


# --- selectors and queries ------------------------------------------------------------------------------


def selector(variables: Iterable[str], *fixed: str, single: Iterable[str] = ()) -> str:
    """Label matchers for template variables, then fixed ones (`status="Failed"`).

    A multi-value variable matches as a regex (`vault=~"$vault"`: Grafana escapes each value and joins
    them, "All" is `.+`); a single-value variable is not regex-escaped by Grafana, so it matches exactly
    (`operation="$operation"`), or `Backup (Log)` would never match itself.
    """
    single = set(single)
    matchers = [f'{name}="${name}"' if name in single else f'{name}=~"${name}"' for name in variables]
    return "{" + ", ".join(matchers + list(fixed)) + "}"


def by(labels: Sequence[str]) -> str:
    return "by (" + ", ".join(labels) + ")"


def once(expr: str, key: Sequence[str], function: str = "max") -> str:
    """`max by (key) (expr)`: one series per key however many exporter replicas report it."""
    return f"{function} {by(key)} ({expr})"


def increase(metric: str, matchers: str) -> str:
    """`increase(metric{...}[$__rate_interval])`: counters appear only inside rate() or increase()."""
    return f"increase({metric}{matchers}[$__rate_interval])"


def rate(metric: str, matchers: str) -> str:
    return f"rate({metric}{matchers}[$__rate_interval])"


def target(expr: str, ref_id: str, legend: str = "__auto", *, instant: bool = False,
           table: bool = False) -> dict:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "range": not instant,
        "legendFormat": legend,
        "refId": ref_id,
    }


# --- panel builders -----------------------------------------------------------------------------------


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> dict:
    return {"mode": "absolute", "steps": [{"color": colour, "value": value} for value, colour in steps]}


def _status_overrides() -> list[dict]:
    return [
        {
            "matcher": {"id": "byName", "options": status},
            "properties": [{"id": "color", "value": {"fixedColor": colour, "mode": "fixed"}}],
        }
        for status, colour in STATUS_COLOURS.items()
    ]


def _status_text_mappings() -> list[dict]:
    return [
        {
            "type": "value",
            "options": {
                status: {"color": colour, "index": index}
                for index, (status, colour) in enumerate(STATUS_COLOURS.items())
            },
        }
    ]


def _panel(kind: str, title: str, description: str, unit: str, targets: list[dict], **extra: Any) -> Panel:
    defaults = {
        "unit": unit,
        "color": {"mode": "palette-classic"},
        "thresholds": _thresholds([(None, "green")]),
        "mappings": [],
    }
    defaults.update(extra.pop("defaults", {}))
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": extra.pop("overrides", [])},
        "options": extra.pop("options", {}),
        **extra,
    }


def stat(title: str, description: str, unit: str, targets: list[dict], *, thresholds=None,
         no_value: str | None = None, text_mode: str = "auto", overrides=None, colour_mode="value") -> Panel:
    defaults: dict[str, Any] = {"color": {"mode": "thresholds"}}
    if thresholds:
        defaults["thresholds"] = _thresholds(thresholds)
    if no_value is not None:
        defaults["noValue"] = no_value
    return _panel(
        "stat", title, description, unit, targets,
        defaults=defaults,
        overrides=overrides or [],
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": colour_mode,
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": text_mode,
        },
    )


def timeseries(title: str, description: str, unit: str, targets: list[dict], *, bars: bool = False,
               points: bool = False, stack: bool = False, overrides=None, extra_defaults=None) -> Panel:
    custom = {
        "drawStyle": "bars" if bars else ("points" if points else "line"),
        "lineWidth": 1,
        "fillOpacity": 80 if bars else 10,
        "pointSize": 5,
        "showPoints": "always" if points else "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    defaults = {"custom": custom, **(extra_defaults or {})}
    return _panel(
        "timeseries", title, description, unit, targets,
        defaults=defaults,
        overrides=overrides or [],
        options={
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"],
                       "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def state_timeline(title: str, description: str, targets: list[dict], *, mappings: list[dict],
                   thresholds=None, overrides=None) -> Panel:
    defaults: dict[str, Any] = {"color": {"mode": "thresholds"}, "mappings": mappings,
                                "custom": {"fillOpacity": 80, "lineWidth": 0}}
    if thresholds:
        defaults["thresholds"] = _thresholds(thresholds)
    return _panel(
        "state-timeline", title, description, "none", targets,
        defaults=defaults,
        overrides=overrides or [],
        options={"showValue": "never", "mergeValues": True, "rowHeight": 0.9, "alignValue": "left",
                 "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
                 "tooltip": {"mode": "single", "sort": "none"}},
    )


def table(title: str, description: str, unit: str, targets: list[dict], *, transformations: list[dict],
          overrides: list[dict], sort_by: str | None = None) -> Panel:
    return _panel(
        "table", title, description, unit, targets,
        defaults={"custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True}},
        overrides=overrides,
        options={"showHeader": True, "cellHeight": "sm",
                 "sortBy": [{"displayName": sort_by, "desc": True}] if sort_by else [],
                 "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
        transformations=transformations,
    )


def vault_refresh_status(description: str, matchers: str) -> Panel:
    """Per vault, whether the exporter's last refresh from Azure succeeded (red: failing, green: ok)."""
    return state_timeline(
        "Vault refresh status",
        description,
        [target(f"min by (vault) (azure_backup_vault_up{matchers})", "A", "{{vault}}")],
        mappings=[{"type": "value", "options": {"0": {"text": "failing", "color": "red", "index": 0},
                                                "1": {"text": "ok", "color": "green", "index": 1}}}],
        thresholds=[(None, "red"), (1, "green")],
    )


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def hide_columns(*names: str) -> list[dict]:
    return [{"matcher": {"id": "byName", "options": name},
             "properties": [{"id": "custom.hidden", "value": True}]} for name in names]


def entity_columns(*overrides: dict) -> list[dict]:
    """Overrides of a table with a row per entity: vault-locating columns hidden, then `overrides`, then
    the entity column linking to the entity dashboard."""
    return hide_columns("job", "subscription_id", "resource_group") + [
        *overrides,
        {"matcher": {"id": "byName", "options": "entity"}, "properties": [
            {"id": "links", "value": [entity_link()]},
        ]},
    ]


def entity_link() -> dict:
    """A data link from a table row to the entity dashboard, carrying datasource, time and row labels."""
    params = "&".join(["${instance:queryparam}"]
                      + [f"var-{label}=${{__data.fields.{label}}}" for label in ENTITY_KEY])
    return {
        "title": "Open ${__data.fields.entity} (${__data.fields.operation}) in the entity dashboard",
        "url": f"/d/{ENTITY_UID}/azure-backup-entity"
               f"?${{datasource:queryparam}}&{params}&${{__url_time_range}}",
    }


def layout(items: Sequence[tuple[Panel, int, int]]) -> list[Panel]:
    """Place panels left to right in rows of 24 columns; `(panel, width, height)`, rows take full width."""
    panels, x, y, line_height = [], 0, 0, 0
    for panel_id, (panel, width, height) in enumerate(items, start=1):
        if panel["type"] == "row":
            y, x, line_height = y + line_height, 0, 0
            width, height = GRID_WIDTH, 1
        elif x + width > GRID_WIDTH:
            y, x, line_height = y + line_height, 0, 0
        panels.append({"id": panel_id, "gridPos": {"h": height, "w": width, "x": x, "y": y}, **panel})
        x, line_height = x + width, max(line_height, height)
        if panel["type"] == "row":
            y, x, line_height = y + 1, 0, 0
    return panels


# --- template variables -----------------------------------------------------------------------------------

LABEL_TITLES = {
    "job": "Job",
    "instance": "Instance",
    "subscription_id": "Subscription",
    "resource_group": "Resource group",
    "vault": "Vault",
    "backup_management_type": "Backup management type",
    "entity": "Entity",
    "operation": "Operation",
}

# Which metric each variable's values come from; each variable narrows by all the ones before it.
VARIABLE_SOURCES = {
    "job": "azure_backup_exporter_build_info",
    "instance": "azure_backup_exporter_build_info",
    "subscription_id": "azure_backup_vault_up",
    "resource_group": "azure_backup_vault_up",
    "vault": "azure_backup_vault_up",
    "backup_management_type": "azure_backup_last_job_status",
    "entity": "azure_backup_last_job_status",
    "operation": "azure_backup_last_job_status",
}


def datasource_variable() -> dict:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": [], "includeAll": False,
            "multi": False}


def query_variable(name: str, previous: Sequence[str], *, multi: bool = True,
                   single: Iterable[str] = ()) -> dict:
    metric = VARIABLE_SOURCES[name]
    matchers = selector(previous, single=single) if previous else ""
    query = f"label_values({metric}{matchers}, {name})"
    variable = {
        "name": name,
        "label": LABEL_TITLES[name],
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": query,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "hide": 0,
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "options": [],
    }
    if multi:
        variable["allValue"] = ".+"
    return variable


def chained_variables(names: Sequence[str], single: Iterable[str] = ()) -> list[dict]:
    single = set(single)
    return [query_variable(name, names[:index], multi=name not in single, single=single)
            for index, name in enumerate(names)]


def rpo_variable(rpo_seconds: int) -> dict:
    """The objective of the overview's RPO panel: a few usual choices, the alerts' own by default."""
    seconds = sorted({86400, 93600, 129600, 172800, 604800, rpo_seconds})
    choices = [(duration_text(value), value) for value in seconds]
    default = (duration_text(rpo_seconds), rpo_seconds)
    return {
        "name": "rpo",
        "label": "Recovery point objective",
        "description": "An entity whose last successful job ended longer ago than this is outside its RPO.",
        "type": "custom",
        "query": ", ".join(f"{text} : {value}" for text, value in choices),
        "current": {"selected": True, "text": default[0], "value": str(default[1])},
        "options": [{"selected": (text, value) == default, "text": text, "value": str(value)}
                    for text, value in choices],
        "hide": 0,
        "multi": False,
        "includeAll": False,
    }


def dashboard(uid: str, title: str, description: str, variables: list[dict], panels: list[Panel],
              links: list[dict]) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "refresh": "1m",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {"list": []},
        "links": links,
        "templating": {"list": variables},
        "panels": panels,
    }


def dashboard_link(title: str, uid: str, slug: str) -> dict:
    return {"title": title, "type": "link", "url": f"/d/{uid}/{slug}", "icon": "dashboard",
            "includeVars": True, "keepTime": True, "asDropdown": False, "targetBlank": False,
            "tags": [], "tooltip": ""}


# --- overview -------------------------------------------------------------------------------------------

EMPTY_NOTE = " Empty (or 0) when {}, which is the healthy state."


def overview(shared: Shared) -> dict:
    entity = selector(ENTITY_VARS)
    vault = selector(VAULT_VARS)
    vault_bmt = selector(VAULT_VARS + ("backup_management_type",))
    key = by(ENTITY_KEY)
    backups = selector(ENTITY_VARS, shared.backups)
    last_success = f"max {key} (azure_backup_last_success_timestamp_seconds{backups})"
    # Recovery points are the entity's: its newest success among its daily-class (not log) backup
    # operations, so that a weekly Backup (Full) beside daily Backup (Differential) is within the objective
    # (as in alerts/).
    daily = selector(ENTITY_VARS, shared.backups, shared.not_log)
    protected_key = by(ENTITY_KEY[:-1])
    newest_point = f"max {protected_key} (azure_backup_last_success_timestamp_seconds{daily})"
    # No success at all counts once a backup job has an outcome: a first backup still running is waited for.
    finished_backup = selector(ENTITY_VARS, shared.backups, shared.not_log, shared.not_running)
    backed_up = f"max {protected_key} (azure_backup_last_job_status{finished_backup})"
    failed = selector(ENTITY_VARS, shared.failed)
    job = selector(TARGET_VARS)
    # `timeout` and `error`: requests that got no answer at all (the exporter's own labels for them).
    trouble = selector(TARGET_VARS, 'code=~"429|5..|timeout|error"')
    per_entity = by(("vault", "entity", "operation"))
    running_jobs = selector(VAULT_VARS + ("backup_management_type",), shared.running)
    errors = f"azure_backup_last_job_error_info{entity}"
    finished = increase("azure_backup_jobs_finished_total", entity)
    failures = increase("azure_backup_jobs_finished_total", failed)
    written = increase("azure_backup_job_size_bytes_total", entity)
    malformed = increase("azure_backup_jobs_malformed_total", vault)
    jobs = f"azure_backup_jobs{vault_bmt}"
    statuses = once(f"azure_backup_last_job_status{entity}", ENTITY_KEY + ("status",))
    duration_buckets = (f"sum by (le, vault, operation) "
                        f"({increase('azure_backup_job_duration_seconds_bucket', vault_bmt)})")

    items: list[tuple[Panel, int, int]] = [
        (row("Protection at a glance"), 24, 1),
        (stat(
            "Entities by status of their last job",
            "How many entities (per operation) had their most recent job end in each status. Anything "
            "but Completed deserves a look in the table below.",
            "short",
            [target(f"count by (status) ({statuses})", "A", "{{status}}",
                    instant=True)],
            overrides=_status_overrides(), colour_mode="background", text_mode="value_and_name",
        ), 12, 5),
        (stat(
            "Outside recovery point objective",
            "Entities whose newest recovery point (the end of their most recent successful backup job, "
            "log backups aside) is older than the recovery point objective chosen above (${rpo:text}), "
            "or that have finished backup jobs but no success within the exporter's lookback (a first "
            "backup still running is waited for). Log backups, restores and configuration jobs are left "
            "out."
            + EMPTY_NOTE.format("every entity is within its objective"),
            "short",
            [target(f"count((time() - {newest_point} > $rpo) or ({backed_up} unless {newest_point}))",
                    "A", "outside RPO", instant=True)],
            thresholds=[(None, "green"), (1, "red")], no_value="0", colour_mode="background",
        ), 4, 5),
        (stat(
            "Running jobs",
            "Jobs started within the lookback that are still in progress (or being cancelled)."
            + EMPTY_NOTE.format("no backup is running right now"),
            "short",
            [target(f"sum({once(f'azure_backup_jobs{running_jobs}', JOBS_KEY)})",
                    "A", "running", instant=True)],
            thresholds=[(None, "blue")], no_value="0",
        ), 4, 5),
        (stat(
            "Vaults failing to refresh",
            "Vaults whose last refresh from Azure failed (404, 403, throttling or server errors after "
            "retries); their entities keep their last known values meanwhile. The exporter's log names "
            "the vault and the Azure error." + EMPTY_NOTE.format("every vault refreshes fine"),
            "short",
            [target(f"count({once(f'azure_backup_vault_up{vault}', VAULT_KEY, 'min')} == 0)", "A", "failing",
                    instant=True)],
            thresholds=[(None, "green"), (1, "red")], no_value="0", colour_mode="background",
        ), 4, 5),
        (row("Entities"), 24, 1),
        (table(
            "Entities by time since last success",
            "Every entity and backup operation, the status of its last job and how long ago its last "
            f"successful job ended, longest first: {shared.success_age_colours} (two missed daily "
            "backups; a weekly Backup (Full) ages up to a week by design). An empty age means no success "
            "within the exporter's lookback. Restores and configuration jobs are left out. Click an "
            "entity for its history.",
            "s",
            [target(f"time() - {last_success}", "A", instant=True, table=True),
             target(once(f"azure_backup_last_job_status{backups}", ENTITY_KEY + ("status",)), "B",
                    instant=True, table=True)],
            transformations=[
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": True, "Value #B": True},
                    "indexByName": {name: index for index, name in enumerate(
                        ("vault", "backup_management_type", "entity", "operation", "status", "Value #A",
                         "job", "subscription_id", "resource_group", "Time", "Value #B"))},
                    "renameByName": {"Value #A": "Since last success", "status": "Last job status",
                                     "backup_management_type": "Type"},
                }},
            ],
            overrides=entity_columns(
                {"matcher": {"id": "byName", "options": "Since last success"}, "properties": [
                    {"id": "unit", "value": "s"},
                    {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
                    {"id": "thresholds", "value": _thresholds(shared.success_age_steps)},
                    {"id": "color", "value": {"mode": "thresholds"}},
                ]},
                {"matcher": {"id": "byName", "options": "Last job status"}, "properties": [
                    {"id": "mappings", "value": _status_text_mappings()},
                    {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                ]},
            ),
            sort_by="Since last success",
        ), 24, 12),
        (table(
            "Jobs running now",
            "The most recent job of each entity and operation when it is still running, with the time "
            "elapsed so far, longest first." + EMPTY_NOTE.format("no backup is running right now"),
            "s",
            [target(f"max {key} (azure_backup_last_job_duration_seconds{entity}) and "
                    f"max {key} (azure_backup_last_job_status{selector(ENTITY_VARS, shared.running)})",
                    "A", instant=True, table=True)],
            transformations=[{"id": "organize", "options": {
                "excludeByName": {"Time": True},
                "renameByName": {"Value": "Running for", "backup_management_type": "Type"},
            }}],
            overrides=entity_columns(),
            sort_by="Running for",
        ), 12, 8),
        (table(
            "Current errors",
            "Entities whose most recent job carries an Azure error code (see Azure Backup's error code "
            "reference)." + EMPTY_NOTE.format("no last job failed"),
            "none",
            [target(f"max {by(ENTITY_KEY + ('error_code',))} (azure_backup_last_job_error_info{entity})",
                    "A", instant=True, table=True)],
            transformations=[{"id": "organize", "options": {
                "excludeByName": {"Time": True, "Value": True},
                "renameByName": {"error_code": "Error code", "backup_management_type": "Type"},
            }}],
            overrides=entity_columns(),
        ), 12, 8),
        (row("Failures"), 24, 1),
        (timeseries(
            "Failed jobs by vault",
            "Jobs seen finishing with status Failed, per vault, in each interval: when did failures "
            "happen, and where?" + EMPTY_NOTE.format("no job failed"),
            "short",
            [target(f"sum by (vault) ({once(failures, ENTITY_KEY)})",
                    "A", "{{vault}}")],
            bars=True, stack=True,
        ), 12, 8),
        (timeseries(
            "Entities in error, by vault and error code",
            "How many entities' most recent job carries each Azure error code, per vault, over time: which "
            "errors are spreading or going away?" + EMPTY_NOTE.format("no last job failed"),
            "short",
            [target(f"count by (vault, error_code) ({once(errors, ENTITY_KEY + ('error_code',))})", "A",
                    "{{vault}} {{error_code}}")],
            stack=True,
        ), 12, 8),
        (row("Jobs"), 24, 1),
        (timeseries(
            "Jobs in the lookback, by status",
            "Jobs started within the exporter's lookback window, by status: the mix of successes, "
            "failures and running jobs over time.",
            "short",
            [target(f"sum by (status) ({once(jobs, JOBS_KEY)})", "A", "{{status}}")],
            stack=True, overrides=_status_overrides(),
        ), 12, 8),
        (timeseries(
            "Jobs finished, by status",
            "Jobs seen finishing in each interval, by status: is the backup window busy, are failures "
            "rising? Jobs already finished at the exporter's start-up are not shown as new.",
            "short",
            [target(f"sum by (status) ({once(finished, ENTITY_KEY + ('status',))})",
                    "A", "{{status}}")],
            bars=True, stack=True, overrides=_status_overrides(),
        ), 12, 8),
        (timeseries(
            "Job duration of finished jobs (p50, p90)",
            "Median and 90th percentile duration of jobs finishing in each interval, per vault and "
            "operation, from the exporter's histogram. Points appear only where jobs finished. "
            "Empty between backup windows, while no job finishes.",
            "s",
            [target(f"histogram_quantile(0.5, {duration_buckets})", "A", "p50 {{vault}} {{operation}}"),
             target(f"histogram_quantile(0.9, {duration_buckets})", "B", "p90 {{vault}} {{operation}}")],
            points=True,
        ), 12, 8),
        (timeseries(
            "Longest last jobs",
            "The ten entities whose most recent job took (or, while running, has taken) the longest: "
            "which backups are slow?",
            "s",
            [target(f"topk(10, max {per_entity} (azure_backup_last_job_duration_seconds{entity}))",
                    "A", "{{vault}} {{entity}} {{operation}}")],
        ), 12, 8),
        (timeseries(
            "Backup data written, by vault",
            "Sum of the sizes Azure reports (VMs' \"Backup Size\", file shares' and databases' "
            "\"Data Transferred (in MB)\") for jobs finishing in each interval, per vault: how "
            "much data do backups move?",
            "bytes",
            [target(f"sum by (vault) ({once(written, ENTITY_KEY)})",
                    "A", "{{vault}}")],
            bars=True, stack=True,
        ), 12, 8),
        (timeseries(
            "Largest last backups",
            "The ten entities whose most recent finished job reported the largest size "
            "(\"Backup Size\", else \"Data Transferred (in MB)\"): "
            "where does the data come from?",
            "bytes",
            [target(f"topk(10, max {per_entity} (azure_backup_last_job_size_bytes{entity}))",
                    "A", "{{vault}} {{entity}} {{operation}}")],
        ), 12, 8),
        (row("Exporter health"), 24, 1),
        (vault_refresh_status(
            "Whether the exporter's last refresh of each vault from Azure succeeded: a red stretch means "
            "that vault's figures were frozen at their last known values.",
            vault,
        ), 12, 8),
        (timeseries(
            "Vault refresh duration",
            "How long the exporter's last refresh of each vault took: slow vaults eat the scrape's time "
            "budget.",
            "s",
            [target(f"max by (vault) (azure_backup_vault_refresh_duration_seconds{vault})", "A",
                    "{{vault}}")],
        ), 12, 8),
        (timeseries(
            "Azure API requests by endpoint and code",
            "Requests the exporter sends to Azure Resource Manager per second, by kind and HTTP status "
            "(retries included): the cost of monitoring.",
            "reqps",
            [target(f"sum by (endpoint, code) ({rate('azure_backup_api_requests_total', job)})",
                    "A", "{{endpoint}} {{code}}")],
            stack=True,
        ), 8, 8),
        (timeseries(
            "Throttled and failed Azure requests",
            "Requests answered 429 (throttled) or 5xx, or that got no answer (timeout, connection error), "
            "per second, by kind: is the exporter hitting Azure's limits, is Azure failing?"
            + EMPTY_NOTE.format("Azure neither throttles nor fails"),
            "reqps",
            [target(f"sum by (endpoint, code) ({rate('azure_backup_api_requests_total', trouble)})",
                    "A", "{{endpoint}} {{code}}")],
            stack=True,
        ), 8, 8),
        (timeseries(
            "Remaining ARM read quota",
            "The last x-ms-ratelimit-remaining-subscription-reads Azure returned, per subscription: how "
            "close are reads to being throttled?",
            "short",
            [target("min by (subscription_id) (azure_backup_api_ratelimit_remaining_reads"
                    f"{selector(TARGET_VARS + ('subscription_id',))})",
                    "A", "{{subscription_id}}")],
        ), 8, 8),
        (timeseries(
            "Unreadable job records",
            "Job records from Azure that the exporter skipped because it could not parse them, per vault, "
            "in each interval: data the dashboards cannot show (the exporter's log says why)."
            + EMPTY_NOTE.format("every record parses"),
            "short",
            [target(f"sum by (vault) ({once(malformed, VAULT_KEY)})", "A",
                    "{{vault}}")],
            bars=True, stack=True,
        ), 8, 6),
        (timeseries(
            "Scrape duration",
            "How long each Prometheus scrape of the exporter takes (refreshing the vaults happens within "
            "it): near the scrape timeout, scrapes start failing.",
            "s",
            [target(f"max by (instance) (scrape_duration_seconds{job})", "A", "{{instance}}")],
        ), 8, 6),
        (stat(
            "Exporter versions",
            "Running exporter instances, by version: are all replicas on the same release?",
            "short",
            [target(f"count by (version) (azure_backup_exporter_build_info{job})", "A", "{{version}}",
                    instant=True)],
            text_mode="value_and_name",
        ), 8, 6),
    ]
    variables = [datasource_variable(), *chained_variables(ENTITY_VARS), rpo_variable(shared.rpo_seconds)]
    return dashboard(
        OVERVIEW_UID, "Azure Backup overview",
        "Azure Backup jobs of Recovery Services vaults, from azure-backup-exporter: is everything protected, "
        "what is broken now, what changed.",
        variables, layout(items), [dashboard_link("Azure Backup entity", ENTITY_UID, "azure-backup-entity")],
    )


# --- entity ---------------------------------------------------------------------------------------------


def entity_dashboard(shared: Shared) -> dict:
    names = ENTITY_VARS + ("operation",)
    # One entity: every label that identifies it takes one value, matched exactly, since names repeat
    # across vaults (a VM in two subscriptions, every SQL server's `master`). Only the scrape target
    # variables stay multi-value, so that replicas reporting the same entity are read together.
    single = tuple(name for name in names if name not in TARGET_VARS)
    one = selector(names, single=single)
    vault = selector(VAULT_VARS, single=single)
    running = selector(names, shared.running, single=single)

    def usual_range(metric: str, unit: str, title: str, description: str, *,
                    finished_only: bool = False) -> Panel:
        """The metric against its 7-day 10th to 90th percentile. `finished_only` leaves out the samples
        taken while a job ran (its elapsed time is no usual value), through a subquery at the panel's
        own resolution."""
        history = f"{metric}{one}[7d]"
        if finished_only:
            history = f"({metric}{one} and azure_backup_last_job_end_timestamp_seconds{one})[7d:$__interval]"
        return timeseries(
            title, description, unit,
            [target(f"max({metric}{one})", "A", "last job"),
             target(f"max(quantile_over_time(0.1, {history}))", "B", "usual low (7-day p10)"),
             target(f"max(quantile_over_time(0.9, {history}))", "C", "usual high (7-day p90)")],
            overrides=[{"matcher": {"id": "byFrameRefID", "options": ref}, "properties": [
                {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                {"id": "color", "value": {"fixedColor": "text", "mode": "fixed"}},
            ]} for ref in ("B", "C")],
        )

    items: list[tuple[Panel, int, int]] = [
        (row("Now"), 24, 1),
        (stat(
            "Last job status",
            "Status of the most recent job of this entity and operation.",
            "none",
            [target(f"max by (status) (azure_backup_last_job_status{one})", "A", "{{status}}", instant=True)],
            text_mode="name", overrides=_status_overrides(), colour_mode="background",
        ), 4, 4),
        (stat(
            "Last success",
            "When the most recent successful (Completed or CompletedWithWarnings) job ended.",
            "dateTimeFromNow",
            [target(f"max(azure_backup_last_success_timestamp_seconds{one}) * 1000", "A", "last success",
                    instant=True)],
        ), 4, 4),
        (stat(
            "Time since last success",
            f"How long ago the most recent successful job ended: {shared.success_age_colours}.",
            "s",
            [target(f"time() - max(azure_backup_last_success_timestamp_seconds{one})", "A", "age",
                    instant=True)],
            thresholds=shared.success_age_steps,
            colour_mode="background",
        ), 4, 4),
        (stat(
            "Last job started",
            "When the most recent job started.",
            "dateTimeFromNow",
            [target(f"max(azure_backup_last_job_start_timestamp_seconds{one}) * 1000", "A", "started",
                    instant=True)],
        ), 4, 4),
        (stat(
            "Last job duration",
            "How long the most recent job took, as Azure reports it (time elapsed so far while it runs).",
            "s",
            [target(f"max(azure_backup_last_job_duration_seconds{one})", "A", "duration", instant=True)],
        ), 4, 4),
        (stat(
            "Last backup size",
            "The size of the most recent finished job that reported one (\"Backup Size\" for VMs, \"Data "
            "Transferred (in MB)\" for file shares and databases).",
            "bytes",
            [target(f"max(azure_backup_last_job_size_bytes{one})", "A", "size", instant=True)],
        ), 4, 4),
        (row("History"), 24, 1),
        (state_timeline(
            "Status history",
            "The status of the most recent job over time, one line per status: when did it start failing, "
            "when did it recover?",
            [target(f"max by (status) (azure_backup_last_job_status{one})", "A", "{{status}}")],
            mappings=[{"type": "value", "options": {"1": {"text": "last job", "index": 0}}}],
            overrides=_status_overrides(),
        ), 24, 6),
        (usual_range(
            "azure_backup_last_job_duration_seconds", "s", "Duration against its usual range",
            "Duration of the most recent job over time (time elapsed so far while it runs), against this "
            "entity's usual range: the 10th and 90th percentile of its finished jobs' durations over the "
            "preceding 7 days. Is it getting slower?",
            finished_only=True,
        ), 12, 8),
        (usual_range(
            "azure_backup_last_job_size_bytes", "bytes", "Size against its usual range",
            "Size of the most recent finished job over time, against this entity's usual range "
            "(10th and 90th percentile over the preceding 7 days): is the data growing?",
        ), 12, 8),
        (timeseries(
            "Jobs finished, by status",
            "Jobs of this entity and operation seen finishing in each interval, by status.",
            "short",
            [target(f"max by (status) ({increase('azure_backup_jobs_finished_total', one)})",
                    "A", "{{status}}")],
            bars=True, stack=True, overrides=_status_overrides(),
        ), 12, 8),
        (timeseries(
            "Backup data written",
            "Sum of the sizes (\"Backup Size\", else \"Data Transferred (in MB)\") of this entity's jobs "
            "finishing in each interval.",
            "bytes",
            [target(f"max({increase('azure_backup_job_size_bytes_total', one)})", "A",
                    "written")],
            bars=True,
        ), 12, 8),
        (row("Errors and collection"), 24, 1),
        (state_timeline(
            "Error codes",
            "The Azure error code carried by the most recent job, over time." +
            EMPTY_NOTE.format("the last job carries no error"),
            [target(f"max by (error_code) (azure_backup_last_job_error_info{one})", "A", "{{error_code}}")],
            mappings=[{"type": "value", "options": {"1": {"text": "error", "color": "red", "index": 0}}}],
            thresholds=[(None, "red")],
        ), 12, 6),
        (stat(
            "Running for",
            "Time elapsed so far when the most recent job is still running."
            + EMPTY_NOTE.format("no job of this entity is running"),
            "s",
            [target(f"max(azure_backup_last_job_duration_seconds{one} and on ({', '.join(ENTITY_KEY)}) "
                    f"azure_backup_last_job_status{running})", "A", "running", instant=True)],
            no_value="not running", thresholds=[(None, "blue")],
        ), 4, 6),
        (vault_refresh_status(
            "Whether the exporter's refresh of this entity's vault succeeded: while it fails, the figures "
            "above stay at their last known values.",
            vault,
        ), 8, 6),
    ]
    variables = [datasource_variable(), *chained_variables(names, single=single)]
    return dashboard(
        ENTITY_UID, "Azure Backup entity",
        "One protected entity and operation over time: status history, duration and size against their "
        "usual range, last success, error codes.",
        variables, layout(items),
        [dashboard_link("Azure Backup overview", OVERVIEW_UID, "azure-backup-overview")],
    )


# --- output ---------------------------------------------------------------------------------------------

def render(vocabulary: Vocabulary) -> dict[str, str]:
    """Each dashboard file's name and its exact content."""
    shared = Shared.of(vocabulary)
    return {
        "azure-backup-overview.json": json.dumps(overview(shared), indent=2, sort_keys=False) + "\n",
        "azure-backup-entity.json": json.dumps(entity_dashboard(shared), indent=2, sort_keys=False) + "\n",
    }


def main(argv: Sequence[str] | None = None) -> int:
    return generate(render, HERE, "python dashboards/build.py", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
