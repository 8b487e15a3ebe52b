"""Whatever JSON Azure sends, the parser says "job" or "malformed" and the exposition stays valid.

(a) `parse_job` on any JSON value, and on a real job with a few fields replaced by any JSON value or by
hostile text shaped like a duration, a time or a size: it returns a `Job` or raises `MalformedJob`,
nothing else, and a `Job`'s text encodes as UTF-8 and its numbers are finite.
(b) The whole path, ARM JSON to exposition, for vaults whose ids are hostile too: jobs parsed, snapshots
(the plain dataclasses of `snapshot.py`), `render()`, `generate_latest`: the text parses, every sample
is finite, every entity comes out as it went in (a lone surrogate as U+FFFD); promtool accepts a few.
"""

from __future__ import annotations

import copy
import math
import os
import shutil
import subprocess
from typing import Any

import pytest
from azure_backup_exporter.collector import render
from azure_backup_exporter.jobs import (
    MAX_DURATION_SECONDS,
    MAX_SIZE_BYTES,
    Job,
    MalformedJob,
    VaultRef,
    parse_job,
    utf8_text,
)
from azure_backup_exporter.ledger import VaultLedger
from azure_backup_exporter.snapshot import (
    ApiSnapshot,
    EntityKey,
    EntitySnapshot,
    HistogramSnapshot,
    VaultSnapshot,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

# --- strategies --------------------------------------------------------------------------------------

# st.characters() leaves out lone surrogates, which JSON's "\ud800" produces: they are asked for apart.
text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=12)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
digits = st.integers(0, 10**420).map(str)
two = st.integers(0, 99).map(lambda n: f"{n:02d}")
zone = st.sampled_from(["", "Z", "+00:00", "-14:00", "+14:00", "-99:99", "+2359"])
hostile_text = st.one_of(
    st.builds(lambda d, h, m, s: f"{d}.{h}:{m}:{s}.1234567", digits, two, two, two),
    st.builds(lambda n, unit: f"P{n}{unit}", digits, st.sampled_from(["D", "W", "DT1H", "T1S"])),
    st.builds(lambda n: f"-PT{n}S", digits),
    st.builds(
        lambda y, mo, d, clock, z: f"{y:04d}-{mo}-{d}T{clock}{z}",
        st.integers(0, 9999),
        two,
        two,
        st.sampled_from(["00:00:00", "23:59:59.9999999", "24:00", "23:00:00"]),
        zone,
    ),
    st.builds(lambda n, unit: f"{n} {unit}", digits, st.sampled_from(["B", "KB", "PB", "PiB", "parsec"])),
)
field_values = json_values | hostile_text

BASE_JOB: dict[str, Any] = {
    "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/backupJobs/j1",
    "name": "j1",
    "properties": {
        "jobType": "AzureIaaSVMJob",
        "duration": "00:20:23.0896697",
        "entityFriendlyName": "vm-01",
        "backupManagementType": "AzureIaasVM",
        "operation": "Backup",
        "status": "Failed",
        "startTime": "2026-03-29T14:59:19.0466016Z",
        "endTime": "2026-03-29T15:19:42.1362713Z",
        "errorDetails": [{"errorCode": 510008}],
        "extendedInfo": {"propertyBag": {"Backup Size": "2332 MB"}},
    },
}
PATHS: list[tuple[str | int, ...]] = [
    ("name",),
    ("id",),
    ("properties",),
    *(("properties", key) for key in BASE_JOB["properties"]),
    ("properties", "errorDetails", 0),
    ("properties", "errorDetails", 0, "errorCode"),
    ("properties", "extendedInfo", "propertyBag"),
    ("properties", "extendedInfo", "propertyBag", "Backup Size"),
]


def replaced(changes: list[tuple[tuple[str | int, ...], Any]]) -> dict[str, Any]:
    """The base job with each (path, value) set, where the path still leads somewhere."""
    job = copy.deepcopy(BASE_JOB)
    for path, value in changes:
        parent: Any = job
        for step in path[:-1]:
            parent = parent[step] if isinstance(parent, dict | list) and _has(parent, step) else None
        if isinstance(parent, dict | list) and (isinstance(parent, dict) or _has(parent, path[-1])):
            parent[path[-1]] = value
    return job


def _has(container: dict[str, Any] | list[Any], step: str | int) -> bool:
    if isinstance(container, dict):
        return step in container
    return isinstance(step, int) and step < len(container)


job_records = st.lists(st.tuples(st.sampled_from(PATHS), field_values), min_size=1, max_size=3).map(replaced)
# a few entities and ids, so that jobs meet on one entity and overwrite one another
named_records = st.builds(
    lambda record, entity, name: _named(record, entity, name),
    job_records,
    st.sampled_from(["vm-01", "vm-02", "\ud800", 'db "x"\n\\']),
    st.sampled_from(["j1", "j2", "j3", "j4"]),
)


def _named(record: dict[str, Any], entity: str, name: str) -> dict[str, Any]:
    properties = record.get("properties")
    if isinstance(properties, dict) and properties.get("entityFriendlyName") == "vm-01":
        properties["entityFriendlyName"] = entity
    if record.get("name") == "j1":
        record["name"] = name
    return record


