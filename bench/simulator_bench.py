"""Benchmark of the Azure simulator at scale: generation time, memory, and list-page throughput over real
HTTP with concurrent clients. Prints figures; asserts nothing (machines are noisy).

    .venv/bin/python bench/simulator_bench.py                 # 1,000 vaults x 50 items x 7 days
    .venv/bin/python bench/simulator_bench.py --vaults 100 --seconds 3
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests

EXECUTABLE = str(Path(sys.executable).with_name("azure-backup-exporter"))


def rss_megabytes(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def token(identity_endpoint: str, identity_header: str) -> str:
    answer = requests.get(
        identity_endpoint,
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
        headers={"X-IDENTITY-HEADER": identity_header},
        timeout=30,
    )
    return answer.json()["access_token"]


def client_worker(
    arm: str,
    bearer: str,
    vaults: list[str],
    mode: str,
    seconds: float,
    seed: int,
    results: multiprocessing.Queue,
) -> None:
    """Request first pages of random vaults for `seconds` on one keep-alive connection; report
    (pages, jobs, errors). http.client and a byte count instead of requests and json.loads keep the
    client cheap, so that the figures are the simulator's, not the client's."""
    address = urlsplit(arm)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    headers = {"Authorization": f"Bearer {bearer}"}
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    window = (
        f"startTime eq '{(now - timedelta(days=1)).strftime('%Y-%m-%d %I:%M:%S %p')}' and "
        f"endTime eq '{now.strftime('%Y-%m-%d %I:%M:%S %p')}'"
    )
    query = urlencode({"api-version": "2026-10-01", **({"$filter": window} if mode == "window" else {})})
    pages = jobs = errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.request("GET", f"{rng.choice(vaults)}/backupJobs?{query}", headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        if answer.status != 200:
            errors += 1
            continue
        pages += 1
        jobs += body.count(b'"jobType":')
    results.put((pages, jobs, errors))


def measure(arm: str, bearer: str, vaults: list[str], clients: int, mode: str, seconds: float) -> tuple:
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(
            target=client_worker, args=(arm, bearer, vaults, mode, seconds, index, results)
        )
        for index in range(clients)
    ]
    for worker in workers:
        worker.start()
    totals = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    pages, jobs, errors = (sum(values) for values in zip(*totals, strict=True))
    return pages / seconds, jobs / seconds, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vaults", type=int, default=1000)
    parser.add_argument("--entities", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each throughput run")
    parser.add_argument("--clients", default="1,4,8", help="comma-separated concurrent client processes")
    options = parser.parse_args()

    started = time.monotonic()
    process = subprocess.Popen(
        [
            EXECUTABLE,
            "simulate",
            "--vaults",
            str(options.vaults),
            "--subscriptions",
            "10",
            "--entities-per-vault",
            str(options.entities),
            "--history-days",
            str(options.days),
            "--throttle-capacity",
            "1000000000",
            "--throttle-refill",
            "1000000000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        values = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        ready = time.monotonic() - started
        arm = values["ARM_ENDPOINT"]
        vaults = requests.get(arm + "/_simulator/estate", timeout=60).json()["vaults"]
        bearer = token(values["IDENTITY_ENDPOINT"], values["IDENTITY_HEADER"])
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {bearer}"
        sample = random.Random(0).sample(vaults, min(20, len(vaults)))
        per_vault = []
        for vault_id in sample:
            count, link = 0, arm + vault_id + "/backupJobs?api-version=2026-10-01"
            while link:
                body = session.get(link, timeout=60).json()
                count += len(body["value"])
                link = body.get("nextLink")
            per_vault.append(count)
        estimated_jobs = sum(per_vault) / len(per_vault) * len(vaults)
        print(
            f"estate: {len(vaults)} vaults x {options.entities} items x {options.days} days, "
            f"~{estimated_jobs:,.0f} jobs (from {len(sample)} vaults read fully)"
        )
        print(f"start-up (process start, generation, listening): {ready:.1f} s")
        print(f"simulator RSS after generation: {rss_megabytes(process.pid):.0f} MB")
        print(f"{'mode':<8} {'clients':>7} {'pages/s':>9} {'jobs/s':>10} {'errors':>6}")
        for mode in ("first", "window"):
            for clients in (int(value) for value in options.clients.split(",")):
                pages, jobs, errors = measure(arm, bearer, vaults, clients, mode, options.seconds)
                print(f"{mode:<8} {clients:>7} {pages:>9.0f} {jobs:>10.0f} {errors:>6}")
        print(f"simulator RSS after the runs: {rss_megabytes(process.pid):.0f} MB")
        print(
            "modes: 'first' = first page (up to 200 jobs) of a random vault, no filter; "
            "'window' = first page with a 1-day startTime/endTime $filter (what an exporter sends)"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
