"""Requests per refresh (cold and warm) and scrape time of the exporter, on the simulator with added latency.

Run: .venv/bin/python bench/exporter_bench.py [--vaults 10 100] [--latency-ms 50] [--warm-scrapes 3]

For each estate size it starts a simulator (every fault off but `latency_ms`), points an in-process
exporter at every vault (listed through the subscriptions, as `--subscription` does), and scrapes
`/metrics` over HTTP: once cold, then until no job detail is left to fetch, then `--warm-scrapes` times
with nothing new. It prints the ARM requests each scrape caused (from the simulator's own counts) and
the scrape's wall time. Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from typing import Any

from azure_backup_exporter.config import load_config
from azure_backup_exporter.demo import point_azure_identity_at
from azure_backup_exporter.service import Exporter
from azure_backup_simulator import Simulator, SimulatorConfig

SCRAPE_TIMEOUT_SECONDS = "30"


def control(sim: Simulator, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{sim.control_url}/{path}", data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def counts(sim: Simulator) -> dict[str, int]:
    """Requests by route (token requests left out), plus how many of them were answered 429."""
    by_route = control(sim, "requests")["by_route"]
    found = {route: sum(codes.values()) for route, codes in by_route.items() if route != "token"}
    throttled = sum(codes.get("429", 0) for route, codes in by_route.items() if route != "token")
    return found | ({"of which 429": throttled} if throttled else {})


def scrape(exporter: Exporter) -> float:
    request = urllib.request.Request(
        f"{exporter.url}/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": SCRAPE_TIMEOUT_SECONDS}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return time.perf_counter() - started


def measured_scrape(sim: Simulator, exporter: Exporter) -> tuple[float, dict[str, int]]:
    control(sim, "reset", {})
    control(sim, "faults", {"latency_ms": LATENCY_MS})
    seconds = scrape(exporter)
    return seconds, counts(sim)


def line(label: str, seconds: float, requests: dict[str, int], vaults: int) -> str:
    total = sum(n for route, n in requests.items() if route != "of which 429")
    parts = ", ".join(f"{route} {n}" for route, n in sorted(requests.items()))
    per_vault = total / vaults
    return f"  {label:<14} {seconds:7.2f} s  {total:5d} requests ({per_vault:.1f}/vault: {parts or 'none'})"


def bench(vaults: int, warm_scrapes: int, concurrency: str) -> None:
    sim = Simulator(
        SimulatorConfig(seed=7, subscriptions=2, vaults=vaults, faults={"latency_ms": LATENCY_MS})
    ).start()
    try:
        point_azure_identity_at(sim.identity_endpoint, sim.identity_header)
        subscriptions = control(sim, "estate")["subscriptions"]
        config = load_config(
            {
                "web.listen-address": "127.0.0.1:0",
                "arm-endpoint": sim.arm_endpoint,
                "subscription": subscriptions,
                "min-refresh-interval": "0s",
                "max-concurrency": concurrency,
            },
            {},
        )
        with Exporter(config) as exporter:
            print(f"{vaults} vaults, {LATENCY_MS} ms latency, max-concurrency {concurrency}:")
            seconds, requests = measured_scrape(sim, exporter)
            print(line("cold", seconds, requests, vaults))
            catch_up = 0
            while requests.get("get_job", 0) and catch_up < 50:
                catch_up += 1
                seconds, requests = measured_scrape(sim, exporter)
                print(line(f"catch-up {catch_up}", seconds, requests, vaults))
            for n in range(1, warm_scrapes + 1):
                seconds, requests = measured_scrape(sim, exporter)
                print(line(f"warm {n}", seconds, requests, vaults))
    finally:
        sim.stop()


LATENCY_MS = 50


def main() -> None:
    global LATENCY_MS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vaults", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--warm-scrapes", type=int, default=3)
    parser.add_argument("--max-concurrency", default="8")
    args = parser.parse_args()
    LATENCY_MS = args.latency_ms
    for name in [n for n in os.environ if n.startswith("AZURE_BACKUP_EXPORTER_")]:
        del os.environ[name]
    for vaults in args.vaults:
        bench(vaults, args.warm_scrapes, args.max_concurrency)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
