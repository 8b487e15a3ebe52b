"""The dashboard rules of conventions.md, checked on every committed dashboard file.

A dashboard that needs editing before it works with someone's data source or scrape config goes
unused; these are the rules that make it work as imported.
"""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from grafana_model import (
    CHAINED_VARIABLES,
    DASHBOARD_DIR,
    DASHBOARD_FILES,
    EMPTY_WHEN_HEALTHY,
    ENTITY_UID,
    OVERVIEW_UID,
    REPO,
    by_uid,
    load,
    panels,
    queries,
    variable_query,
    variables,
)
from support.promql import selectors

DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
BOARDS = [pytest.param(load(path), id=path.name) for path in DASHBOARD_FILES]
VARIABLE_IN_TEXT = re.compile(
    r"\$\{(?P<braced>[A-Za-z0-9_]+)(?::(?P<format>[^}]*))?\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
)


def test_both_dashboards_exist_with_stable_uids() -> None:
    assert {path.name for path in DASHBOARD_FILES} == {f"{OVERVIEW_UID}.json", f"{ENTITY_UID}.json"}
    for path in DASHBOARD_FILES:
        assert load(path)["uid"] == path.stem, "the uid is the file name, so links and imports stay stable"


def test_committed_json_is_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(DASHBOARD_DIR / "build.py"), "--check"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("board", BOARDS)
def test_dashboard_settings(board: dict) -> None:
    assert board["editable"] is False
    assert 36 <= board["schemaVersion"] <= 41, "Grafana 10 and 11"
    assert board["title"] and board["description"] and board["tags"]
    assert "id" not in board or board["id"] is None, "an id would clash on import"


@pytest.mark.parametrize("board", BOARDS)
def test_every_panel_uses_the_datasource_variable(board: dict) -> None:
    names = [variable["name"] for variable in variables(board)]
    datasource = variables(board)[0]
    assert names[0] == "datasource"
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    for panel in panels(board):
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
    for variable in variables(board):
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE_REF, variable["name"]


@pytest.mark.parametrize("board", BOARDS)
def test_label_variables_are_chained_and_refresh_on_time_range_change(board: dict) -> None:
    query_variables = [variable for variable in variables(board) if variable["type"] == "query"]
    names = [variable["name"] for variable in query_variables]
    assert tuple(names[: len(CHAINED_VARIABLES)]) == CHAINED_VARIABLES
    for index, variable in enumerate(query_variables):
        assert variable["refresh"] == 2, f"{variable['name']}: refresh on time range change"
        query = variable_query(variable)
        selector = selectors(query.removeprefix("label_values(").rsplit(",", 1)[0])[0]
        narrowed_by = {label for label, _, value in selector.matchers if value == f"${label}"}
        assert narrowed_by == set(names[:index]), f"{variable['name']}: narrowed by every variable before it"
        assert query.rstrip(") ").endswith(variable["name"]), f"{variable['name']} lists its own label"


@pytest.mark.parametrize("board", BOARDS)
def test_every_panel_has_title_description_unit_and_a_place(board: dict) -> None:
    ids, cells = set(), set()
    for panel in panels(board, rows=True):
        assert panel["id"] not in ids, f"duplicate panel id {panel['id']}"
        ids.add(panel["id"])
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["title"].strip(), panel
        assert len(panel.get("description", "")) > 20, f"{panel['title']}: description"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{panel['title']}: unit"


@pytest.mark.parametrize("board", BOARDS)
def test_panel_titles_are_unique(board: dict) -> None:
    titles = [panel["title"] for panel in panels(board)]
    assert sorted(titles) == sorted(set(titles))


@pytest.mark.parametrize("board", BOARDS)
def test_status_panels_colour_by_thresholds_or_value_mappings(board: dict) -> None:
    for panel in panels(board):
        defaults = panel["fieldConfig"]["defaults"]
        if panel["type"] == "stat":
            assert defaults["thresholds"]["steps"] or panel["fieldConfig"]["overrides"], panel["title"]
        if panel["type"] == "state-timeline":
            assert defaults["mappings"], f"{panel['title']}: map values to names and colours"


@pytest.mark.parametrize("board", BOARDS)
def test_rate_and_increase_use_rate_interval_and_counters_appear_only_inside_them(board: dict) -> None:
    for query in queries(board):
        for selector in selectors(query.expr):
            if selector.innermost_function in ("rate", "irate", "increase"):
                assert selector.range == "$__rate_interval", f"{query.where}: {query.expr}"
            is_counter = selector.metric.endswith(("_total", "_bucket", "_count", "_sum"))
            if is_counter:
                assert selector.innermost_function in ("rate", "irate", "increase"), (
                    f"{query.where}: counter {selector.metric} outside rate()/increase()"
                )