segment = st.text(st.characters() | st.characters(categories=["Cs"]), min_size=1, max_size=8)
vault_ids = st.builds(
    lambda sub, rg, name: (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{name}"
    ),
    segment,
    segment,
    segment,
)
estates = st.lists(st.tuples(vault_ids, st.lists(named_records, max_size=6)), min_size=1, max_size=3)


# --- (a) the parser ----------------------------------------------------------------------------------


def assert_exposable(job: Job) -> None:
    for label in (
        job.job_id,
        job.entity,
        job.backup_management_type,
        job.operation,
        job.status,
        job.job_type,
    ):
        label.encode("utf-8")
    if job.error_code is not None:
        job.error_code.encode("utf-8")
    numbers = (job.start_time, job.end_time, job.duration_seconds, job.finished_at, job.reported_duration)
    assert all(n is None or math.isfinite(n) for n in numbers), job
    assert job.duration_seconds is None or 0 <= job.duration_seconds <= MAX_DURATION_SECONDS
    assert job.size_bytes is None or 0 <= job.size_bytes <= MAX_SIZE_BYTES


def parsed(record: Any) -> Job | None:
    try:
        job = parse_job(record)
    except MalformedJob:
        return None
    assert_exposable(job)
    return job


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_is_a_job_or_malformed(record: Any) -> None:
    parsed(record)


@settings(max_examples=300, deadline=None)
@given(job_records)
def test_a_real_job_with_any_fields_replaced_is_a_job_or_malformed(record: dict[str, Any]) -> None:
    parsed(record)


# --- (b) ARM JSON to exposition ----------------------------------------------------------------------


NOW = 1_800_000_000.0
CENTURY = 100 * 365 * 86400.0  # a lookback that keeps every plausible job


def snapshot_of(vault: VaultRef, records: list[Any]) -> VaultSnapshot:
    """What the exporter holds after one listing of `records`: parsed, folded into a ledger, projected."""
    jobs: dict[str, Job] = {}
    malformed = []
    for record in records:
        try:
            job = parse_job(record)
        except MalformedJob as error:
            malformed.append((None, error))
            continue
        jobs[job.job_id] = job
    ledger = VaultLedger(CENTURY)
    ledger.apply_listing(jobs, malformed, [], NOW)
    return ledger.snapshot(vault, NOW, up=True, refresh_duration_seconds=0.5)


class Fixed(Collector):
    def __init__(self, snapshots: list[VaultSnapshot]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Any:
        return render(self.snapshots, ApiSnapshot({("list_jobs", "200"): 1}, {"s": 12000}))


def exposition(estate: list[tuple[str, list[Any]]]) -> tuple[str, list[VaultSnapshot]]:
    snapshots: dict[tuple[str, str, str], VaultSnapshot] = {}
    for vault_id, records in estate:
        try:
            vault = VaultRef.parse(vault_id)
        except ValueError:
            continue  # as discovery skips a vault with an unexpected id
        snapshots.setdefault(vault.key, snapshot_of(vault, records))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed(list(snapshots.values())))
    return generate_latest(registry).decode("utf-8"), list(snapshots.values())


@settings(max_examples=80, deadline=None)
@given(estates)
def test_any_estate_renders_an_exposition_that_parses(estate: list[tuple[str, list[Any]]]) -> None:
    text, snapshots = exposition(estate)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert all(math.isfinite(s.value) for family in families.values() for s in family.samples)
    shown = {
        (s.labels["vault"], s.labels["entity"]) for s in families["azure_backup_last_job_status"].samples
    }
    assert shown == {(snap.vault.name, entity.key.entity) for snap in snapshots for entity in snap.entities}
    assert {s.labels["vault"] for s in families["azure_backup_vault_up"].samples} == {
        snap.vault.name for snap in snapshots
    }


def test_render_replaces_what_cannot_be_encoded_whatever_built_the_snapshot() -> None:
    """The last guard: a snapshot that did not come through the parser still renders."""
    job = Job("j\ud800", "vm-\udfff", "AzureIaasVM", "Backup", "Completed", "AzureIaaSVMJob", 1.0)
    key = EntityKey(job.backup_management_type, job.entity, job.operation)
    entity = EntitySnapshot(key, job, None, None, None)
    snapshot = VaultSnapshot(
        VaultRef("s", "rg-\ud800", "v"),
        True,
        None,
        (entity,),
        {("AzureIaasVM", "Backup\udc00", "Completed"): 1},
        {("AzureIaasVM", "Backup\udc00"): HistogramSnapshot((1,) + (0,) * 10, 1.0)},
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed([snapshot]))
    text = generate_latest(registry).decode("utf-8")
    assert 'entity="vm-\ufffd"' in text and 'resource_group="rg-\ufffd"' in text
    assert 'operation="Backup\ufffd"' in text
    assert utf8_text("a\ud800b\udfff") == "a\ufffdb\ufffd"


# --- promtool on a handful of samples -----------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    message = "promtool not found on PATH: install Debian 'prometheus' (promtool), or run 'make tools'"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@settings(max_examples=8, deadline=None)
@given(estates)
def test_promtool_accepts_the_exposition_of_hostile_estates(
    promtool: str, estate: list[tuple[str, list[Any]]]
) -> None:
    text, _ = exposition(estate)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr + text
