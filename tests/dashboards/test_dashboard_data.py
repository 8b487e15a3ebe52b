"""Every panel and variable query returns data from a real Prometheus that scraped the real exporter.

One Prometheus scrapes two estates, each under its own scrape job (the dashboards' `job` variable keeps
them apart). A healthy one: the simulator's default estate without failures, where every panel not
listed in `EMPTY_WHEN_HEALTHY` must show data. And one in trouble: two exporters (`azure-backup-exporter
serve` subprocesses, an HA pair) read the simulator's default estate, plus a few entities added through
the control API so that the estate also has what a healthy one lacks: a running job, a failed job with
an error code, an entity outside its recovery point objective, a job record Azure garbled, a vault the
exporter may not read, a subscription it cannot list, server errors, and jobs finishing while Prometheus
watches (so that `increase()` has something to count). Panels listed in `EMPTY_WHEN_HEALTHY` show
nothing without that trouble; they must show data there too.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from azure_backup_simulator import Simulator, SimulatorConfig
from grafana_model import (
    EMPTY_WHEN_HEALTHY,
    ENTITY_UID,
    OVERVIEW_UID,
    Query,
    all_values,
    by_uid,
    dashboards,
    grafana_builtins,
    panels,
    queries,
    substitute,
    variable_query,
    variables,
)
from support.exporter import ExporterProcess
from support.prometheus import PrometheusServer, ScrapeJob

from mixin.vocabulary import Vocabulary

SCRAPE_INTERVAL_SECONDS = 1
# Two exporters collect the same vaults, as a highly available pair would: every count must still count
# each entity once.
REPLICAS = 2
STEP_SECONDS = 1
LEGEND_LABEL = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
GIB = 1024**3
# A subscription the simulator does not know: its vault listing fails (404), as one without a role would.
UNKNOWN_SUBSCRIPTION = "0ddba11a-0000-4000-8000-000000000000"

# On the entity dashboard, panels that are empty for a healthy entity are checked on an entity in trouble.
ENTITY_IN_TROUBLE = {"Error codes": "dash-failed", "Running for": "dash-running"}


@dataclass
class ScrapedEstate:
    prometheus: PrometheusServer
    start: float
    end: float
    healthy_entity: dict[str, str]  # labels of a default-estate entity whose last backup succeeded
    job: str  # the scrape job of this estate's exporters

    def run(self, query: Query, expr: str) -> list[dict[str, Any]]:
        if query.instant:
            return self.prometheus.query(expr, at=self.end)
        return self.prometheus.query_range(expr, self.start, self.end, STEP_SECONDS)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _post(simulator: Simulator, path: str, body: dict) -> dict:
    response = requests.post(f"{simulator.control_url}/{path}", json=body, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _add_trouble(simulator: Simulator, vault: str, twin_vault: str, revoked_vault: str) -> dict[str, str]:
    """Jobs and faults a healthy estate lacks; returns the names of the jobs to finish later."""
    now = time.time()

    def job(entity: str, status: str, start: float, end: float | None = None, **extra: Any) -> str:
        body = {
            "vault": vault,
            "entity": entity,
            "operation": "Backup",
            "status": status,
            "start_time": _iso(start),
            "end_time": _iso(end) if end else None,
            **extra,
        }
        return _post(simulator, "jobs", body)["name"]

    job("dash-running", "InProgress", now - 600)
    job("dash-stale", "Completed", now - 3 * 86400, now - 3 * 86400 + 1200, backup_size_bytes=GIB)
    job(
        "dash-failed",
        "Failed",
        now - 7200,
        now - 6600,
        error_code=400002,
        error_title="The VM agent is unable to communicate with Azure Backup.",
    )
    job("dash-garbled", "Completed", now - 3600, now - 3000, properties={"startTime": "not a time"})
    # One name in two vaults, as SQL databases named `master` or VMs in two subscriptions are.
    job("dash-twin", "Failed", now - 5400, now - 5000, error_code=400002)
    _post(
        simulator,
        "jobs",
        {
            "vault": twin_vault,
            "entity": "dash-twin",
            "operation": "Backup",
            "status": "Completed",
            "start_time": _iso(now - 5400),
            "end_time": _iso(now - 5000),
            "backup_size_bytes": GIB,
        },
    )
    _post(simulator, "faults", {"revoked_vaults": [revoked_vault]})
    return {
        "dash-finishing": job("dash-finishing", "InProgress", now - 300),
        "dash-fails-later": job("dash-fails-later", "InProgress", now - 300),
    }


def _add_healthy_extras(simulator: Simulator, vault: str) -> None:
    """What a healthy estate has beside daily backups: an old restore and configuration job, a weekly full
    backup between daily differentials. None of these is a recovery point older than its objective."""
    now = time.time()

    def job(entity: str, operation: str, start: float, **extra: Any) -> None:
        _post(
            simulator,
            "jobs",
            {
                "vault": vault,
                "entity": entity,
                "operation": operation,
                "status": "Completed",
                "start_time": _iso(start),
                "end_time": _iso(start + 600),
                **extra,
            },
        )

    job("dash-restored", "Restore", now - 3 * 86400)
    job("dash-configured", "ConfigureBackup", now - 3 * 86400)
    workload = {"backup_management_type": "AzureWorkload", "job_type": "AzureWorkloadJob"}
    job("dash-weekly", "Backup (Full)", now - 3 * 86400, **workload)
    job("dash-weekly", "Backup (Differential)", now - 7200, **workload)


def _warm_up(exporter: ExporterProcess, simulator: Simulator) -> None:
    """Scrape until a refresh fetches no more job details: the cold start is slower than a scrape interval."""

    def detail_requests() -> int:
        counts = requests.get(f"{simulator.control_url}/requests", timeout=10).json()["by_route"]
        return sum(counts.get("get_job", {}).values())

    previous = -1
    for _ in range(10):
        exporter.metrics()
        current = detail_requests()
        if current == previous:
            return
        previous = current
    raise AssertionError("the exporter kept fetching job details after 10 scrapes")


def _healthy_entity(prometheus: PrometheusServer, job: str) -> dict[str, str]:
    """A protected VM whose last backup succeeded: VMs carry every field of the inventory (a health, a
    policy interval), which file shares, MARS and DPM items lack."""
    healthy = prometheus.query(
        f'topk(1, azure_backup_last_job_status{{job="{job}", operation="Backup", status="Completed", '
        'backup_management_type="AzureIaasVM", entity!~"dash-.*"} '
        "and on (vault, entity, operation) azure_backup_last_job_size_bytes "
        "and on (vault, entity) azure_backup_protected_item_backup_interval_seconds)"
    )
    assert healthy, f"the estate of {job} has no entity whose last backup succeeded"
    return healthy[0]["metric"]


@pytest.fixture(scope="module")
def scrapes() -> Iterator[tuple[ScrapedEstate, ScrapedEstate]]:
    """(the estate in trouble, the healthy estate), scraped by one Prometheus over the same minute."""
    with ExitStack() as stack:
        healthy_simulator = stack.enter_context(Simulator(SimulatorConfig(failure_rate=0.0)))
        healthy_estate = requests.get(f"{healthy_simulator.control_url}/estate", timeout=10).json()
        _add_healthy_extras(healthy_simulator, healthy_estate["vaults"][0])
        healthy_exporter = stack.enter_context(
            ExporterProcess.for_simulator(
                healthy_simulator,
                vaults=healthy_estate["vaults"],
                extra_args=["--min-refresh-interval", "0s"],
            )
        )
        simulator = stack.enter_context(Simulator(SimulatorConfig()))
        estate = requests.get(f"{simulator.control_url}/estate", timeout=10).json()
        revoked = _post(
            simulator,
            "vaults",
            {
                "subscription": estate["subscriptions"][0],
                "resource_group": "rg-dashboards",
                "name": "rsv-revoked",
            },
        )["id"]
        to_finish = _add_trouble(simulator, estate["vaults"][0], estate["vaults"][1], revoked)
        replicas = [
            stack.enter_context(
                ExporterProcess.for_simulator(
                    simulator,
                    vaults=[*estate["vaults"], revoked],
                    subscriptions=[UNKNOWN_SUBSCRIPTION],
                    extra_args=["--min-refresh-interval", "0s"],
                )
            )
            for _ in range(REPLICAS)
        ]
        interval = f"{SCRAPE_INTERVAL_SECONDS}s"
        job = ScrapeJob(
            "azure-backup",
            [replica.address for replica in replicas],
            scrape_interval=interval,
            scrape_timeout=interval,
        )
        healthy_job = ScrapeJob(
            "healthy", [healthy_exporter.address], scrape_interval=interval, scrape_timeout=interval
        )
        prometheus = stack.enter_context(PrometheusServer([job, healthy_job], scrape_interval=interval))
        start = time.time()
        for replica in replicas:  # while Prometheus takes its ~5 s to apply its targets
            _warm_up(replica, simulator)
        _warm_up(healthy_exporter, healthy_simulator)
        prometheus.wait_for_targets_up()
        prometheus.wait_for_scrapes(1)

        _post(simulator, "faults", {"server_error_rate": 0.5})
        # A counter's first sample shows no rate: wait until a later scrape saw it grow.
        prometheus.wait_for('increase(azure_backup_api_requests_total{code=~"5.."}[10s]) > 0')
        _post(simulator, "faults", {"server_error_rate": 0.0, "hang_seconds": 5})
        prometheus.wait_for('increase(azure_backup_api_requests_total{code="timeout"}[10s]) > 0')
        _post(simulator, "faults", {"hang_seconds": 0})

        _post(
            simulator,
            f"jobs/{to_finish['dash-finishing']}/finish",
            {"status": "Completed", "backup_size_bytes": 3 * GIB},
        )
        _post(
            simulator,
            f"jobs/{to_finish['dash-fails-later']}/finish",
            {"status": "Failed", "error_code": 100023},
        )
        prometheus.wait_for('azure_backup_last_job_status{entity="dash-fails-later", status="Failed"}')
        prometheus.wait_for('azure_backup_last_job_status{entity="dash-finishing", status="Completed"}')
        prometheus.wait_for_scrapes(2)  # so that a range-query step falls after the jobs finished

        end = time.time()
        yield (
            ScrapedEstate(prometheus, start, end, _healthy_entity(prometheus, job.name), job.name),
            ScrapedEstate(
                prometheus, start, end, _healthy_entity(prometheus, healthy_job.name), healthy_job.name
            ),
        )


@pytest.fixture(scope="module")
def scraped(scrapes: tuple[ScrapedEstate, ScrapedEstate]) -> ScrapedEstate:
    """The default estate with trouble added, read by two exporter replicas."""
    return scrapes[0]


@pytest.fixture(scope="module")
def healthy(scrapes: tuple[ScrapedEstate, ScrapedEstate]) -> ScrapedEstate:
    """The default estate without failures, read by one exporter."""
    return scrapes[1]


def _labels_of(scraped: ScrapedEstate, entity: str, operation: str = "Backup") -> dict[str, str]:
    """The labels of the one entity of that name, as the overview's link to the entity dashboard sets them."""
    found = scraped.prometheus.query(
        f'max without (instance) (azure_backup_last_job_status{{job="{scraped.job}", entity="{entity}", '
        f'operation="{operation}"}})',
        at=scraped.end,
    )
    assert len(found) == 1, f"{len(found)} entities named {entity!r} in {scraped.job}"
    return found[0]["metric"]


