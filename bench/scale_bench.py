"""Large estates in one run: ARM's read limits on, scrapes a minute apart, what the issue says must hold.

Run: .venv/bin/python bench/scale_bench.py [--vaults 100 1000] [--scrapes 30] [--latency-ms 50]
     [--max-concurrency 8] [--warm-scrapes 3] [--naive-vaults 10]

For each estate size it starts a simulator in this process (seed 7, 2 subscriptions, 6 items per vault,
7 days of history, `--latency-ms` added to every ARM answer, ARM's read limits on: 250 reads per
subscription refilled 25 a second) and the exporter in a child process of its own (defaults, but
`--scrape-timeout 30s`, so that Prometheus' 30 s header is the budget; `--max-concurrency` as given), so
that the exporter's memory is measured alone. It then scrapes `/metrics` over HTTP `--scrapes` times
(the first one cold) at a 60 s interval, simulated back to back: between two scrapes the simulator's
clock (its jobs and its read bucket: `--throttle-follows-clock`) and the exporter's clocks (the wall
clock its vaults and its ARM read quota are kept on, and the scheduler's) move on 60 s instead of
anyone sleeping (the scheduler's clock runs that minute ahead of the vaults' last refreshes, which it
compares with `time.monotonic()`). Then `--warm-scrapes` more scrapes, likewise. About 15 minutes at the
defaults on 2 cores, most of it the exporter rendering 1,000 vaults.

Printed per estate size, for every scrape: its time, the ARM requests it caused by route (the
simulator's own counts) and how many were answered 429, the vaults up, the sizes not filled yet and the
exporter's CPU; then a summary:

- cold scrape: the first one (time, requests by route, 429s);
- scrapes until every vault is up (`azure_backup_vault_up` 1) and every size is filled, at most
  `--scrapes`. A size is filled when, for every entity and backup operation whose most recent job the exporter
  shows as finished, and whose details (`GET backupJobs/{id}`, in the simulator) report a size,
  `azure_backup_last_job_size_bytes` is that size: the exporter has fetched the details of the latest
  job it knows. (An entity whose latest known job still runs is not counted; a job the exporter has not
  listed yet is not its to know. Read from `azure_backup_last_job_status`, `..._start_timestamp_seconds`
  and `..._size_bytes`: without the first two the check says n/a.);
- warm scrape: the median of the last `--warm-scrapes` scrapes once caught up that sent nothing but
  `list_jobs` (else no inventory read, only `get_job` of jobs finished meanwhile; never caught up: the
  extra scrapes, marked so), against the floor `vaults x latency / max-concurrency` (the issue's:
  6.25 s for 1,000 vaults at 50 ms and 8), and against the floor of the requests that scrape did make;
- requests and 429s per scrape over the `--scrapes` scrapes;
- series (exposition lines that are samples, whatever the metric set) and per item, exposition bytes;
- render CPU with nothing due: in the exporter's process, `time.thread_time()` around
  `exporter.exposition.body(...)` with Prometheus' Accept header (what the web layer serves, gzip
  aside: the snapshots, each changed vault's text, the rest kept) in a scrape where no
  vault is due (the scheduler's clock held back; the bench checks that it sent no ARM request);
- exporter RSS after the run, and its peak (`VmHWM`).

At `--naive-vaults` vaults (0: skip) the exporter's warm scrape is compared with a naive exporter
written here: per scrape it lists every vault's jobs of the lookback and GETs every job's details, one
request after the other. Then a markdown table for README.md, with what the issue says must hold at
1,000 vaults (and 10 for the naive ratio) and PASS or FAIL per line. Figures, not assertions: machines
are noisy.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

START = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
SEED = 7
SUBSCRIPTIONS = 2
ITEMS_PER_VAULT = 6
HISTORY_DAYS = 7
INTERVAL_SECONDS = 60.0
SCRAPE_TIMEOUT_SECONDS = 30
LOOKBACK_SECONDS = 7 * 86400
MB = 1024 * 1024

# What the issue says must hold (at 1,000 vaults, and at 10 against the naive exporter).
MUST_CATCH_UP_WITHIN = 30
MUST_WARM_RATIO = 1.3
MUST_RENDER_CPU = 0.3
MUST_SERIES_PER_ITEM = 12
MUST_RSS_MB = 200
MUST_NAIVE_RATIO = 100


# --- the exporter's process ---------------------------------------------------------------------------


class SimulatedWallClock:
    """The exporter's wall clock: the simulator's (same start, real time since), moved on with it."""

    def __init__(self, simulated_now: float, at_monotonic: float) -> None:
        self._base = simulated_now - at_monotonic
        self.offset = 0.0

    def __call__(self) -> float:
        return self._base + time.monotonic() + self.offset


class SchedulingClock:
    """The scheduler's clock: `time.monotonic()` (that of the vaults' last refresh), `ahead` by the time
    between scrapes that nobody waited (every vault's last refresh predates it)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.ahead


def memory_kib() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in KiB."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


# What Prometheus 3 sends: OpenMetrics first.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;escaping=underscores,"
    "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def exporter_child() -> None:
    """The exporter, driven by JSON lines on stdin; answers JSON lines on the original stdout."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to the log
    setup = json.loads(sys.stdin.readline())
    from azure_backup_exporter.config import load_config
    from azure_backup_exporter.demo import point_azure_identity_at
    from azure_backup_exporter.service import Exporter, configure_logging

    point_azure_identity_at(setup["identity_endpoint"], setup["identity_header"])
    configure_logging("info")
    baseline = memory_kib()
    wall = SimulatedWallClock(setup["simulated_now"], setup["at_monotonic"])
    scheduling = SchedulingClock()
    config = load_config(
        {
            "web.listen-address": "127.0.0.1:0",
            "arm-endpoint": setup["arm_endpoint"],
            "subscription": setup["subscriptions"],
            "scrape-timeout": f"{SCRAPE_TIMEOUT_SECONDS}s",
            "max-concurrency": str(setup["max_concurrency"]),
        },
        {},
    )
    exporter = Exporter(config, clock=wall, scheduling_clock=scheduling)
    exporter.start()
    answers.write(json.dumps({"url": exporter.url, "baseline_kib": baseline["VmRSS"]}) + "\n")
    for line in sys.stdin:
        command = json.loads(line)
        name = command["cmd"]
        if name == "step":
            wall.offset += command["seconds"]
            scheduling.ahead = command["seconds"]
            answer: dict[str, Any] = {}
        elif name == "cpu":
            answer = {"process": time.process_time()}
        elif name == "render":
            ahead, scheduling.ahead = scheduling.ahead, -1e9  # no vault is due
            thread, process, size, series = [], [], 0, 0
            for _ in range(command["repeat"]):
                started_thread, started_process = time.thread_time(), time.process_time()
                text, _ = exporter.exposition.body(PROMETHEUS_ACCEPT)
                thread.append(time.thread_time() - started_thread)
                process.append(time.process_time() - started_process)
                size, series = len(text), count_series(text)
                del text
            scheduling.ahead = ahead
            answer = {"thread": thread, "process": process, "bytes": size, "series": series}
        elif name == "memory":
            answer = memory_kib()
        elif name == "quit":
            exporter.stop()
            answers.write("{}\n")
            return
        else:
            answer = {"error": f"unknown command {name}"}
        answers.write(json.dumps(answer) + "\n")


# The exporter's own health and the process': not "job and inventory metrics", which the issue counts.
OWN_FAMILIES = {
    "azure_backup_vault_up",
    "azure_backup_vault_refresh_duration_seconds",
    "azure_backup_inventory_up",
    "azure_backup_jobs_malformed_total",
    "azure_backup_subscription_up",
    "azure_backup_api_requests_total",
    "azure_backup_api_ratelimit_remaining_reads",
    "azure_backup_exporter_build_info",
}


def job_and_inventory(families: dict[str, int]) -> tuple[int, int]:
    """(series of the job and inventory families, protected items) of one exposition."""
    series = sum(
        n for name, n in families.items() if name.startswith("azure_backup_") and name not in OWN_FAMILIES
    )
    return series, families.get("azure_backup_protected_item_info", 0)


def family_table(families: dict[str, int]) -> list[str]:
    """Series per protected item, family by family: the table of docs/metrics.md."""
    items = families.get("azure_backup_protected_item_info", 0) or 1
    lines = ["| family | series | per item |", "|---|---|---|"]
    groups = (
        (
            "job and inventory",
            [n for n in families if n.startswith("azure_backup_") and n not in OWN_FAMILIES],
        ),
        ("the exporter's own", [n for n in families if n in OWN_FAMILIES]),
        ("the process", [n for n in families if not n.startswith("azure_backup_")]),
    )
    for title, names in groups:
        for name in sorted(names, key=lambda n: (-families[n], n)):
            lines.append(f"| `{name}` | {families[name]:,} | {families[name] / items:.2f} |")
        total = sum(families[n] for n in names)
        lines.append(f"| **{title}** | **{total:,}** | **{total / items:.2f}** |")
    return lines


def count_series(text: bytes) -> int:
    """Samples in an exposition: the lines that are neither comments nor blank."""
    return sum(1 for line in text.split(b"\n") if line and not line.startswith(b"#"))


class ExporterProcess:
    def __init__(self, setup: dict[str, Any], log_path: str) -> None:
        self._log = open(log_path, "w")  # noqa: SIM115 (closed in stop)
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--exporter-child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.hello = self.ask(setup)
        self.url = self.hello["url"]

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the exporter's process ended; see {self._log.name}")
        return json.loads(line)

    def stop(self) -> None:
        try:
            self.ask({"cmd": "quit"})
            self._process.wait(timeout=30)
        finally:
            if self._process.poll() is None:
                self._process.kill()
            self._log.close()


# --- the simulator's side: requests, clock, what the exposition shows ------------------------------------


def control(sim: Any, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{sim.control_url}/{path}", data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def request_counts(sim: Any) -> dict[str, dict[str, int]]:
    """ARM requests by route and status so far (token requests left out)."""
    by_route = control(sim, "requests")["by_route"]
    return {route: codes for route, codes in by_route.items() if route != "token"}


def difference(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, Any]:
    routes = {}
    throttled = 0
    for route, codes in after.items():
        made = sum(codes.values()) - sum(before.get(route, {}).values())
        if made:
            routes[route] = made
        throttled += codes.get("429", 0) - before.get(route, {}).get("429", 0)
    return {"routes": routes, "total": sum(routes.values()), "429": throttled}


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


WANTED = (
    "azure_backup_vault_up",
    "azure_backup_last_job_status",
    "azure_backup_last_job_start_timestamp_seconds",
    "azure_backup_last_job_size_bytes",
)


@dataclass
class Exposition:
    """What one scrape served: its size, its samples by metric family, and the samples the bench reads."""

    size: int
    series: int
    families: dict[str, int]
    samples: dict[str, list[tuple[dict[str, str], float]]]


def read_exposition(body: bytes) -> Exposition:
    """One pass over the text: samples counted by family (a histogram's by its base name), and the
    labels and values of the few metrics `WANTED`."""
    families: dict[str, int] = {}
    found: dict[str, list[tuple[dict[str, str], float]]] = {name: [] for name in WANTED}
    series = 0
    for line in body.decode().split("\n"):
        if not line or line.startswith("#"):
            continue
        series += 1
        name, brace, rest = line.partition("{")
        if not brace:
            name = line.split(" ", 1)[0]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        families[family] = families.get(family, 0) + 1
        if name in found:
            labels_text, _, value = rest.rpartition("} ")
            labels = {key: _unescape(raw) for key, raw in _LABEL.findall(labels_text)}
            found[name].append((labels, float(value)))
    return Exposition(len(body), series, families, found)


ENTITY_KEY = ("subscription_id", "resource_group", "vault", "backup_management_type", "entity", "operation")


@dataclass
class Fill:
    """Of the entities whose latest known job is finished and reports a size: how many show it."""

    sized: int = 0
    unfilled: int = 0
    not_found: int = 0
    vaults_unfilled: set[str] = field(default_factory=set)
    vaults_none_filled: int = 0


def check_sizes(sim: Any, exposition: Exposition) -> Fill | None:
    """Compare each entity's `azure_backup_last_job_size_bytes` with its latest known job's details."""
    from azure_backup_exporter.jobs import FINISHED_STATUSES, MalformedJob, is_backup_operation, parse_job
    from azure_backup_simulator.render import render_job

    starts = exposition.samples["azure_backup_last_job_start_timestamp_seconds"]
    status_samples = exposition.samples["azure_backup_last_job_status"]
    if not starts or not status_samples:
        return None  # the metric set has changed: nothing to check against

    def key_of(labels: dict[str, str]) -> tuple[str, ...]:
        return tuple(labels.get(k, "") for k in ENTITY_KEY)

    status = {key_of(labels): labels.get("status") for labels, value in status_samples if value}
    sizes = {
        key_of(labels): value for labels, value in exposition.samples["azure_backup_last_job_size_bytes"]
    }
    fill = Fill()
    filled_in: dict[str, int] = {}
    estate = sim.estate
    show_hidden = sim.config.list_hidden_scheduled_jobs
    with estate.lock:
        now = estate.clock.now()
        for labels, start in starts:
            key = key_of(labels)
            if status.get(key) not in FINISHED_STATUSES or not is_backup_operation(key[5]):
                continue  # sizes are of backups (a restore's transferred data is not fetched)
            vault = estate.vaults.get((key[0].lower(), key[1].lower(), key[2].lower()))
            low = bisect.bisect_left(vault.starts, start - 0.001) if vault else 0
            high = bisect.bisect_right(vault.starts, start + 0.001) if vault else 0
            candidates = []
            for job in vault.jobs[low:high] if vault else []:
                if job.hidden and not show_hidden:
                    continue
                try:
                    candidates.append(parse_job(render_job(job, now, detail=True)))
                except MalformedJob:
                    continue
            # the entity as written, else as the exporter relabels a database's bare name (entities.py)
            same = [j for j in candidates if (j.backup_management_type, j.entity, j.operation) == key[3:]]
            same = same or [
                j for j in candidates if (j.backup_management_type, j.operation) == key[3:4] + key[5:]
            ]
            if not same:
                fill.not_found += 1
                continue
            expected = same[0].size_bytes
            if expected is None:
                continue
            fill.sized += 1
            filled_in.setdefault(key[2], 0)
            if sizes.get(key) != float(expected):
                fill.unfilled += 1
                fill.vaults_unfilled.add(key[2])
            else:
                filled_in[key[2]] += 1
    fill.vaults_none_filled = sum(1 for count in filled_in.values() if count == 0)
    return fill


# --- one estate size --------------------------------------------------------------------------------------


# Requests of the protection inventory and of discovery: a scrape sending any is not a warm one.
INVENTORY_ROUTES = frozenset({"list_protected_items", "list_policies", "get_vault", "list_vaults"})


@dataclass
class Scrape:
    number: int
    seconds: float
    requests: dict[str, Any]
    cpu: float
    vaults_up: int
    fill: Fill | None
    series: int
    size: int
    families: dict[str, int]

    @property
    def caught_up(self) -> bool:
        return self.fill is not None and self.fill.unfilled == 0

    @property
    def reads_inventory(self) -> bool:
        return bool(INVENTORY_ROUTES & set(self.requests["routes"]))


@dataclass
class Result:
    vaults: int
    scrapes: list[Scrape]
    extra: list[Scrape]
    warm_scrapes: int
    render: dict[str, Any]
    render_requests: int
    memory: dict[str, int]
    baseline_kib: int
    naive: dict[str, Any] | None = None

    @property
    def sizes_known(self) -> bool:
        """False when the exposition lacks what the size check reads (the metric set changed)."""
        return all(scrape.fill is not None for scrape in self.scrapes)

    @property
    def caught_up_at(self) -> int | None:
        for scrape in self.scrapes + self.extra:
            if scrape.vaults_up == self.vaults and scrape.caught_up:
                return scrape.number
        return None

    @property
    def warm(self) -> tuple[list[Scrape], bool]:
        """The last scrapes once caught up that sent nothing but `list_jobs` (else nothing but `list_jobs`
        and `get_job` of jobs that finished meanwhile); if never caught up, the scrapes after the series,
        marked not warm."""
        caught = self.caught_up_at
        if caught is not None:
            warm = [s for s in self.scrapes + self.extra if s.number > caught and not s.reads_inventory]
            only_listing = [s for s in warm if set(s.requests["routes"]) == {"list_jobs"}]
            if only_listing or warm:
                return (only_listing or warm)[-self.warm_scrapes :], True
        return self.extra or self.scrapes[-1:], False

    @property
    def warm_median(self) -> Scrape:
        ordered = sorted(self.warm[0], key=lambda s: s.seconds)
        return ordered[len(ordered) // 2]


def scrape_once(sim: Any, exporter: ExporterProcess, number: int) -> Scrape:
    before = request_counts(sim)
    cpu_before = exporter.ask({"cmd": "cpu"})["process"]
    request = urllib.request.Request(
        f"{exporter.url}/metrics",
        headers={"X-Prometheus-Scrape-Timeout-Seconds": str(SCRAPE_TIMEOUT_SECONDS)},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        body = response.read()
    seconds = time.perf_counter() - started
    cpu = exporter.ask({"cmd": "cpu"})["process"] - cpu_before
    requests = difference(request_counts(sim), before)
    exposition = read_exposition(body)
    up = sum(1 for _, value in exposition.samples["azure_backup_vault_up"] if value == 1.0)
    fill = check_sizes(sim, exposition)
    return Scrape(
        number, seconds, requests, cpu, up, fill, exposition.series, exposition.size, exposition.families
    )


def step(sim: Any, exporter: ExporterProcess) -> None:
    control(sim, "clock", {"advance_seconds": INTERVAL_SECONDS})
    exporter.ask({"cmd": "step", "seconds": INTERVAL_SECONDS})


def scrape_line(scrape: Scrape) -> str:
    routes = ", ".join(f"{route} {n}" for route, n in sorted(scrape.requests["routes"].items()))
    if scrape.fill is None:
        fill = "sizes n/a"
    else:
        fill = (
            f"sizes unfilled {scrape.fill.unfilled:5d}/{scrape.fill.sized:<5d} "
            f"in {len(scrape.fill.vaults_unfilled):4d} vaults"
        )
        if scrape.fill.not_found:
            fill += f" ({scrape.fill.not_found} latest jobs not found in the simulator)"
    return (
        f"  {scrape.number:>5} {scrape.seconds:6.2f} s  cpu {scrape.cpu:5.2f} s  "
        f"{scrape.requests['total']:5d} req  429 {scrape.requests['429']:4d}  up {scrape.vaults_up:5d}  "
        f"{fill}  ({routes or 'no request'})"
    )


def run_size(vaults: int, args: argparse.Namespace, naive: bool) -> Result:
    from azure_backup_simulator import Simulator, SimulatorConfig

    started = time.perf_counter()
    sim = Simulator(
        SimulatorConfig(
            seed=SEED,
            subscriptions=SUBSCRIPTIONS,
            vaults=vaults,
            entities_per_vault=ITEMS_PER_VAULT,
            history_days=HISTORY_DAYS,
            start_time=START,
            token_lifetime_seconds=30 * 86400,  # tokens outlive the simulated hour (checked on that clock)
            throttle_capacity=250,
            throttle_refill_per_second=25.0,
            throttle_follows_clock=True,
            faults={"latency_ms": args.latency_ms},
        )
    ).start()
    log_path = os.path.join(tempfile.gettempdir(), f"scale_bench-exporter-{vaults}.log")
    exporter = None
    try:
        setup = {
            "arm_endpoint": sim.arm_endpoint,
            "identity_endpoint": sim.identity_endpoint,
            "identity_header": sim.identity_header,
            "subscriptions": list(sim.estate.subscriptions),
            "max_concurrency": args.max_concurrency,
            "simulated_now": sim.estate.clock.now(),
            "at_monotonic": time.monotonic(),
        }
        exporter = ExporterProcess(setup, log_path)
        print(
            f"\n{vaults} vaults ({vaults * ITEMS_PER_VAULT} items), {args.latency_ms} ms latency, "
            f"max-concurrency {args.max_concurrency}; simulator up in {time.perf_counter() - started:.0f} s; "
            f"exporter log: {log_path}",
            flush=True,
        )
        scrapes: list[Scrape] = []
        print(
            "  scrape   time   exporter CPU  ARM requests, 429s, vaults up, sizes not filled yet (by route)",
            flush=True,
        )
        for number in range(1, args.scrapes + args.warm_scrapes + 1):
            if number > 1:
                step(sim, exporter)
            if number == args.scrapes + 1:
                print(f"  then {args.warm_scrapes} more, for the warm scrape:", flush=True)
            scrapes.append(scrape_once(sim, exporter, number))
            print(scrape_line(scrapes[-1]), flush=True)
        before = request_counts(sim)
        render = exporter.ask({"cmd": "render", "repeat": 3})
        render_requests = difference(request_counts(sim), before)["total"]
        memory = exporter.ask({"cmd": "memory"})
        result = Result(
            vaults,
            scrapes[: args.scrapes],
            scrapes[args.scrapes :],
            args.warm_scrapes,
            render,
            render_requests,
            memory,
            exporter.hello["baseline_kib"],
        )
        if naive:
            result.naive = naive_scrape(sim)
        print_summary(result, args)
        return result
    finally:
        if exporter is not None:
            exporter.stop()
        sim.stop()


# --- the naive exporter -----------------------------------------------------------------------------------


def naive_scrape(sim: Any) -> dict[str, Any]:
    """What a simple exporter does at every scrape: every vault's jobs of the lookback, listed, then every
    job's details (for its size) GET one after the other. Its own token, requests' session (keep-alive)."""
    import requests
    from azure_backup_exporter.azure.client import JOBS_API_VERSION, jobs_filter

    token = requests.get(
        sim.identity_endpoint,
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com/"},
        headers={"X-IDENTITY-HEADER": sim.identity_header},
        timeout=30,
    ).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    vault_ids = control(sim, "estate")["vaults"]
    before = request_counts(sim)
    started = time.perf_counter()
    sizes = 0
    now = sim.estate.clock.now()
    for vault_id in vault_ids:
        url: str | None = f"{sim.arm_endpoint}{vault_id}/backupJobs"
        params: dict[str, str] | None = {
            "api-version": JOBS_API_VERSION,
            "$filter": jobs_filter(now - LOOKBACK_SECONDS, now),
        }
        jobs = []
        while url:
            page = session.get(url, params=params, timeout=60).json()
            jobs.extend(page.get("value", []))
            url, params = page.get("nextLink"), None
        for job in jobs:
            detail = session.get(f"{sim.arm_endpoint}{job['id']}", params={"api-version": JOBS_API_VERSION})
            if detail.ok and "extendedInfo" in detail.json().get("properties", {}):
                sizes += 1
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "requests": difference(request_counts(sim), before), "details": sizes}


# --- reports ----------------------------------------------------------------------------------------------


def floor_seconds(requests: int, args: argparse.Namespace) -> float:
    return requests * args.latency_ms / 1000 / args.max_concurrency


def routes_text(requests: dict[str, Any]) -> str:
    return ", ".join(f"{n} {route}" for route, n in sorted(requests["routes"].items(), key=lambda kv: -kv[1]))


def print_summary(result: Result, args: argparse.Namespace) -> None:
    cold, warm, last = result.scrapes[0], result.warm_median, result.scrapes[-1]
    floor = floor_seconds(result.vaults, args)
    per_scrape = [s.requests["total"] for s in result.scrapes]
    throttled = [s.requests["429"] for s in result.scrapes]
    items = result.vaults * ITEMS_PER_VAULT
    caught = result.caught_up_at
    render, memory = result.render, result.memory
    runs = ", ".join(f"{t:.2f}" for t in render["thread"])
    if caught is None:
        unfilled = last.fill.unfilled if last.fill else "n/a"
        caught_text = (
            f"not within {len(result.scrapes)} scrapes "
            f"(after the last: {last.vaults_up}/{result.vaults} up, {unfilled} sizes unfilled)"
        )
    else:
        caught_text = f"after scrape {caught}"
    if last.fill is not None:
        caught_text += (
            f"; after scrape {last.number}: {len(last.fill.vaults_unfilled)} vaults with a size unfilled, "
            f"{last.fill.vaults_none_filled} of them with none filled"
        )
    warm_scrapes, is_warm = result.warm
    warm_text = (
        f"median of {len(warm_scrapes)}: scrapes {', '.join(str(s.number) for s in warm_scrapes)}"
        if is_warm
        else f"NOT WARM: not caught up; median of scrapes {', '.join(str(s.number) for s in warm_scrapes)}"
    )
    top = sorted(last.families.items(), key=lambda kv: -kv[1])[:8]
    family_text = ", ".join(f"{name} {count / items:.1f}" for name, count in top)
    lines = [
        f"  summary, {result.vaults} vaults:",
        f"    cold scrape: {cold.seconds:.2f} s, {cold.requests['total']} requests "
        f"({routes_text(cold.requests)}), {cold.requests['429']} answered 429",
        f"    every vault up and every size filled: {caught_text}",
        f"    warm scrape ({warm_text}): {warm.seconds:.2f} s, {warm.requests['total']} "
        f"requests ({routes_text(warm.requests)}); floor {floor:.2f} s "
        f"({result.vaults} x {args.latency_ms} ms / {args.max_concurrency}), "
        f"ratio {warm.seconds / floor:.2f}; floor of the requests made "
        f"{floor_seconds(warm.requests['total'], args):.2f} s",
        f"    over {len(result.scrapes)} scrapes: requests per scrape min {min(per_scrape)} / median "
        f"{statistics.median(per_scrape):.0f} / max {max(per_scrape)}, 429s {sum(throttled)} "
        f"(in {sum(1 for t in throttled if t)} scrapes); get_job in all "
        f"{sum(s.requests['routes'].get('get_job', 0) for s in result.scrapes)}"
        f" (sizes to fill: {last.fill.sized if last.fill else 'n/a'})",
        f"    series {render['series']} ({render['series'] / items:.1f} per item), exposition "
        f"{render['bytes'] / MB:.1f} MiB; render CPU with nothing due "
        f"{statistics.median(render['thread']):.2f} s (runs: {runs};"
        f" process {statistics.median(render['process']):.2f} s; ARM requests meanwhile "
        f"{result.render_requests})",
        f"    series per item by family (scrape {last.number}): {family_text}",
        f"    exporter RSS {memory['VmRSS'] / 1024:.0f} MiB (peak {memory['VmHWM'] / 1024:.0f} MiB; "
        f"{result.baseline_kib / 1024:.0f} MiB before the exporter was built)",
    ]
    if result.naive is not None:
        naive = result.naive
        lines.append(
            f"    naive exporter: {naive['seconds']:.2f} s, {naive['requests']['total']} requests "
            f"({routes_text(naive['requests'])}), {naive['requests']['429']} answered 429; ours warm "
            f"{warm.seconds:.3f} s: {naive['seconds'] / warm.seconds:.0f}x faster"
        )
    lines += ["", f"  series by family (scrape {last.number}):", *family_table(last.families)]
    print("\n".join(lines), flush=True)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def markdown(results: dict[int, Result], args: argparse.Namespace) -> list[str]:
    sizes = sorted(results)
    judged = results.get(1000)
    header = "| figure | " + " | ".join(f"{n:,} vaults" for n in sizes) + " | must hold (1,000 vaults) | |"
    lines = [header, "|---|" + "---|" * len(sizes) + "---|---|"]

    def row(label: str, cell: Any, must: str, ok: Any) -> None:
        cells = " | ".join(cell(results[n]) for n in sizes)
        lines.append(f"| {label} | {cells} | {must} | {verdict(ok(judged) if judged else None)} |")

    def cold(r: Result) -> str:
        s = r.scrapes[0]
        requests = f"{s.requests['total']} requests ({routes_text(s.requests)})"
        return f"{s.seconds:.1f} s, {requests}, {s.requests['429']} × 429"

    row("cold scrape", cold, "", lambda r: None)

    def caught(r: Result) -> str:
        if not r.sizes_known:
            return "n/a (no azure_backup_last_job_status or _start_timestamp_seconds to check sizes by)"
        at = r.caught_up_at
        return f"{at}" if at is not None else f"not within {len(r.scrapes)}"

    row(
        "scrapes until every vault is up and every size filled",
        caught,
        f"≤ {MUST_CATCH_UP_WITHIN}",
        lambda r: (
            (r.caught_up_at is not None and r.caught_up_at <= MUST_CATCH_UP_WITHIN) if r.sizes_known else None
        ),
    )

    def warm(r: Result) -> str:
        s = r.warm_median
        floor = floor_seconds(r.vaults, args)
        listed = s.requests["routes"].get("list_jobs", 0)
        note = "" if r.warm[1] else ", not caught up"
        return (
            f"{s.seconds:.2f} s vs {floor:.2f} s = {s.seconds / floor:.2f}× "
            f"({listed} vaults listed, {s.requests['total']} requests{note})"
        )

    row(
        "warm scrape vs floor (vaults × latency / concurrency)",
        warm,
        f"≤ {MUST_WARM_RATIO} × floor",
        lambda r: r.warm_median.seconds <= MUST_WARM_RATIO * floor_seconds(r.vaults, args),
    )

    def per_scrape(r: Result) -> str:
        totals = [s.requests["total"] for s in r.scrapes]
        return (
            f"{statistics.median(totals):.0f} (max {max(totals)}), "
            f"{sum(s.requests['429'] for s in r.scrapes)} × 429"
        )

    row(
        f"requests per scrape (median), 429s over {args.scrapes} scrapes",
        per_scrape,
        "0 × 429",
        lambda r: sum(s.requests["429"] for s in r.scrapes) == 0,
    )

    def series(r: Result) -> str:
        counted, items = job_and_inventory(r.scrapes[-1].families)
        return (
            f"{r.render['series']:,} in all; job and inventory {counted:,} for {items:,} items "
            f"({counted / max(items, 1):.1f} per item)"
        )

    def few_enough(r: Result) -> bool:
        counted, items = job_and_inventory(r.scrapes[-1].families)
        return counted <= MUST_SERIES_PER_ITEM * items

    row("series", series, f"≤ {MUST_SERIES_PER_ITEM} per item (job and inventory metrics)", few_enough)
    row("exposition", lambda r: f"{r.render['bytes'] / MB:.1f} MiB", "", lambda r: None)
    row(
        "render CPU, nothing due",
        lambda r: f"{statistics.median(r.render['thread']):.2f} s",
        f"≤ {MUST_RENDER_CPU} s",
        lambda r: statistics.median(r.render["thread"]) <= MUST_RENDER_CPU,
    )
    row(
        "exporter RSS (peak)",
        lambda r: f"{r.memory['VmRSS'] / 1024:.0f} MiB ({r.memory['VmHWM'] / 1024:.0f} MiB)",
        f"≤ {MUST_RSS_MB} MB",
        lambda r: r.memory["VmRSS"] * 1024 <= MUST_RSS_MB * 1_000_000,
    )
    naive = next((r for r in results.values() if r.naive is not None), None)
    if naive is not None:
        assert naive.naive is not None
        warm_scrape = naive.warm_median
        ratio = naive.naive["seconds"] / warm_scrape.seconds
        list_jobs = warm_scrape.requests["routes"].get("list_jobs", 0)
        lines.append("")
        lines.append(f"| {naive.vaults} vaults | ours, warm | naive exporter | must hold | |")
        lines.append("|---|---|---|---|---|")
        lines.append(
            f"| scrape time | {warm_scrape.seconds:.3f} s | {naive.naive['seconds']:.1f} s "
            f"({naive.naive['requests']['total']} requests) = {ratio:.0f}× | ≥ {MUST_NAIVE_RATIO}× | "
            f"{verdict(ratio >= MUST_NAIVE_RATIO)} |"
        )
        lines.append(
            f"| requests per vault | {warm_scrape.requests['total'] / naive.vaults:.1f} "
            f"({list_jobs / naive.vaults:.1f} list_jobs) | "
            f"{naive.naive['requests']['total'] / naive.vaults:.1f} | 1 list_jobs per vault, nothing else | "
            f"{verdict(warm_scrape.requests['total'] == list_jobs == naive.vaults)} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vaults", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--warm-scrapes", type=int, default=3)
    parser.add_argument("--naive-vaults", type=int, default=10, help="0: no comparison with a naive exporter")
    parser.add_argument("--exporter-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.exporter_child:
        exporter_child()
        return
    for name in [n for n in os.environ if n.startswith("AZURE_BACKUP_EXPORTER_")]:
        del os.environ[name]
    started = time.perf_counter()
    results: dict[int, Result] = {}
    if args.naive_vaults:
        results[args.naive_vaults] = run_size(args.naive_vaults, args, naive=True)
    for vaults in args.vaults:
        if vaults not in results:
            results[vaults] = run_size(vaults, args, naive=False)
    print(f"\nmarkdown ({time.perf_counter() - started:.0f} s in all):\n")
    print("\n".join(markdown(results, args)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
