"""What the protection inventory costs in ARM requests, at the default intervals and a 60 s scrape interval.

Run: .venv/bin/python bench/inventory_cost.py [--vaults 20] [--minutes 120]

It starts a simulator and an in-process exporter (defaults: `--inventory-interval 15m`,
`--vault-list-interval 30m`), once with the vaults discovered by `--subscription` and once given with
`--vault`, and scrapes `/metrics` once per simulated minute for `--minutes` minutes: between scrapes the
simulator's clock and the exporter's clock move on 60 s (no real waiting). It prints the ARM requests
by kind (from the simulator's own counts), the inventory's requests per vault per scrape, and how many
scrapes sent nothing but one `list_jobs` per vault. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from datetime import datetime, timezone
from typing import Any

from azure_backup_exporter.config import load_config
from azure_backup_exporter.demo import point_azure_identity_at
from azure_backup_exporter.service import Exporter
from azure_backup_simulator import Simulator, SimulatorConfig

INVENTORY_ROUTES = ("list_protected_items", "list_policies", "get_vault")
START = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)


def control(sim: Simulator, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{sim.control_url}/{path}", data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def requests_by_route(sim: Simulator) -> dict[str, int]:
    by_route = control(sim, "requests")["by_route"]
    return {route: sum(codes.values()) for route, codes in by_route.items() if route != "token"}


class SteppedClock:
    """The exporter's clock: the simulated time of the run, moved on by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def run(vaults: int, minutes: int, discovered: bool) -> dict[str, Any]:
    # tokens live for the whole simulated run: the simulator checks them on its (fast-forwarded) clock
    config = SimulatorConfig(
        seed=5, vaults=vaults, start_time=START, throttle_capacity=100_000, token_lifetime_seconds=30 * 86400
    )
    sim = Simulator(config).start()
    try:
        point_azure_identity_at(sim.identity_endpoint, sim.identity_header)
        clock = SteppedClock(START.timestamp())
        options: dict[str, Any] = {
            "web.listen-address": "127.0.0.1:0",
            "arm-endpoint": sim.arm_endpoint,
            "min-refresh-interval": "0s",
            "scrape-timeout": "30s",
        }
        if discovered:
            options["subscription"] = list(sim.estate.subscriptions)
        else:
            estate = control(sim, "estate")
            options["vault"] = list(estate["vaults"])
        with Exporter(load_config(options, {}), clock=clock) as exporter:
            totals: dict[str, int] = {}
            only_list_jobs = 0
            for minute in range(minutes):
                control(sim, "reset", {})
                request = urllib.request.Request(
                    f"{exporter.url}/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "30"}
                )
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                counts = requests_by_route(sim)
                for route, count in counts.items():
                    totals[route] = totals.get(route, 0) + count
                if minute > 0 and counts == {"list_jobs": vaults}:
                    only_list_jobs += 1
                clock.now += 60.0
                control(sim, "clock", {"advance_seconds": 60})
        inventory = sum(totals.get(route, 0) for route in INVENTORY_ROUTES)
        return {
            "totals": totals,
            "inventory_per_vault_per_scrape": inventory / (vaults * minutes),
            "scrapes_with_only_list_jobs": only_list_jobs,
        }
    finally:
        sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vaults", type=int, default=20)
    parser.add_argument("--minutes", type=int, default=120)
    args = parser.parse_args()
    os.environ.pop("AZURE_CLIENT_ID", None)
    print(f"{args.vaults} vaults, {args.minutes} scrapes one simulated minute apart, default intervals")
    print(
        "| vaults given by | requests by kind over the run | inventory requests per vault per scrape "
        "| scrapes sending only one list_jobs per vault |"
    )
    print("|---|---|---|---|")
    for discovered in (True, False):
        result = run(args.vaults, args.minutes, discovered)
        kinds = ", ".join(f"{route} {count}" for route, count in sorted(result["totals"].items()))
        print(
            f"| {'--subscription' if discovered else '--vault'} | {kinds} "
            f"| {result['inventory_per_vault_per_scrape']:.3f} "
            f"| {result['scrapes_with_only_list_jobs']} of {args.minutes - 1} |"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