def _values_for(board: dict, query: Query, scraped: ScrapedEstate) -> dict[str, str]:
    """What Grafana sends: "All" for multi-value variables, the entity's labels for single-value ones."""
    labels = scraped.healthy_entity
    if query.panel is not None and query.panel["title"] in ENTITY_IN_TROUBLE:
        labels = _labels_of(scraped, ENTITY_IN_TROUBLE[query.panel["title"]])
    values = all_values(board, labels)
    values["job"] = scraped.job  # as Grafana writes one selected value of a multi-value variable
    return values | grafana_builtins(
        scrape_interval_seconds=SCRAPE_INTERVAL_SECONDS,
        step_seconds=STEP_SECONDS,
        range_seconds=scraped.end - scraped.start,
    )


def _finite_values(result: list[dict[str, Any]]) -> list[float]:
    samples = [sample for series in result for sample in series.get("values", [series.get("value")])]
    return [float(value) for _, value in samples if math.isfinite(float(value))]


PANEL_QUERIES = [
    pytest.param(query, id=f"{query.dashboard_uid}: {query.where}")
    for board in dashboards()
    for query in queries(board)
    if query.panel is not None
]


@pytest.mark.parametrize("query", PANEL_QUERIES)
def test_panel_query_returns_data(query: Query, scraped: ScrapedEstate) -> None:
    board = by_uid(query.dashboard_uid)
    expr = substitute(query.expr, _values_for(board, query, scraped))
    result = scraped.run(query, expr)
    assert _finite_values(result), f"{query.where} shows no data:\n{expr}"
    target = next(t for t in query.panel["targets"] if t["expr"] == query.expr)
    for label in LEGEND_LABEL.findall(target.get("legendFormat", "")):
        assert all(label in series["metric"] for series in result), f"{query.where}: no label {label!r}"


