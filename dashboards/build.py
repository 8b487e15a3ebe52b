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
# The aggregates over an exporter's vaults (jobs by kind): `shard` keeps shards apart, replicas merge.
KIND_KEY = ("job", "shard", "backup_management_type", "operation")
# One protected item of the inventory: the entity without an operation. Item and job series join on it.
ITEM_KEY = VAULT_KEY + ("backup_management_type", "entity")



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
    rpo_slack_seconds: int  # an item is outside its objective past its own interval plus this
    stopped: str  # protection stopped on purpose: no recovery point is expected
    not_protected: str
    not_healthy: str
    stopping: str  # jobs after which an entity's protection is stopped (DisableBackup, DeleteBackupData)

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
            rpo_slack_seconds=vocabulary.rpo_slack_seconds,
            stopped=f"state=~{promql_string(alternatives(vocabulary.stopped_protection_states))}",
            not_protected=f"state!~{promql_string(alternatives(vocabulary.protected_states))}",
            not_healthy=f"health!~{promql_string(alternatives(vocabulary.healthy_item_health))}",
            stopping=f"operation=~{promql_string(alternatives(vocabulary.protection_stopping_operations))}",
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

# An item's `protectionState`: green while scheduled backups run, orange when stopped or paused on purpose,
# red when Azure reports an error.
PROTECTION_STATE_COLOURS = {
    "Protected": "green",
    "Healthy": "green",
    "IRPending": "blue",
    "ProtectionStopped": "orange",
    "ProtectionPaused": "orange",
    "ProtectionError": "red",
    "BackupsSuspended": "red",
    "Invalid": "red",
}
# VMs' `healthStatus` and workloads' `protectedItemHealthStatus`.
HEALTH_COLOURS = {
    "Passed": "green",
    "Healthy": "green",
    "IRPending": "blue",
    "ActionSuggested": "yellow",
    "ActionRequired": "red",
    "Unhealthy": "red",
    "NotReachable": "red",
    "Invalid": "red",
}
# `lastBackupStatus`: a job status for VMs and file shares, a health word for workloads.
LAST_BACKUP_COLOURS = {**STATUS_COLOURS, "Healthy": "green", "IRPending": "blue", "Unhealthy": "red"}

# The vault settings that stand between an attacker (or a slip) and the backup data, strongest green,
# weakest orange or red, as Azure's security guidance ranks them: soft delete that cannot be turned off
# (AlwaysON), locked immutability, multi-user authorization, no public network access, and a copy of the
# data in another region. Columns of the "Vault defences" table: (label, title, {value: colour}).
VAULT_DEFENCES = (
    ("soft_delete", "Soft delete", {"AlwaysON": "green", "Enabled": "yellow", "Disabled": "red"}),
    ("enhanced_security", "Enhanced security",
     {"AlwaysON": "green", "Enabled": "green", "Disabled": "red"}),
    ("immutability", "Immutability", {"Locked": "green", "Unlocked": "yellow", "Disabled": "orange"}),
    ("multi_user_authorization", "Multi-user authorization", {"Enabled": "green", "Disabled": "orange"}),
    ("public_network_access", "Public network access", {"Disabled": "green", "Enabled": "orange"}),
)
VAULT_SETTINGS = (
    ("storage_redundancy", "Storage redundancy",
     {"GeoRedundant": "green", "ZoneRedundant": "yellow", "LocallyRedundant": "orange"}),
    ("cross_region_restore", "Cross-region restore", {"Enabled": "green", "Disabled": "yellow"}),
)

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


def _status_overrides(colours: dict[str, str] = STATUS_COLOURS) -> list[dict]:
    """Series named after a value (a status, a state) in that value's colour."""
    return [
        {
            "matcher": {"id": "byName", "options": status},
            "properties": [{"id": "color", "value": {"fixedColor": colour, "mode": "fixed"}}],
        }
        for status, colour in colours.items()
    ]


def _status_text_mappings(colours: dict[str, str] = STATUS_COLOURS) -> list[dict]:
    """Table cells holding a value (a status, a setting) in that value's colour; empty ones say so."""
    return [
        {
            "type": "value",
            "options": {
                status: {"color": colour, "index": index}
                for index, (status, colour) in enumerate(colours.items())
            },
        },
        {"type": "special", "options": {"match": "empty", "result": {"text": "not reported", "index": 0}}},
    ]


