"""`jobs list` over 100 vaults: one round of concurrent requests vs one vault after the other.

Runs the simulator (100 vaults, 50 ms added latency) and times `tracking.fetch.list_jobs` (what
`azure-backup-exporter jobs list` runs) over the last 24 h, with --max-concurrency 100 (the default)
and 1. Prints one line per run. `.venv/bin/python bench/jobs_cli_bench.py`
"""

from __future__ import annotations

import json
import os
import time
import urllib.request

from azure_backup_exporter.azure import ApiStats, ArmClient
from azure_backup_exporter.demo import AZURE_CREDENTIAL_VARIABLES
from azure_backup_exporter.service import default_credential
from azure_backup_exporter.tracking import fetch
from azure_backup_simulator import Simulator, SimulatorConfig

VAULTS, LATENCY_MS = 100, 50


def main() -> None:
    config = SimulatorConfig(
        seed=7, subscriptions=2, vaults=VAULTS, throttle_capacity=100_000, faults={"latency_ms": LATENCY_MS}
    )
    with Simulator(config) as sim:
        for name in AZURE_CREDENTIAL_VARIABLES:
            os.environ.pop(name, None)
        os.environ["IDENTITY_ENDPOINT"], os.environ["IDENTITY_HEADER"] = (
            sim.identity_endpoint,
            sim.identity_header,
        )
        client = ArmClient(
            default_credential(), sim.arm_endpoint, "https://management.azure.com/.default", ApiStats()
        )
        estate = json.load(urllib.request.urlopen(sim.control_url + "/estate"))
        vaults, _ = fetch.discover_vaults(client, [], estate["subscriptions"], time.monotonic() + 60, 8)
        for concurrency in (100, 8, 1):
            started = time.monotonic()
            listing = fetch.list_jobs(
                client, vaults, fetch.JobFilters(86400), time.time(), time.monotonic() + 300, concurrency
            )
            took = time.monotonic() - started
            print(
                f"{len(vaults)} vaults, {LATENCY_MS} ms latency, --max-concurrency {concurrency}: "
                f"{took:.2f} s, {len(listing.views)} jobs, {len(listing.failures)} failures"
            )


if __name__ == "__main__":
    main()