HEALTHY_PANEL_QUERIES = [
    param
    for param in PANEL_QUERIES
    if param.values[0].panel["title"] not in EMPTY_WHEN_HEALTHY[param.values[0].dashboard_uid]
]


@pytest.mark.parametrize("query", HEALTHY_PANEL_QUERIES)
def test_panel_query_returns_data_on_a_healthy_estate(query: Query, healthy: ScrapedEstate) -> None:
    """Only the panels whose description says "Empty" may show nothing when nothing is wrong."""
    expr = substitute(query.expr, _values_for(by_uid(query.dashboard_uid), query, healthy))
    assert _finite_values(healthy.run(query, expr)), f"{query.where} shows no data:\n{expr}"


def _outside_items(scraped: ScrapedEstate) -> set[tuple[str, str]]:
    """The (vault, entity) the "Outside recovery point objective" stat counts: its query without `count()`."""
    board = by_uid(OVERVIEW_UID)
    query = next(q for q in queries(board) if q.where == "panel 'Outside recovery point objective' / A")
    assert query.expr.startswith("count(") and query.expr.endswith(")")
    counted = query.expr.removeprefix("count(").removesuffix(")")
    inner = substitute(counted, _values_for(board, query, scraped))
    result = scraped.prometheus.query(inner, at=scraped.end)
    return {(series["metric"]["vault"], series["metric"]["entity"]) for series in result}