def coloured_text(column: str, colours: dict[str, str]) -> dict:
    """An override colouring the text of `column` by its value."""
    return {"matcher": {"id": "byName", "options": column}, "properties": [
        {"id": "mappings", "value": _status_text_mappings(colours)},
        {"id": "custom.cellOptions", "value": {"type": "color-text"}},
    ]}


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


def vault_refresh_status(description: str, matchers: str, *, title: str = "Vault refresh status",
                         metric: str = "azure_backup_vault_up") -> Panel:
    """Per vault, whether the exporter's last refresh (or inventory reading) from Azure succeeded (red:
    failing, green: ok)."""
    return state_timeline(
        title,
        description,
        [target(f"min by (vault) ({metric}{matchers})", "A", "{{vault}}")],
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


def entity_link(key: Sequence[str] = ENTITY_KEY) -> dict:
    """A data link from a table row to the entity dashboard, carrying datasource, time and the row's `key`
    labels."""
    params = "&".join(["${instance:queryparam}"]
                      + [f"var-{label}=${{__data.fields.{label}}}" for label in key])
    operation = " (${__data.fields.operation})" if "operation" in key else ""
    return {
        "title": f"Open ${{__data.fields.entity}}{operation} in the entity dashboard",
        "url": f"/d/{ENTITY_UID}/azure-backup-entity"
               f"?${{datasource:queryparam}}&{params}&${{__url_time_range}}",
    }


def item_columns(*overrides: dict) -> list[dict]:
    """Overrides of a table with a row per protected item: as `entity_columns`, the entity linking to the
    entity dashboard without an operation (it opens on the item's first one)."""
    return hide_columns("job", "subscription_id", "resource_group") + [
        *overrides,
        {"matcher": {"id": "byName", "options": "entity"}, "properties": [
            {"id": "links", "value": [entity_link(ITEM_KEY)]},
        ]},
    ]


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
        "description": "The recovery point objective of items without a policy interval (MARS, DPM) and of "
                       "entities the inventory does not list; other items are judged by their own interval.",
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


# --- the protection inventory ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Items:
    """PromQL of the protection inventory, one series per item (ITEM_KEY), for the items `matchers` select.

    Why here: the overview counts and lists what the entity dashboard shows for one item; the recovery
    point objective must be the same rule on both. An item is outside its objective when its newest
    recovery point is older than its own policy interval plus the slack; an item without an interval
    (MARS and DPM items list no policy) is judged against `fallback` instead; an item whose protection
    is stopped on purpose never is.
    """

    age: str  # seconds since the newest recovery point
    interval: str  # the item's own longest gap between scheduled recovery points (not log backups)
    objective_used: str  # age / (interval + slack), or age / fallback; stopped items left out
    outside: str  # the age of items outside their objective
    info: str  # every listed item, its policy as a label

    @classmethod
    def of(cls, shared: Shared, matchers: str, with_label: Any, fallback: str) -> Items:
        """`with_label(*fixed)` is `matchers` with more label matchers; `fallback` the objective (a number
        or a variable) of items without an interval."""
        key, on = by(ITEM_KEY), f"on ({', '.join(ITEM_KEY)})"
        point = f"max {key} (azure_backup_protected_item_last_recovery_point_timestamp_seconds{matchers})"
        age = f"(time() - {point})"
        scheduled = with_label('backup_kind="backup"')
        interval = f"max {key} (azure_backup_protected_item_backup_interval_seconds{scheduled})"
        allowed = f"({interval} + {shared.rpo_slack_seconds})"
        stopped = f"azure_backup_protected_item_protection_state{with_label(shared.stopped)}"
        return cls(
            age=age,
            interval=interval,
            objective_used=f"({age} / {allowed} or {age} / {fallback}) unless {on} {stopped}",
            outside=(f"(({age} > {allowed}) or (({age} unless {on} {interval}) > {fallback})) "
                     f"unless {on} {stopped}"),
            info=f"max {by(ITEM_KEY + ('policy',))} (azure_backup_protected_item_info{matchers})",
        )


# Colours of the share of its objective an item's recovery point age uses: past 100 % it is outside.
OBJECTIVE_USED_STEPS: list[tuple[float | None, str]] = [(None, "green"), (1, "orange"), (2, "red")]


def objective_used_override(column: str) -> dict:
    return {"matcher": {"id": "byName", "options": column}, "properties": [
        {"id": "unit", "value": "percentunit"},
        {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
        {"id": "thresholds", "value": _thresholds(OBJECTIVE_USED_STEPS)},
        {"id": "color", "value": {"mode": "thresholds"}},
    ]}


def unit_override(column: str, unit: str) -> dict:
    return {"matcher": {"id": "byName", "options": column}, "properties": [{"id": "unit", "value": unit}]}


# --- overview -------------------------------------------------------------------------------------------

EMPTY_NOTE = " Empty (or 0) when {}, which is the healthy state."


def overview(shared: Shared) -> dict:
    entity = selector(ENTITY_VARS)
    vault = selector(VAULT_VARS)
    key = by(ENTITY_KEY)
    backups = selector(ENTITY_VARS, shared.backups)
    # An entity's last success: its item's newest recovery point, put on each of its backup operations; for an
    # entity the inventory does not list, the end of its newest successful job (the exporter gives one or
    # the other, never both).
    item_join = ", ".join(TARGET_VARS + ITEM_KEY[1:])
    point_per_operation = (
        f"max {key} (azure_backup_protected_item_last_recovery_point_timestamp_seconds{entity} "
        f"+ on ({item_join}) group_right () (azure_backup_last_job_status{backups} * 0))")
    last_success = (f"({point_per_operation} or max {key} "
                    f"(azure_backup_last_success_timestamp_seconds{backups}))")
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
    kinds = selector(TARGET_VARS + ("backup_management_type",))
    finished = increase("azure_backup_jobs_finished_total", kinds)
    written = increase("azure_backup_job_size_bytes_total", vault)
    malformed = increase("azure_backup_jobs_malformed_total", vault)
    jobs = f"azure_backup_jobs{kinds}"
    statuses = once(f"azure_backup_last_job_status{entity}", ENTITY_KEY + ("status",))
    bucket_increase = increase("azure_backup_job_duration_seconds_bucket", kinds)
    duration_buckets = (f"sum by (le, backup_management_type, operation) "
                        f"({once(bucket_increase, KIND_KEY + ('le',))})")
    protected = Items.of(shared, entity, lambda *fixed: selector(ENTITY_VARS, *fixed), "$rpo")
    # Entities of no listed item (the inventory turned off or not readable yet, vault-level jobs) are
    # judged by their jobs, as before the inventory: the newest successful backup job against $rpo, unless
    # a job stopped their protection after it (an item deleted with its data is listed no more).
    stopping = selector(ENTITY_VARS, shared.stopping)
    stop = f"max {protected_key} (azure_backup_last_job_start_timestamp_seconds{stopping})"
    stopped_by_job = f"({stop} > {newest_point} or {stop} unless {newest_point})"
    jobs_outside = (f"((time() - {newest_point} > $rpo) or ({backed_up} unless {newest_point})) "
                    f"unless on ({', '.join(ITEM_KEY)}) (azure_backup_protected_item_info{entity} "
                    f"or {stopped_by_job})")
    not_protected = selector(ENTITY_VARS, shared.not_protected)
    not_healthy = selector(ENTITY_VARS, shared.not_healthy)
    needs_attention = (f"(azure_backup_protected_item_protection_state{not_protected}"
                       f" or azure_backup_protected_item_health{not_healthy})")
    item_counts = once(f"azure_backup_protected_item_protection_state{entity}", ITEM_KEY + ("state",))

    def attention(metric: str, label: str) -> str:
        return (f"max {by(ITEM_KEY + (label,))} ({metric}{entity}) "
                f"and on ({', '.join(ITEM_KEY)}) {needs_attention}")

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
            "Protected items whose newest recovery point (from Azure's inventory) is older than their own "
            f"policy's interval plus {_spaced(shared.rpo_slack_seconds)}; items without an interval "
            "(MARS and DPM list no policy) against the objective chosen above (${rpo:text}). Items whose "
            "protection is stopped are not counted. Entities the inventory does not list (it is off or "
            "not read yet) are judged by their jobs against ${rpo:text}: their newest successful backup "
            "job, log backups aside, or finished backup jobs without a success in the exporter's lookback "
            "(a first backup still running is waited for), unless a later job stopped their protection."
            + EMPTY_NOTE.format("every item is within its objective"),
            "short",
            [target(f"count({protected.outside} or ({jobs_outside}))", "A", "outside RPO", instant=True)],
            thresholds=[(None, "green"), (1, "red")], no_value="0", colour_mode="background",
        ), 4, 5),
        (stat(
            "Running jobs",
            "Jobs started within the lookback that are still in progress (or being cancelled)."
            + EMPTY_NOTE.format("no backup is running right now"),
            "short",
            [target(f"count({once(f'azure_backup_last_job_status{running_jobs}', ENTITY_KEY)})",
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
        (row("Protected items"), 24, 1),
        (stat(
            "Items by protection state",
            "How many protected items Azure lists in each protection state: Protected (backups run), "
            "IRPending (first backup not done yet), ProtectionStopped (stopped on purpose, data kept), "
            "ProtectionError...",
            "short",
            [target(f"count by (state) ({item_counts})", "A", "{{state}}", instant=True)],
            overrides=_status_overrides(PROTECTION_STATE_COLOURS), colour_mode="background",
            text_mode="value_and_name",
        ), 12, 5),
        (stat(
            "Items by health",
            "How many protected items Azure reports in each health: Passed or Healthy need nothing; "
            "ActionRequired, Unhealthy and NotReachable mean backups fail (file shares report none).",
            "short",
            [target(f"count by (health) (max {by(ITEM_KEY + ('health',))} "
                    f"(azure_backup_protected_item_health{entity}))", "A", "{{health}}", instant=True)],
            overrides=_status_overrides(HEALTH_COLOURS), colour_mode="background",
            text_mode="value_and_name",
        ), 12, 5),
        (table(
            "Items needing attention",
            "Protected items not in a protected state (first backup pending, stopped, in error) or whose "
            "health is not Passed or Healthy, with Azure's status of their last backup. Click an entity "
            "for its history." + EMPTY_NOTE.format("every item is protected and healthy"),
            "none",
            [target(attention("azure_backup_protected_item_protection_state", "state"), "A",
                    instant=True, table=True),
             target(attention("azure_backup_protected_item_health", "health"), "B", instant=True,
                    table=True),
             target(attention("azure_backup_protected_item_last_backup_status", "status"), "C",
                    instant=True, table=True)],
            transformations=[
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": True, "Value #A": True, "Value #B": True, "Value #C": True},
                    "indexByName": {name: index for index, name in enumerate(
                        ("vault", "backup_management_type", "entity", "state", "health", "status"))},
                    "renameByName": {"backup_management_type": "Type", "state": "Protection state",
                                     "health": "Health", "status": "Last backup"},
                }},
            ],
            overrides=item_columns(
                coloured_text("Protection state", PROTECTION_STATE_COLOURS),
                coloured_text("Health", HEALTH_COLOURS),
                coloured_text("Last backup", LAST_BACKUP_COLOURS),
            ),
        ), 24, 8),
        (table(
            "Items by recovery point age",
            "Every protected item with the age of its newest recovery point (from Azure's inventory) "
            "against its own policy's interval: the objective used is the age divided by the interval "
            f"plus {_spaced(shared.rpo_slack_seconds)} (for items without an interval, MARS and DPM, by "
            "${rpo:text}), orange from 100 % (outside its objective), red from 200 %. Items whose "
            "protection is stopped have none. Highest first; click an entity for its history.",
            "s",
            [target(protected.age, "A", instant=True, table=True),
             target(protected.objective_used, "B", instant=True, table=True),
             target(protected.interval, "C", instant=True, table=True),
             target(protected.info, "D", instant=True, table=True),
             target(f"max {by(ITEM_KEY + ('state',))} (azure_backup_protected_item_protection_state{entity})",
                    "E", instant=True, table=True),
             target(f"max {by(ITEM_KEY + ('status',))} "
                    f"(azure_backup_protected_item_last_backup_status{entity})", "F", instant=True,
                    table=True)],
            transformations=[
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": True, "Value #D": True, "Value #E": True, "Value #F": True},
                    "indexByName": {name: index for index, name in enumerate(
                        ("vault", "backup_management_type", "entity", "policy", "state", "status",
                         "Value #A", "Value #C", "Value #B"))},
                    "renameByName": {"backup_management_type": "Type", "policy": "Policy",
                                     "state": "Protection state", "status": "Last backup",
                                     "Value #A": "Recovery point age", "Value #C": "Expected every",
                                     "Value #B": "Objective used"},
                }},
            ],
            overrides=item_columns(
                objective_used_override("Objective used"),
                coloured_text("Protection state", PROTECTION_STATE_COLOURS),
                coloured_text("Last backup", LAST_BACKUP_COLOURS),
            ),
            sort_by="Objective used",
        ), 24, 12),
        (table(
            "Vault defences",
            "Each vault's settings that protect its backup data from deletion and attack, weakest in orange "
            "or red: soft delete (AlwaysON cannot be turned off), enhanced security, immutability (Locked "
            "cannot be undone), multi-user authorization, public network access, storage redundancy and "
            "cross-region restore. Read from the vault every vault list interval.",
            "none",
            [target(f"max {by(VAULT_KEY + tuple(label for label, _, _ in VAULT_DEFENCES))} "
                    f"(azure_backup_vault_security_info{vault})", "A", instant=True, table=True),
             target(f"max {by(VAULT_KEY + ('location',) + tuple(label for label, _, _ in VAULT_SETTINGS))} "
                    f"(azure_backup_vault_info{vault})", "B", instant=True, table=True)],
            transformations=[
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": True, "Value #A": True, "Value #B": True},
                    "indexByName": {name: index for index, name in enumerate(
                        ("vault", "resource_group", "location",
                         *(label for label, _, _ in VAULT_DEFENCES + VAULT_SETTINGS)))},
                    "renameByName": {"resource_group": "Resource group", "location": "Location",
                                     **{label: title for label, title, _ in VAULT_DEFENCES + VAULT_SETTINGS}},
                }},
            ],
            overrides=hide_columns("job", "subscription_id") + [
                coloured_text(title, colours) for _, title, colours in VAULT_DEFENCES + VAULT_SETTINGS
            ],
        ), 24, 8),
        (row("Entities"), 24, 1),
        (table(
            "Entities by time since last success",
            "Every entity and backup operation, the status of its last job and how long ago its last "
            "success (the item's newest recovery point; for an entity the inventory does not list, the end "
            f"of its last successful job), longest first: {shared.success_age_colours} (two missed daily "
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
            "Failed last jobs by vault",
            "How many entities' most recent job failed, per vault, over time: when did failures start, and "
            "where?" + EMPTY_NOTE.format("no last job failed"),
            "short",
            [target(f"count by (vault) ({once(f'azure_backup_last_job_status{failed}', ENTITY_KEY)})",
                    "A", "{{vault}}")],
            stack=True,
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
            "failures and running jobs over time, in all the vaults the exporter collects (the vault "
            "filters do not apply).",
            "short",
            [target(f"sum by (status) ({once(jobs, KIND_KEY + ('status',))})", "A", "{{status}}")],
            stack=True, overrides=_status_overrides(),
        ), 12, 8),
        (timeseries(
            "Jobs finished, by status",
            "Jobs seen finishing in each interval, by status, in all the vaults the exporter collects (the "
            "vault filters do not apply): is the backup window busy, are failures rising? Jobs already "
            "finished at the exporter's start-up are not shown as new.",
            "short",
            [target(f"sum by (status) ({once(finished, KIND_KEY + ('status',))})",
                    "A", "{{status}}")],
            bars=True, stack=True, overrides=_status_overrides(),
        ), 12, 8),
        (timeseries(
            "Job duration of finished jobs (p50, p90)",
            "Median and 90th percentile duration of jobs finishing in each interval, per management type "
            "and operation in all the vaults the exporter collects, from its histogram. Points appear only "
            "where jobs finished. Empty between backup windows, while no job finishes.",
            "s",
            [target(f"histogram_quantile(0.5, {duration_buckets})", "A",
                    "p50 {{backup_management_type}} {{operation}}"),
             target(f"histogram_quantile(0.9, {duration_buckets})", "B",
                    "p90 {{backup_management_type}} {{operation}}")],
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
            "\"Data Transferred (in MB)\") for backups finishing in each interval, per vault: how "
            "much data do backups move?",
            "bytes",
            [target(f"sum by (vault) ({once(written, VAULT_KEY)})",
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
        (vault_refresh_status(
            "Whether the exporter's last reading of each vault's protection inventory (protected items, "
            "policies) succeeded: a red stretch means the item panels show that vault's last known values.",
            vault, title="Inventory reading status", metric="azure_backup_inventory_up",
        ), 16, 6),
        (stat(
            "Subscriptions failing to list",
            "Subscriptions given with --subscription whose vault list the exporter could not read (no "
            "role, unknown subscription, throttled): vaults created there since go unseen, while the vaults "
            "listed before keep being read. The exporter's log says why."
            + EMPTY_NOTE.format("every subscription lists (or only --vault is used)"),
            "short",
            [target(f"count(min by (job, subscription_id) (azure_backup_subscription_up"
                    f"{selector(TARGET_VARS + ('subscription_id',))}) == 0)", "A", "failing", instant=True)],
            thresholds=[(None, "green"), (1, "red")], no_value="0", colour_mode="background",
        ), 8, 6),
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
        "Azure Backup of Recovery Services vaults (protected items, vault defences, jobs), from "
        "azure-backup-exporter: is everything protected, what is broken now, what changed.",
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
    item = selector(ENTITY_VARS, single=single)
    backup_jobs = selector(ENTITY_VARS, shared.backups, single=single)
    success = (f"(max(azure_backup_protected_item_last_recovery_point_timestamp_seconds{item}) "
               f"or max(azure_backup_last_success_timestamp_seconds{one}))")
    protected = Items.of(shared, item, lambda *fixed: selector(ENTITY_VARS, *fixed, single=single),
                         str(shared.rpo_seconds))

    def usual_range(metric: str, unit: str, title: str, description: str, *,
                    finished_only: bool = False) -> Panel:
        """The metric against its 7-day 10th to 90th percentile. `finished_only` leaves out the samples
        taken while a job ran (its elapsed time is no usual value), through a subquery at the panel's
        own resolution."""
        history = f"{metric}{one}[7d]"
        if finished_only:
            finished = f"{metric}{one} unless ignoring (status) azure_backup_last_job_status{running}"
            history = f"({finished})[7d:$__interval]"
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
        (row("Protected item"), 24, 1),
        (stat(
            "Protection state",
            "The item's protection state in Azure's inventory: Protected (backups run), IRPending (first "
            "backup not done yet), ProtectionStopped (stopped on purpose, data kept), ProtectionError... "
            "No value while Azure's inventory does not list this entity.",
            "none",
            [target(f"max by (state) (azure_backup_protected_item_protection_state{item})", "A", "{{state}}",
                    instant=True)],
            text_mode="name", overrides=_status_overrides(PROTECTION_STATE_COLOURS), colour_mode="background",
        ), 3, 4),
        (stat(
            "Health",
            "The item's health as Azure reports it: Passed or Healthy need nothing; ActionRequired, "
            "Unhealthy and NotReachable mean its backups fail. File shares report none.",
            "none",
            [target(f"max by (health) (azure_backup_protected_item_health{item})", "A", "{{health}}",
                    instant=True)],
            text_mode="name", overrides=_status_overrides(HEALTH_COLOURS), colour_mode="background",
            no_value="not reported",
        ), 3, 4),
        (stat(
            "Policy",
            "The backup policy the item is protected by, as Azure names it (none when protection is "
            "stopped), and the kind of item.",
            "none",
            [target(f"max by (policy, item_type) (azure_backup_protected_item_info{item})", "A",
                    "{{policy}}", instant=True)],
            text_mode="name", thresholds=[(None, "text")],
        ), 3, 4),
        (stat(
            "Expected interval",
            "The longest gap between two scheduled recovery points under the item's policy: `backup` for "
            "full, differential and VM backups, `log` for log backups. None without a schedule (protection "
            "stopped, MARS and DPM items).",
            "s",
            [target(f"max by (backup_kind) (azure_backup_protected_item_backup_interval_seconds{item})",
                    "A", "{{backup_kind}}", instant=True)],
            text_mode="value_and_name", thresholds=[(None, "text")], no_value="no schedule",
        ), 3, 4),
        (stat(
            "Recovery point age",
            "How old the item's newest recovery point is (from Azure's inventory: the last recovery point, "
            "or the last successful backup where Azure gives no point).",
            "s",
            [target(protected.age, "A", "age", instant=True)],
            thresholds=[(None, "text")], no_value="no recovery point",
        ), 3, 4),
        (stat(
            "Objective used",
            "The recovery point age divided by the expected interval plus "
            f"{_spaced(shared.rpo_slack_seconds)} (without an interval, by {_spaced(shared.rpo_seconds)}): "
            "past 100 % (orange) the item is outside its recovery point objective, past 200 % (red) it "
            "missed two. None while protection is stopped.",
            "percentunit",
            [target(protected.objective_used, "A", "objective used", instant=True)],
            thresholds=OBJECTIVE_USED_STEPS, colour_mode="background",
        ), 3, 4),
        (stat(
            "Last backup status",
            "Azure's status of the item's last backup, of any operation (for databases Healthy or "
            "Unhealthy); no value before the first backup.",
            "none",
            [target(f"max by (status) (azure_backup_protected_item_last_backup_status{item})", "A",
                    "{{status}}", instant=True)],
            text_mode="name", overrides=_status_overrides(LAST_BACKUP_COLOURS), colour_mode="background",
        ), 3, 4),
        (stat(
            "Last backup started",
            "When the item's most recent backup job started, successful or not, within the exporter's "
            "lookback.",
            "dateTimeFromNow",
            [target(f"max(azure_backup_last_job_start_timestamp_seconds{backup_jobs}) * 1000", "A",
                    "last backup", instant=True)],
        ), 3, 4),
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
            "The item's newest recovery point; for an entity the inventory does not list, when its most "
            "recent successful (Completed or CompletedWithWarnings) backup job ended.",
            "dateTimeFromNow",
            [target(f"{success} * 1000", "A", "last success", instant=True)],
        ), 4, 4),
        (stat(
            "Time since last success",
            f"How long ago the last success (as in Last success): {shared.success_age_colours}.",
            "s",
            [target(f"time() - {success}", "A", "age", instant=True)],
            thresholds=shared.success_age_steps,
            colour_mode="background",
        ), 4, 4),
        (stat(
            "Last job started",
            "When the most recent job started.",
            "dateTimeFromNow",
            [target(f"max(azure_backup_last_job_start_timestamp_seconds{one}) * 1000", "A", "started",
                    instant=True)],
        ), 3, 4),
        (stat(
            "Last job duration",
            "How long the most recent job took, as Azure reports it (time elapsed so far while it runs).",
            "s",
            [target(f"max(azure_backup_last_job_duration_seconds{one})", "A", "duration", instant=True)],
        ), 3, 4),
        (stat(
            "Last backup size",
            "The size of the most recent finished job that reported one (\"Backup Size\" for VMs, \"Data "
            "Transferred (in MB)\" for file shares and databases).",
            "bytes",
            [target(f"max(azure_backup_last_job_size_bytes{one})", "A", "size", instant=True)],
        ), 3, 4),
        (stat(
            "Failures since last success",
            "Failed jobs of this entity and operation since its last success, within the lookback: 0 once "
            "a job succeeds. Read from Azure's job list at each refresh, so restarts do not reset it.",
            "none",
            [target(f"max(azure_backup_consecutive_failures{one})", "A", "failures", instant=True)],
            thresholds=[(None, "green"), (1, "orange"), (3, "red")],
            colour_mode="background",
        ), 3, 4),
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
            "Failures in a row",
            "Failed jobs of this entity and operation since its last success, over time: when did it start "
            "failing, and how long did it take to recover?" + EMPTY_NOTE.format("no job failed"),
            "short",
            [target(f"max(azure_backup_consecutive_failures{one})", "A", "failures")],
            bars=True,
        ), 12, 8),
        (timeseries(
            "Backup data written in this vault",
            "Sum of the sizes (\"Backup Size\", else \"Data Transferred (in MB)\") of the backups of "
            "this entity's vault finishing in each interval: this entity's share is its size, above.",
            "bytes",
            [target(f"max({increase('azure_backup_job_size_bytes_total', vault)})", "A",
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
        "One protected entity and operation: its policy, recovery point age and protection state, and over "
        "time its status history, duration and size against their usual range, last success, error codes.",
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
