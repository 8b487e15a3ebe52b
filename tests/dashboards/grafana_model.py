"""Reading the committed Grafana dashboards the way Grafana would: panels, queries, template variables.

Why a module: the structure, query and data tests all walk the same JSON and substitute template
variables the same way; one reading keeps them consistent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "dashboards"
DASHBOARD_FILES = tuple(sorted(DASHBOARD_DIR.glob("*.json")))

OVERVIEW_UID = "azure-backup-overview"
ENTITY_UID = "azure-backup-entity"

# The label variables every dashboard offers, in the order each narrows the next (issue 5).
CHAINED_VARIABLES = (
    "job",
    "instance",
    "subscription_id",
    "resource_group",
    "vault",
    "backup_management_type",
    "entity",
)

# Panels that are legitimately empty on a healthy estate (their description says so, "Empty ..."): nothing
# failing, running, throttled or outside its objective, every item protected and healthy, every subscription
# listed, or no job finishing (between backup windows). The
# data test makes the simulated estate unhealthy in each of those ways (and finishes jobs while Prometheus
# watches), so these panels must show data there too.
EMPTY_WHEN_HEALTHY = {
    OVERVIEW_UID: {
        "Outside recovery point objective",
        "Running jobs",
        "Jobs running now",
        "Vaults failing to refresh",
        "Current errors",
        "Failed last jobs by vault",
        "Entities in error, by vault and error code",
        "Throttled and failed Azure requests",
        "Unreadable job records",
        "Job duration of finished jobs (p50, p90)",  # between backup windows, when no job finishes
        "Items needing attention",
        "Subscriptions failing to list",
    },
    ENTITY_UID: {"Error codes", "Running for", "Failures in a row"},
}

LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?P<selector>.+),\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$"
)
VARIABLE_REFERENCE = re.compile(r"\$\{(?P<braced>[A-Za-z0-9_]+)(?::[^}]*)?\}|\$(?P<plain>[A-Za-z0-9_]+)")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard: a panel target or a variable's `label_values` selector."""

    dashboard_uid: str
    where: str  # "panel <title> / <refId>" or "variable <name>"
    expr: str
    instant: bool
    panel: Mapping[str, Any] | None


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def dashboards() -> list[dict[str, Any]]:
    return [load(path) for path in DASHBOARD_FILES]


def by_uid(uid: str) -> dict[str, Any]:
    return next(board for board in dashboards() if board["uid"] == uid)


def panels(board: Mapping[str, Any], *, rows: bool = False) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows; row panels themselves only if `rows`."""
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            if rows:
                yield panel
            yield from panel.get("panels", [])
        else:
            yield panel


def variables(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(board.get("templating", {}).get("list", []))


def variable_query(variable: Mapping[str, Any]) -> str:
    query = variable.get("query", "")
    return query["query"] if isinstance(query, dict) else query


def queries(board: Mapping[str, Any]) -> list[Query]:
    """Every panel target expression and the selector inside every `label_values(...)` variable query."""
    found = []
    for panel in panels(board):
        for target in panel.get("targets", []):
            where = f"panel {panel['title']!r} / {target.get('refId')}"
            found.append(Query(board["uid"], where, target["expr"], bool(target.get("instant")), panel))
    for variable in variables(board):
        if variable.get("type") == "query":
            match = LABEL_VALUES.match(variable_query(variable))
            assert match, f"{board['uid']}: variable {variable['name']} is not label_values(selector, label)"
            found.append(Query(board["uid"], f"variable {variable['name']}", match["selector"], True, None))
    return found


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace `$name` and `${name}` as Grafana does before sending the query; unknown names fail loudly."""

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["plain"]
        if name not in values:
            raise KeyError(f"no value for template variable ${name} in {expr!r}")
        return values[name]

    return VARIABLE_REFERENCE.sub(replace, expr)


def grafana_builtins(*, scrape_interval_seconds: float, step_seconds: float, range_seconds: float) -> dict:
    """Grafana's built-in interval variables for a Prometheus data source with this scrape interval.

    `$__rate_interval` is max(`$__interval` + scrape interval, 4 x scrape interval), as Grafana computes it.
    """
    rate_interval = max(step_seconds + scrape_interval_seconds, 4 * scrape_interval_seconds)
    return {
        "__rate_interval": f"{int(rate_interval * 1000)}ms",
        "__interval": f"{int(step_seconds * 1000)}ms",
        "__range": f"{int(range_seconds)}s",
    }


def all_values(board: Mapping[str, Any], single_values: Mapping[str, str]) -> dict[str, str]:
    """What Grafana puts in place of each variable when multi-value ones are "All" (their `allValue`) and
    single-value ones hold `single_values[name]`; custom variables hold their current value."""
    values = {}
    for variable in variables(board):
        name = variable["name"]
        if variable["type"] == "custom":
            values[name] = variable["current"]["value"]
        elif variable["type"] == "query" and variable.get("includeAll"):
            values[name] = variable["allValue"]
        elif variable["type"] == "query":
            values[name] = single_values[name]
    return values