def _outside_objective(scraped: ScrapedEstate) -> set[str]:
    """The entities the "Outside recovery point objective" stat counts."""
    return {entity for _, entity in _outside_items(scraped)}


def _per_item(scraped: ScrapedEstate, metric: str, *matchers: str, label: str | None = None) -> dict:
    """The raw inventory series of this estate's job, as {(vault, entity): value, or the `label`'s value}."""
    selector = ", ".join((f'job="{scraped.job}"', *matchers))
    labels = "vault, entity" + (f", {label}" if label else "")
    result = scraped.prometheus.query(f"max by ({labels}) ({metric}{{{selector}}})", at=scraped.end)
    return {
        (s["metric"]["vault"], s["metric"]["entity"]): s["metric"][label] if label else float(s["value"][1])
        for s in result
    }


def test_each_item_is_judged_against_its_own_interval_and_stopped_items_never(
    scraped: ScrapedEstate, healthy: ScrapedEstate
) -> None:
    """An item is outside its objective when its newest recovery point is older than its own policy's
    interval plus the slack (a weekly VM may be days old, a 16-hour policy may not); an item without an
    interval (MARS) against the RPO chosen; an item whose protection is stopped never, however old its
    point. The table's "Objective used" passes 100 % for exactly the items the stat counts."""
    vocabulary = Vocabulary()
    counted_anywhere = set()
    for estate in (scraped, healthy):
        now = estate.end
        points = _per_item(estate, "azure_backup_protected_item_last_recovery_point_timestamp_seconds")
        ages = {item: now - point for item, point in points.items()}
        intervals = _per_item(
            estate, "azure_backup_protected_item_backup_interval_seconds", 'backup_kind="backup"'
        )
        states = _per_item(estate, "azure_backup_protected_item_protection_state", label="state")
        stopped = {item for item, state in states.items() if state in vocabulary.stopped_protection_states}
        outside = _outside_items(estate) & set(states)
        counted_anywhere |= outside

        judged = set(ages) & set(intervals)
        assert len({intervals[item] for item in judged}) > 1, "policies of several intervals"
        expected = {item for item in judged if ages[item] > intervals[item] + vocabulary.rpo_slack_seconds}
        assert outside & judged == expected
        unscheduled = set(ages) - set(intervals) - stopped
        assert outside & unscheduled == {item for item in unscheduled if ages[item] > vocabulary.rpo_seconds}
        assert any(ages.get(item, 0) > vocabulary.rpo_seconds for item in stopped), "an old stopped item"
        assert not outside & stopped

        used = _instant_items(estate, OVERVIEW_UID, "Items by recovery point age", "B")
        assert {item for item, share in used.items() if share > 1} == outside
        assert not set(used) & stopped, "a stopped item has no objective"
    assert counted_anywhere, "some item is outside its objective, or the test proves nothing"