@pytest.mark.parametrize("board", BOARDS)
def test_every_panel_selector_is_narrowed_by_the_job_and_instance_variables(board: dict) -> None:
    """So that two exporters (or a test and a production one) in one Prometheus never mix."""
    for query in queries(board):
        if not query.where.startswith("panel"):
            continue
        for selector in selectors(query.expr):
            assert ("job", "=~", "$job") in selector.matchers, f"{query.where}: {selector.metric}"
            assert ("instance", "=~", "$instance") in selector.matchers, f"{query.where}: {selector.metric}"


@pytest.mark.parametrize("board", BOARDS)
def test_job_and_instance_variables_follow_the_dashboard_linter(board: dict) -> None:
    """grafana/dashboard-linter's template-job-rule and template-instance-rule."""
    for variable in variables(board):
        if variable["name"] in ("job", "instance"):
            assert variable["label"].lower() == variable["name"]
            assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".+"


@pytest.mark.parametrize("board", BOARDS)
def test_panels_that_may_be_empty_say_so_and_the_others_do_not(board: dict) -> None:
    expected_empty = EMPTY_WHEN_HEALTHY[board["uid"]]
    titles = {panel["title"] for panel in panels(board)}
    assert expected_empty <= titles
    for panel in panels(board):
        says_empty = "Empty" in panel["description"]
        assert says_empty == (panel["title"] in expected_empty), panel["title"]


def test_the_entities_table_sorts_by_time_since_success_with_colours_and_links_to_the_entity() -> None:
    title = "Entities by time since last success"
    table = next(panel for panel in panels(by_uid(OVERVIEW_UID)) if panel["title"] == title)
    assert table["options"]["sortBy"] == [{"displayName": "Since last success", "desc": True}]
    overrides = {
        o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
        for o in table["fieldConfig"]["overrides"]
    }
    age = overrides["Since last success"]
    assert age["unit"] == "s" and age["custom.cellOptions"]["type"] == "color-background"
    assert [step["color"] for step in age["thresholds"]["steps"]] == ["green", "orange", "red"]
    [link] = overrides["entity"]["links"]
    url = urlsplit(link["url"])
    assert url.path == f"/d/{ENTITY_UID}/azure-backup-entity"
    params = parse_qs(
        url.query.replace("${__url_time_range}", "from=a&to=b")
        .replace("${datasource:queryparam}", "var-datasource=x")
        .replace("${instance:queryparam}", "var-instance=y")
    )
    carried = {name.removeprefix("var-") for name in params if name.startswith("var-")}
    entity_board = by_uid(ENTITY_UID)
    assert carried == {variable["name"] for variable in variables(entity_board)} - {"rpo"}
    assert {"from", "to"} <= set(params), "the link keeps the time range"
    for name in set(CHAINED_VARIABLES + ("operation",)) - {"instance"}:
        assert params[f"var-{name}"] == [f"${{__data.fields.{name}}}"]


def test_the_dashboards_link_to_each_other_keeping_variables_and_time() -> None:
    for uid, other in ((OVERVIEW_UID, ENTITY_UID), (ENTITY_UID, OVERVIEW_UID)):
        [link] = by_uid(uid)["links"]
        assert re.fullmatch(rf"/d/{other}/[a-z-]+", link["url"])
        assert link["includeVars"] and link["keepTime"]


def test_the_entity_dashboard_selects_one_entity_and_operation_exactly() -> None:
    board = by_uid(ENTITY_UID)
    single = {v["name"] for v in variables(board) if v["type"] == "query" and not v["multi"]}
    assert single == {
        "subscription_id",
        "resource_group",
        "vault",
        "backup_management_type",
        "entity",
        "operation",
    }, "names repeat across vaults: every label of the entity takes one value"
    for query in queries(board):
        for selector in selectors(query.expr):
            for _, op, value in selector.matchers:
                if value in {f"${name}" for name in single}:
                    assert op == "=", f"{query.where}: a single value is not regex-escaped by Grafana"


def test_the_docs_list_every_panel_with_its_question() -> None:
    text = (REPO / "docs" / "dashboards.md").read_text()
    overview, entity = text.split("## Entity (`azure-backup-entity`)")
    for board, section in ((by_uid(OVERVIEW_UID), overview), (by_uid(ENTITY_UID), entity)):
        documented = set(re.findall(r"^\| ([^|]+?) \| .+\|$", section, flags=re.MULTILINE))
        missing = {panel["title"] for panel in panels(board)} - documented
        assert not missing, f"docs/dashboards.md lacks {sorted(missing)} for {board['uid']}"


@pytest.mark.parametrize("board", BOARDS)
def test_descriptions_name_only_known_variables_and_show_choices_by_their_text(board: dict) -> None:
    """Grafana fills variables into panel descriptions: `$rpo` would read "93600", `${rpo:text}` "26h"."""
    known = {variable["name"]: variable for variable in variables(board)}
    for panel in panels(board):
        for match in VARIABLE_IN_TEXT.finditer(panel.get("description", "")):
            name = match["braced"] or match["plain"]
            assert name in known, f"{panel['title']}: no variable ${name}"
            if known[name]["type"] == "custom":
                assert match["format"] == "text", f"{panel['title']}: write ${{{name}:text}}"
