"""README.md and docs/ must describe the exporter that really runs: metrics table and options table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from azure_backup_exporter.collector import ENTITY_LABELS, ITEM_LABELS, METRICS, VAULT_LABELS
from azure_backup_exporter.config import OPTIONS, env_name

from .test_collector import exposition

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def table_rows(markdown: str, header: str) -> list[list[str]]:
    """Cells of the rows of the table whose header line starts with `header`."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def labels_of(cell: str) -> set[str]:
    labels = set(re.findall(r"`([a-z_]+)`", cell))
    if "entity labels" in cell:
        labels |= set(ENTITY_LABELS)
    if "item labels" in cell:
        labels |= set(ITEM_LABELS)
    if "vault labels" in cell:
        labels |= set(VAULT_LABELS)
    return labels


def test_readme_metrics_table_matches_the_contract() -> None:
    rows = table_rows(README, "| metric | type | labels |")
    documented = {row[0].strip("`"): (row[1], labels_of(row[2])) for row in rows}
    contract = {spec.name: (spec.kind, set(spec.labels)) for spec in METRICS}
    assert documented == contract


def test_readme_metrics_table_matches_what_the_collector_emits() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    emitted = {}
    for family in text_string_to_metric_families(exposition()):
        name = family.name + "_total" if family.type == "counter" else family.name
        labels = {label for sample in family.samples for label in sample.labels} - {"le"}
        emitted[name] = (family.type, labels)
    rows = table_rows(README, "| metric | type | labels |")
    assert {row[0].strip("`"): (row[1], labels_of(row[2])) for row in rows} == emitted


def test_readme_options_table_lists_every_option_with_its_variable_and_default() -> None:
    rows = table_rows(README, "| option | environment variable |")
    documented = {row[0].strip("`").removeprefix("--"): row for row in rows}
    assert set(documented) == set(OPTIONS)
    for name, option in OPTIONS.items():
        row = documented[name]
        assert row[1] == f"`{env_name(name)}`"
        if option.default not in (None, ()):
            assert row[2] == f"`{option.default}`", name


def test_serve_help_offers_every_option() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("azure-backup-exporter")), "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for name in OPTIONS:
        assert f"--{name}" in result.stdout


def test_docs_describe_every_metric_and_option() -> None:
    metrics_doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    for spec in METRICS:
        assert f"## `{spec.name}`" in metrics_doc, spec.name
    configuration_doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in OPTIONS:
        assert f"`--{name}`" in configuration_doc, name