def test_an_entity_whose_protection_a_job_stopped_is_not_outside_its_objective(
    scraped: ScrapedEstate,
) -> None:
    """An item deleted with its data is listed no more; its jobs remain, its last one DisableBackup or
    DeleteBackupData: judged by its jobs it is not missing backups."""
    vocabulary = Vocabulary()
    stopping = "|".join(vocabulary.protection_stopping_operations)
    stopped_by_jobs = {
        (s["metric"]["vault"], s["metric"]["entity"])
        for s in scraped.prometheus.query(
            f'max by (vault, entity) (azure_backup_last_job_status{{job="{scraped.job}", '
            f'operation=~"{stopping}"}}) unless on (vault, entity) azure_backup_protected_item_info',
            at=scraped.end,
        )
    }
    assert stopped_by_jobs, "the estate has an item deleted with its data"
    assert not stopped_by_jobs & _outside_items(scraped)


def test_items_needing_attention_are_those_not_protected_or_not_healthy(scraped: ScrapedEstate) -> None:
    vocabulary = Vocabulary()
    states = _per_item(scraped, "azure_backup_protected_item_protection_state", label="state")
    health = _per_item(scraped, "azure_backup_protected_item_health", label="health")
    expected = {
        item
        for item in states
        if states[item] not in vocabulary.protected_states
        or health.get(item, "Healthy") not in vocabulary.healthy_item_health
    }
    shown = _instant_items(scraped, OVERVIEW_UID, "Items needing attention", "A")
    assert set(shown) == expected
    assert {"IRPending", "ProtectionStopped"} <= {states[item] for item in shown}
    assert set(states) - expected, "protected, healthy items are left out"


def test_vault_defences_show_every_vault_with_a_colour_for_each_value(scraped: ScrapedEstate) -> None:
    """One row per vault whose settings were read, and each value Azure gives (here every value the
    simulator rotates through) is coloured, so a weak setting stands out."""
    board = by_uid(OVERVIEW_UID)
    panel = next(p for p in panels(board) if p["title"] == "Vault defences")
    query = next(q for q in queries(board) if q.where == "panel 'Vault defences' / A")
    expr = substitute(query.expr, _values_for(board, query, scraped))
    rows = scraped.prometheus.query(expr, at=scraped.end)
    vaults = scraped.prometheus.query(
        f'max by (vault) (azure_backup_vault_info{{job="{scraped.job}"}})', at=scraped.end
    )
    assert len(rows) == len(vaults) >= 3
    renames = next(t for t in panel["transformations"] if t["id"] == "organize")["options"]["renameByName"]
    colours = {
        override["matcher"]["options"]: next(
            prop["value"][0]["options"] for prop in override["properties"] if prop["id"] == "mappings"
        )
        for override in panel["fieldConfig"]["overrides"]
        if any(prop["id"] == "mappings" for prop in override["properties"])
    }
    for label in ("soft_delete", "immutability", "multi_user_authorization", "public_network_access"):
        values = {row["metric"][label] for row in rows}
        assert len(values) > 1, f"{label}: the estate rotates its settings"
        assert values <= set(colours[renames[label]]), f"{label}: {values} not all coloured"
    assert colours["Soft delete"]["Disabled"]["color"] == "red"


def test_outside_objective_counts_missed_backups_only(scraped: ScrapedEstate, healthy: ScrapedEstate) -> None:
    """Old restores and configuration jobs are no missed backups, nor is a weekly full backup between daily
    differentials, nor a first backup still running; an old success or only failures are."""
    assert not _outside_objective(healthy) & {"dash-restored", "dash-configured", "dash-weekly"}
    in_trouble = _outside_objective(scraped)
    assert {"dash-stale", "dash-failed"} <= in_trouble
    assert "dash-running" not in in_trouble, "its first backup is still running"


