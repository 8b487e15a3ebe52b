"""Helpers shared by the exporter tests: HTTP to the simulator's control API and to `/metrics`."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from azure_backup_exporter.service import Exporter
from azure_backup_simulator import Simulator
from prometheus_client.parser import text_string_to_metric_families


def http(
    url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    if data:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, dict(response.headers), response.read()


class Sim:
    """A running simulator plus shortcuts to its control API."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def control(self, path: str, body: Any = None) -> Any:
        return json.loads(http(f"{self.simulator.control_url}/{path}", body)[2])

    def add_vault(self, name: str, subscription: str | None = None, resource_group: str = "rg-test") -> str:
        subscription = subscription or self.control("estate")["subscriptions"][0]
        body = {"subscription": subscription, "resource_group": resource_group, "name": name}
        return str(self.control("vaults", body)["id"])

    def add_job(self, vault: str, entity: str, status: str = "Completed", **fields: Any) -> dict[str, Any]:
        body = {"vault": vault, "entity": entity, "operation": "Backup", "status": status, **fields}
        return dict(self.control("jobs", body))

    def requests(self) -> dict[str, dict[str, int]]:
        return dict(self.control("requests")["by_route"])

    def reset_counts(self) -> None:
        self.control("reset", {})


def scrape(exporter: Exporter, headers: dict[str, str] | None = None) -> str:
    status, _, body = http(f"{exporter.url}/metrics", headers=headers)
    assert status == 200
    return body.decode()


Sample = tuple[dict[str, str], float]


def samples(text: str) -> dict[str, list[Sample]]:
    """Samples by sample name (counters under their `_total` name)."""
    found: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    matching = [
        v for lab, v in samples(text).get(name, []) if all(lab.get(k) == w for k, w in labels.items())
    ]
    assert len(matching) <= 1, f"{name}{labels} matches {len(matching)} series"
    return matching[0] if matching else None
