"""The /metrics body kept vault by vault: what generate_latest would write, formatting only what changed."""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest
from azure_backup_exporter.collector import render
from azure_backup_exporter.exposition import Exposition
from azure_backup_exporter.service import Exporter
from azure_backup_exporter.snapshot import VaultSnapshot
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from .harness import Sim, scrape
from .test_collector import fixed_snapshots

OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
SUBSCRIPTIONS = {"00000000-0000-0000-0000-000000000001": True}


class Estate:
    """Snapshots that a test changes between scrapes, as the trackers would."""

    def __init__(self) -> None:
        vaults, self.api = fixed_snapshots()
        self.vaults = [replace(snap, version=(1, 1, False)) for snap in vaults]

    def snapshots(self, budget: float | None) -> Sequence[VaultSnapshot]:
        return self.vaults


class _Rendered(Collector):
    def __init__(self, estate: Estate) -> None:
        self._estate = estate

    def collect(self):  # type: ignore[no-untyped-def]
        return render(self._estate.vaults, self._estate.api, subscriptions_up=SUBSCRIPTIONS, shard=2)


def expected(estate: Estate, encode: Callable[[CollectorRegistry], bytes]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Rendered(estate))
    return encode(registry)


def exposition(estate: Estate) -> Exposition:
    return Exposition(
        estate.snapshots, lambda: estate.api, lambda: SUBSCRIPTIONS, 2, CollectorRegistry(auto_describe=False)
    )


@pytest.mark.parametrize(
    ("accept", "encode"),
    [("", generate_latest), (OPENMETRICS, generate_openmetrics)],
    ids=["text", "openmetrics"],
)
def test_the_body_is_what_generate_latest_writes_scrape_after_scrape(
    accept: str, encode: Callable[[CollectorRegistry], bytes]
) -> None:
    estate = Estate()
    body = exposition(estate)
    first, content_type = body.body(accept)
    assert first == expected(estate, encode)
    assert ("openmetrics" in content_type) == bool(accept)
    assert body.formatted_last == len(estate.vaults)
    # nothing changed: nothing formatted, the same text
    assert body.body(accept)[0] == first and body.formatted_last == 0
    # one vault's refresh: its `up` changes (a shared family), not its version
    estate.vaults[0] = replace(estate.vaults[0], up=True, refresh_duration_seconds=9.0)
    assert body.body(accept)[0] == expected(estate, encode) and body.formatted_last == 0


def test_a_vault_whose_snapshot_changed_is_formatted_again_and_only_it() -> None:
    estate = Estate()
    body = exposition(estate)
    body.body("")
    healthy = estate.vaults[1]
    dropped = replace(healthy, entities=healthy.entities[1:], version=(2, 1, False))
    estate.vaults[1] = dropped
    text = body.body("")[0]
    assert body.formatted_last == 1 and text == expected(estate, generate_latest)
    assert b'entity="vm-01",operation="Backup"' not in text
    # a snapshot without a version (a job runs) is formatted at every scrape
    estate.vaults[1] = replace(dropped, version=None)
    body.body("")
    assert body.body("")[0] == expected(estate, generate_latest) and body.formatted_last == 1


def test_a_vault_gone_from_the_estate_is_gone_from_the_body() -> None:
    estate = Estate()
    body = exposition(estate)
    body.body("")
    estate.vaults = estate.vaults[1:]
    text = body.body("")[0]
    assert b'vault="gone"' not in text and text == expected(estate, generate_latest)


def test_metrics_over_http_in_each_format_gzipped_when_asked(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=2)
    exporter = start_exporter(sim, subscriptions=sim.control("estate")["subscriptions"])
    plain = scrape(exporter)
    assert "azure_backup_last_job_status{" in plain and "process_cpu_seconds_total" in plain

    def get(headers: dict[str, str], path: str = "/metrics") -> tuple[bytes, dict[str, str]]:
        request = urllib.request.Request(exporter.url + path, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read(), dict(response.headers)

    body, headers = get({"Accept": OPENMETRICS, "Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and headers["Content-Type"].startswith(
        "application/openmetrics"
    )
    text = gzip.decompress(body).decode()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    assert "# TYPE azure_backup_jobs_finished counter" in text
    head = urllib.request.Request(exporter.url + "/metrics", method="HEAD")
    with urllib.request.urlopen(head, timeout=60) as response:
        assert response.read() == b"" and int(response.headers["Content-Length"]) > 1000