def test_the_entities_table_lists_backup_operations_only(healthy: ScrapedEstate) -> None:
    board = by_uid(OVERVIEW_UID)
    table = next(q for q in queries(board) if q.where == "panel 'Entities by time since last success' / B")
    rows = healthy.run(table, substitute(table.expr, _values_for(board, table, healthy)))
    operations = {(row["metric"]["entity"], row["metric"]["operation"]) for row in rows}
    assert {("dash-weekly", "Backup (Full)"), ("dash-weekly", "Backup (Differential)")} <= operations
    assert not {entity for entity, _ in operations} & {"dash-restored", "dash-configured"}
    assert all(operation.startswith("Backup") for _, operation in operations)


def test_the_trouble_that_empty_panels_wait_for_was_really_there(scraped: ScrapedEstate) -> None:
    """The empty-when-healthy panels pass above only because of the added trouble; check it was seen."""
    prometheus = scraped.prometheus
    assert prometheus.query('azure_backup_vault_up{vault="rsv-revoked"} == 0')
    assert prometheus.query('azure_backup_last_job_error_info{entity="dash-failed", error_code="400002"}')
    assert prometheus.query('azure_backup_last_job_status{entity="dash-running", status="InProgress"}')
    assert prometheus.query('azure_backup_jobs_malformed_total{vault=~".+"} > 0')
    assert prometheus.query(f'azure_backup_subscription_up{{subscription_id="{UNKNOWN_SUBSCRIPTION}"}} == 0')
    assert set(EMPTY_WHEN_HEALTHY) == {board["uid"] for board in dashboards()}


@pytest.mark.parametrize("board", [pytest.param(board, id=board["uid"]) for board in dashboards()])
def test_every_variable_lists_values(board: dict, scraped: ScrapedEstate) -> None:
    values = all_values(board, scraped.healthy_entity) | {"job": scraped.job}
    for variable in variables(board):
        if variable["type"] != "query":
            continue
        selector = variable_query(variable).removeprefix("label_values(").rsplit(",", 1)[0]
        result = scraped.prometheus.query(substitute(selector, values), at=scraped.end)
        listed = {series["metric"].get(variable["name"]) for series in result} - {None}
        assert listed, f"{board['uid']}: variable {variable['name']} lists nothing"
        if board["uid"] == ENTITY_UID and variable["name"] in ("entity", "operation"):
            assert scraped.healthy_entity[variable["name"]] in listed


LINK_FIELD = re.compile(r"\$\{__data\.fields\.([A-Za-z_][A-Za-z0-9_]*)\}")


@pytest.mark.parametrize("query", [q for q in PANEL_QUERIES if q.values[0].panel["type"] == "table"])
def test_table_rows_carry_every_label_their_links_need(query: Query, scraped: ScrapedEstate) -> None:
    board = by_uid(query.dashboard_uid)
    links = [
        link["url"]
        for override in query.panel["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    needed = {name for url in links for name in LINK_FIELD.findall(url)}
    result = scraped.run(query, substitute(query.expr, _values_for(board, query, scraped)))
    for series in result:
        missing = needed - set(series["metric"])
        assert not missing, f"{query.where}: rows lack {sorted(missing)} for the entity link"


def _instant_items(scraped: ScrapedEstate, board_uid: str, title: str, ref_id: str = "A") -> dict:
    """A panel's instant query at the end of the run, as {(vault, entity): value}."""
    board = by_uid(board_uid)
    query = next(q for q in queries(board) if q.where == f"panel {title!r} / {ref_id}")
    expr = substitute(query.expr, _values_for(board, query, scraped))
    return {
        (s["metric"]["vault"], s["metric"]["entity"]): float(s["value"][1])
        for s in scraped.prometheus.query(expr, at=scraped.end)
    }


def _instant(
    scraped: ScrapedEstate, board_uid: str, title: str, ref_id: str = "A", label: str = "entity"
) -> dict[str, float]:
    """A panel's instant query at the end of the run, as {value of `label` or "": value}."""
    board = by_uid(board_uid)
    query = next(q for q in queries(board) if q.where == f"panel {title!r} / {ref_id}")
    expr = substitute(query.expr, _values_for(board, query, scraped))
    return {
        s["metric"].get(label, ""): float(s["value"][1])
        for s in scraped.prometheus.query(expr, at=scraped.end)
    }


def test_the_overview_points_at_the_trouble(scraped: ScrapedEstate) -> None:
    """What an operator would read off the overview after this run."""
    ages = _instant(scraped, OVERVIEW_UID, "Entities by time since last success")
    assert ages["dash-stale"] == pytest.approx(3 * 86400 - 1200, abs=120), "age of the last success"
    assert ages["dash-finishing"] < 120, "a job that just completed is a fresh success"
    assert ages["dash-stale"] > 48 * 3600, "beyond the table's red threshold"
    assert _instant(scraped, OVERVIEW_UID, "Outside recovery point objective")[""] >= 1
    assert _instant(scraped, OVERVIEW_UID, "Jobs running now")["dash-running"] >= 600
    assert _instant(scraped, OVERVIEW_UID, "Vaults failing to refresh")[""] == 1
    errors = scraped.prometheus.query(
        substitute(
            next(q for q in queries(by_uid(OVERVIEW_UID)) if q.where == "panel 'Current errors' / A").expr,
            all_values(by_uid(OVERVIEW_UID), {}),
        ),
        at=scraped.end,
    )
    codes = {s["metric"]["entity"]: s["metric"]["error_code"] for s in errors}
    # error_code is Azure's error name when it gives one (the simulator's errorTitle of a VM error), else the
    # integer: dash-failed was given a sentence as its title
    assert codes["dash-failed"] == "400002"
    assert codes["dash-fails-later"] == "UserErrorGuestAgentStatusUnavailable"


def test_two_replicas_count_each_entity_once(scraped: ScrapedEstate) -> None:
    prometheus = scraped.prometheus
    build_info = prometheus.query(f'azure_backup_exporter_build_info{{job="{scraped.job}"}}')
    instances = sorted({series["metric"]["instance"] for series in build_info})
    assert len(instances) == REPLICAS
    one = f'instance="{instances[0]}"'
    entities = len(prometheus.query(f"azure_backup_last_job_status{{{one}}}", at=scraped.end))
    by_status = _instant(scraped, OVERVIEW_UID, "Entities by status of their last job", label="status")
    assert sum(by_status.values()) == entities
    running_jobs = f'sum(azure_backup_jobs{{{one}, status=~"InProgress|Cancelling"}})'
    [running] = prometheus.query(running_jobs, at=scraped.end)
    assert _instant(scraped, OVERVIEW_UID, "Running jobs")[""] == float(running["value"][1])


def _table_fields(panel: dict, board: dict, scraped: ScrapedEstate) -> set[str]:
    """The columns Grafana builds from a table panel's instant queries: one per label, `Time`, and the
    value, named `Value` for a single query and `Value #<refId>` for several."""
    targets = panel["targets"]
    fields = {"Time"}
    for target in targets:
        query = next(q for q in queries(board) if q.where == f"panel {panel['title']!r} / {target['refId']}")
        result = scraped.run(query, substitute(query.expr, _values_for(board, query, scraped)))
        fields |= {label for series in result for label in series["metric"]}
        fields.add("Value" if len(targets) == 1 else f"Value #{target['refId']}")
    return fields


TABLES = [
    pytest.param(board["uid"], panel["title"], id=f"{board['uid']}: {panel['title']}")
    for board in dashboards()
    for panel in panels(board)
    if panel["type"] == "table"
]


@pytest.mark.parametrize(("board_uid", "title"), TABLES)
def test_every_column_a_table_names_is_in_its_data(
    board_uid: str, title: str, scraped: ScrapedEstate
) -> None:
    """A column the transformations order or rename, or an override colours, that no query returns is a
    blank in Grafana: e.g. a status column after an aggregation dropped the `status` label."""
    board = by_uid(board_uid)
    panel = next(p for p in panels(board) if p["title"] == title)
    fields = _table_fields(panel, board, scraped)
    renames: dict[str, str] = {}
    named: set[str] = set()
    for transformation in panel.get("transformations", []):
        if transformation["id"] == "organize":
            options = transformation["options"]
            renames |= options.get("renameByName", {})
            for key in ("excludeByName", "indexByName", "renameByName"):
                named |= set(options.get(key, {}))
    assert named <= fields, f"{title}: no column {sorted(named - fields)} in {sorted(fields)}"
    shown = {renames.get(name, name) for name in fields}
    matched = {
        override["matcher"]["options"]
        for override in panel["fieldConfig"]["overrides"]
        if override["matcher"]["id"] == "byName"
    }
    assert matched <= shown, f"{title}: overrides for missing columns {sorted(matched - shown)}"


def test_the_entity_dashboard_shows_one_entity_when_its_name_is_in_two_vaults(scraped: ScrapedEstate) -> None:
    """Names repeat across vaults; the entity dashboard must show the one entity it was opened for."""
    board = by_uid(ENTITY_UID)
    twins = scraped.prometheus.query(
        f'max without (instance) (azure_backup_last_job_status{{job="{scraped.job}", entity="dash-twin", '
        'operation="Backup"})',
        at=scraped.end,
    )
    assert {series["metric"]["status"] for series in twins} == {"Completed", "Failed"}
    for twin in twins:
        opened = {name: twin["metric"][name] for name in twin["metric"] if name != "status"}
        values = all_values(board, opened) | {"job": scraped.job}
        query = next(q for q in queries(board) if q.where == "panel 'Last job status' / A")
        shown = scraped.prometheus.query(substitute(query.expr, values), at=scraped.end)
        assert [series["metric"]["status"] for series in shown] == [twin["metric"]["status"]], opened["vault"]


def test_failed_requests_panel_shows_server_errors_and_requests_that_got_no_answer(
    scraped: ScrapedEstate,
) -> None:
    board = by_uid(OVERVIEW_UID)
    query = next(q for q in queries(board) if q.where == "panel 'Throttled and failed Azure requests' / A")
    result = scraped.run(query, substitute(query.expr, _values_for(board, query, scraped)))
    shown = {
        series["metric"]["code"]
        for series in result
        if any(float(value) > 0 for _, value in series["values"])
    }
    assert {"timeout"} <= shown and any(code.startswith("5") for code in shown), shown


def test_the_usual_duration_is_made_of_finished_jobs_only(scraped: ScrapedEstate) -> None:
    """A running job's elapsed time (0, 1, 2 ... minutes) is no usual duration: it would drag the low edge
    of the range down every day while the backup runs."""
    board = by_uid(ENTITY_UID)
    values = all_values(board, _labels_of(scraped, "dash-running")) | {"job": scraped.job}
    values |= grafana_builtins(
        scrape_interval_seconds=SCRAPE_INTERVAL_SECONDS,
        step_seconds=STEP_SECONDS,
        range_seconds=scraped.end - scraped.start,
    )
    for ref_id in ("A", "B", "C"):
        where = f"panel 'Duration against its usual range' / {ref_id}"
        query = next(q for q in queries(board) if q.where == where)
        shown = _finite_values(scraped.run(query, substitute(query.expr, values)))
        if ref_id == "A":
            assert shown, "the running job's duration so far is shown"
        else:
            assert not shown, f"{ref_id}: a usual range from a job that never finished"


def test_the_entity_dashboard_shows_the_item_s_protection(scraped: ScrapedEstate) -> None:
    """A protected VM: within its objective, a backup interval and no log one. A stopped item: its state
    says so, and it has neither an interval nor an objective."""
    board = by_uid(ENTITY_UID)

    def shown(labels: dict[str, str], title: str) -> list[dict[str, Any]]:
        query = next(q for q in queries(board) if q.where == f"panel {title!r} / A")
        values = all_values(board, labels) | {"job": scraped.job}
        return scraped.prometheus.query(substitute(query.expr, values), at=scraped.end)

    vm = scraped.healthy_entity
    [used] = shown(vm, "Objective used")
    assert 0 < float(used["value"][1]) < 1
    assert {series["metric"]["backup_kind"] for series in shown(vm, "Expected interval")} == {"backup"}
    assert [series["metric"]["state"] for series in shown(vm, "Protection state")] == ["Protected"]

    stopped = scraped.prometheus.query(
        f'max by (entity) (azure_backup_protected_item_protection_state{{job="{scraped.job}", '
        'state="ProtectionStopped"} and on (vault, entity) azure_backup_last_job_status{operation="Backup"})',
        at=scraped.end,
    )
    assert stopped, "the estate has a stopped item with backup jobs"
    labels = _labels_of(scraped, stopped[0]["metric"]["entity"])
    states = [series["metric"]["state"] for series in shown(labels, "Protection state")]
    assert states == ["ProtectionStopped"]
    assert shown(labels, "Recovery point age"), "its recovery points are kept"
    assert not shown(labels, "Objective used") and not shown(labels, "Expected interval")
