"""How noisy the shipped alerts are: a reference estate run for a simulated month, with incidents of known
ground truth, through the simulator, the exporter and the shipped rules, evaluated by Prometheus' engine.

Run: .venv/bin/python bench/alert_noise.py [--vaults 4] [--items 12] [--days 30] [--step-minutes 20]

1. A simulated estate (docs/simulator.md: daily, weekly, hourly and log policies, MARS and DPM servers, items
   stopped, soft-deleted, never backed up, a MARS server gone silent; 2 % of jobs failing, 3 % with warnings)
   starts at a fixed time; its clock is moved forward one step at a time.
2. An in-process exporter (two "replicas": the second one's samples are the first one's under another
   `instance`, as two replicas reading the same Azure would give) is scraped at every step, on a clock equal
   to the simulator's. Its inventory and vault settings are read on intervals of the real monotonic clock
   (150 ms and 1 s here, which is every one or two scrapes for the items, as production's 15 minutes are;
   the settings are read again at once after the incident that changes them, where production reads them
   within 30 minutes).
3. The samples become the input series of a `promtool test rules` file (timestamps shifted so that the
   month starts at Prometheus' time 0), with the shipped rules (as shipped: `for:` and `keep_firing_for:`
   included). promtool evaluates every rule at every step, as Prometheus would, and its own queries over the
   `ALERTS` series it stored (asked for through deliberately failing expression tests, whose "got" lines are
   the answer) give each alert's firing episodes: how many, and when each began.
4. Each episode is matched with the incidents injected (and the states the estate was generated with): it
   is "matched" when an incident explains it, "noise" otherwise. The delay from each incident to its first
   page is printed against its bound.

Incidents the simulator's control API cannot make (an item whose backups fail from some day on, warnings
every day, a MARS server that goes quiet, a job that hangs, a first backup of three days) are made by
wrapping the simulator's job builder in-process, in this script: nothing in `simulator/` changes.
Not covered: a Prometheus restart (promtool's engine has no restart; Prometheus restores `for:` state from
ALERTS_FOR_STATE).
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from azure_backup_exporter.config import load_config
from azure_backup_exporter.demo import point_azure_identity_at
from azure_backup_exporter.service import Exporter
from azure_backup_simulator import Simulator, SimulatorConfig

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "alerts" / "azure-backup.rules.yaml"
START = datetime(2026, 10, 1, tzinfo=timezone.utc)
HOUR, DAY = 3600, 86400
JOB = "azure-backup-exporter"
# The families the rules read; the others are left out of the test file to keep promtool fast.
FAMILIES = {
    "azure_backup_last_job_status",
    "azure_backup_last_job_start_timestamp_seconds",
    "azure_backup_last_job_duration_seconds",
    "azure_backup_job_duration_seconds_bucket",
    "azure_backup_consecutive_failures",
    "azure_backup_protected_item_info",
    "azure_backup_protected_item_protection_state",
    "azure_backup_protected_item_health",
    "azure_backup_protected_item_last_backup_status",
    "azure_backup_protected_item_last_recovery_point_timestamp_seconds",
    "azure_backup_protected_item_backup_interval_seconds",
    "azure_backup_vault_security_info",
    "azure_backup_inventory_up",
    "azure_backup_vault_up",
    "azure_backup_api_ratelimit_remaining_reads",
    "azure_backup_exporter_build_info",
}
STALE = "stale"


@dataclass
class Incident:
    """What was done (or what the estate was generated with), where, from when, and what should page."""

    name: str
    vault: str
    entity: str | None
    start: float  # seconds from START
    end: float = math.inf
    page_within: float | None = None  # seconds from `start`; None: no page expected
    pages: list[float] = field(default_factory=list)
    hosts: tuple[str, ...] = ()  # a database's server: its items' entity is `name [server]`
    rpo_bound: float | None = None  # a page due within this of the item's last recovery point before `start`
    last_point: float | None = None  # that recovery point (seconds from START), found after the run


@dataclass
class Episode:
    alertname: str
    severity: str
    labels: dict[str, str]
    starts: list[float]


class Month:
    """The simulator, its incidents, the exporter replicas and the samples of every step."""

    def __init__(self, vaults: int, items: int, days: int, step: int) -> None:
        self.days, self.step = days, step
        self.steps = days * DAY // step
        config = SimulatorConfig(
            seed=13, vaults=vaults, entities_per_vault=items, start_time=START, failure_rate=0.02,
            warning_rate=0.03, token_lifetime_seconds=10**8, throttle_capacity=10**9,
        )  # fmt: skip
        self.sim = Simulator(config).start()
        self.estate = self.sim.state.estate
        self.origin = self.estate.clock.origin
        self.incidents: list[Incident] = []
        self.forced: dict[int, tuple[float, str, bool]] = {}  # id(entity) -> (from, status, logs only)
        self.series: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}
        self.exporter = self._exporter()
        original = self.estate.builder.create

        def create(entity: Any, operation: str, start: float, *args: Any, **kwargs: Any) -> Any:
            job = original(entity, operation, start, *args, **kwargs)
            forced = self.forced.get(id(entity))
            if forced and start >= forced[0] and operation.startswith("Backup"):
                if forced[2] and operation != "Backup (Log)":
                    return job
                status = forced[1]
                error = (entity.kind.errors or (None,))[0]
                if status == "CompletedWithWarnings":
                    error = (entity.kind.warnings or entity.kind.errors or (None,))[0]
                if job.running:
                    job.planned_status = status
                else:
                    job.status = status
                job.error = error
            return job

        self.estate.builder.create = create

    def _exporter(self) -> Exporter:
        point_azure_identity_at(self.sim.identity_endpoint, self.sim.identity_header)
        flags = {
            "web.listen-address": "127.0.0.1:0",
            "arm-endpoint": self.sim.arm_endpoint,
            "vault": [vault.resource_id for vault in self.estate.vaults.values()],
            "min-refresh-interval": "0s",
            "max-concurrency": "1",
            "inventory-interval": "150ms",
            "vault-list-interval": "1s",
        }
        clock = self.estate.clock
        return Exporter(load_config(flags, {}), clock=clock.now)

    # --- the estate and its incidents ---------------------------------------------------------------

    def entities(self, kind: str | None = None, **state: Any) -> list[Any]:
        return [
            entity
            for vault in self.estate.vaults.values()
            for entity in vault.entities.values()
            if not entity.injected
            and (kind is None or entity.kind.key == kind)
            and all(getattr(entity, key) == value for key, value in state.items())
        ]

    def at(self, seconds: float) -> float:
        return self.origin + seconds

    def plan(self) -> dict[int, list[Any]]:
        """The incidents, by the step at which each is injected; the estate's own states as incidents too."""
        first = self.first_backup_of_three_days()
        for entity in self.entities():
            interval = policy_interval(entity)
            if entity.stopped_at is not None:
                self.truth("protection stopped before the month", entity, -DAY * 7, None)
            elif entity.kind.key == "mars" and not entity.active:
                self.truth("MARS server silent before the month", entity, -DAY * 4, 2 * DAY + 3 * HOUR)
            elif interval and not entity.active:
                pass
        vms = self.entities("vm", active=True)
        daily = [
            e for e in vms if e.policy is not None and e.policy.name == "DefaultPolicy" and e is not first
        ]
        hourly = [
            e
            for e in self.entities("vm", active=True)
            if e.policy is not None and "Enhanced" in e.policy.name
        ]
        sql = self.entities("sql", active=True)
        mars = self.entities("mars", active=True)
        actions: dict[int, list[Any]] = defaultdict(list)

        def on(day: float, action: Any) -> None:
            actions[int(day * DAY // self.step)].append(action)

        def failing(entity: Any, day: float, name: str, logs: bool = False, status: str = "Failed") -> None:
            interval = HOUR * 4 if logs else policy_interval(entity) or DAY
            page = None if status != "Failed" else 2 * interval + 2 * HOUR + HOUR
            self.forced[id(entity)] = (self.at(day * DAY), status, logs)
            self.truth(name, entity, day * DAY, page)
            if page is not None:
                self.incidents[-1].rpo_bound = 2 * interval + 3 * HOUR

        failing(daily[0], 3, "a daily VM failing from day 3")
        if hourly:
            failing(hourly[0], 5, "an hourly VM failing from day 5")
        if sql:
            failing(sql[0], 7, "a SQL database's log backups failing from day 7", logs=True)
        if mars:
            on(9, lambda: self.quiet(mars[0], 9))
        on(11, lambda: self.stop(daily[1], 11))
        vault_unreadable = list(self.estate.vaults.values())[1]
        on(13, lambda: self.unreadable(vault_unreadable, 13, 6 * HOUR))
        on(13.25, lambda: self.sim_control("faults", {"revoked_vaults": []}))
        soft = next(v for v in self.estate.vaults.values() if v.settings.get("soft_delete") == "Enabled")
        on(15, lambda: self.weaken(soft, 15))
        on(17, lambda: self.restart(17))
        on(
            19,
            lambda: self.incidents.append(
                Incident("replica b down for 3 h", "", None, 19 * DAY, 19 * DAY + 3 * HOUR)
            ),
        )
        on(21, lambda: self.stuck(daily[2], 21))
        failing(vms[-1], 23, "warnings every day from day 23", status="CompletedWithWarnings")
        on(
            25,
            lambda: self.incidents.append(
                Incident("scrape gap of 10 minutes", "", None, 25 * DAY, 25 * DAY + 600)
            ),
        )
        return actions

    def last_points(self) -> None:
        """Each recovery point incident's last recovery point before it began, from the simulator's jobs."""
        by_name = {(e.vault.name, e.name): e for e in self.entities()}
        for incident in self.incidents:
            entity = by_name.get((incident.vault, incident.entity or ""))
            if incident.rpo_bound is None or entity is None:
                continue
            good = [
                job.start
                for job in entity.vault.jobs
                if job.entity is entity
                and job.operation.startswith("Backup")
                and job.status in ("Completed", "CompletedWithWarnings")
                and job.start - self.origin < incident.start
            ]
            if good:
                incident.last_point = max(good) - self.origin

    def organic(self) -> None:
        """The failures and warnings of the month's own 2 % and 3 %: events that may open tickets, not pages,
        unless two scheduled recovery points in a row were lost (then a page is due, and the incident is
        the second failure in a row)."""
        injected = {id(entity) for entity in self.entities() if id(entity) in self.forced}
        for vault in self.estate.vaults.values():
            streak: dict[tuple[int, bool], int] = defaultdict(int)
            for job in vault.jobs:
                entity = job.entity
                if (
                    entity.injected
                    or not job.operation.startswith("Backup")
                    or job.start < self.origin - 3 * DAY
                ):
                    continue
                if id(entity) in injected or job.status not in (
                    "Failed",
                    "Completed",
                    "CompletedWithWarnings",
                ):
                    continue
                log = job.operation == "Backup (Log)"
                start = job.start - self.origin
                if job.status == "Failed":
                    streak[(id(entity), log)] += 1
                    twice = streak[(id(entity), log)] >= 2
                    name = "two backups in a row failed (organic)" if twice else "a failed backup (organic)"
                    interval = HOUR * 4 if log else policy_interval(entity) or DAY
                    self.incidents.append(
                        Incident(
                            name,
                            vault.name,
                            entity.name,
                            start,
                            start + 2 * interval + 4 * HOUR,
                            interval + 3 * HOUR if twice else None,
                            hosts=(entity.host,),
                        )
                    )
                else:
                    streak[(id(entity), log)] = 0
                    if job.status == "CompletedWithWarnings":
                        self.incidents.append(
                            Incident(
                                "a backup with warnings (organic)",
                                vault.name,
                                entity.name,
                                start,
                                start + 2 * DAY,
                                None,
                                hosts=(entity.host,),
                            )
                        )

    def truth(self, name: str, entity: Any, start: float, page_within: float | None) -> None:
        self.incidents.append(
            Incident(name, entity.vault.name, entity.name, start, math.inf, page_within, hosts=(entity.host,))
        )

    def sim_control(self, path: str, body: dict[str, Any]) -> None:
        import json
        import urllib.request

        request = urllib.request.Request(
            f"{self.sim.control_url}/{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    def quiet(self, entity: Any, day: float) -> None:
        entity.active = False
        self.truth("a MARS server gone from day 9", entity, day * DAY, 2 * DAY + 3 * HOUR)
        self.incidents[-1].rpo_bound = 2 * DAY + 3 * HOUR

    def stop(self, entity: Any, day: float) -> None:
        self.sim_control("items/stop", {"vault": entity.vault.resource_id, "item": entity.name})
        self.truth("protection stopped on day 11", entity, day * DAY, 30 * 60)

    def unreadable(self, vault: Any, day: float, lasting: float) -> None:
        self.sim_control("faults", {"revoked_vaults": [vault.resource_id]})
        self.incidents.append(
            Incident("a vault unreadable for 6 h", vault.name, None, day * DAY, day * DAY + lasting, 30 * 60)
        )

    def weaken(self, vault: Any, day: float) -> None:
        self.sim_control("vaults/settings", {"vault": vault.resource_id, "soft_delete": "Disabled"})
        time.sleep(1.0)  # the settings are read again at the next scrape (in production: within 30 minutes)
        self.incidents.append(
            Incident("soft delete turned off", vault.name, None, day * DAY, day * DAY + DAY, 30 * 60)
        )

    def restart(self, day: float) -> None:
        self.exporter.scheduler.close()
        self.exporter = self._exporter()
        self.incidents.append(
            Incident("exporter restart (one scrape lost)", "", None, day * DAY, day * DAY + self.step)
        )

    def stuck(self, entity: Any, day: float) -> None:
        job_vault = entity.vault.resource_id
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.estate.clock.now()))
        self.sim_control(
            "jobs",
            {
                "vault": job_vault,
                "entity": entity.name,
                "operation": "Backup",
                "status": "InProgress",
                "start_time": start,
            },
        )
        entity.busy_until = math.inf
        interval = policy_interval(entity) or DAY
        self.truth("a job stuck from day 21", entity, day * DAY, 2 * interval + 3 * HOUR)
        self.incidents[-1].rpo_bound = 2 * interval + 3 * HOUR

    def first_backup_of_three_days(self) -> Any:
        pending = [
            job
            for job in self.estate.running.values()
            if job.operation.startswith("Backup") and job.entity.busy_until > self.origin
        ]
        if not pending:
            return None
        job = pending[0]
        job.planned_end = job.start + 3 * DAY
        job.entity.busy_until = job.planned_end
        self.estate._push(job.planned_end, 0, job)  # the simulator's finish event (kind 0)
        self.truth("a first backup of three days", job.entity, job.start - self.origin, None)
        return job.entity

    # --- scraping ------------------------------------------------------------------------------------

    def run(self) -> None:
        actions = self.plan()
        for index in range(self.steps + 1):
            target = self.origin + index * self.step
            lag = target - self.estate.clock.now()
            if lag > 0:
                self.estate.clock.advance(lag)
            for action in actions.get(index, []):
                action()
            moment = index * self.step
            gap = any(i.name.startswith("scrape gap") and i.start <= moment < i.end for i in self.incidents)
            restart = any(i.name.startswith("exporter restart") and i.start == moment for i in self.incidents)
            replica_b_down = any(
                i.name.startswith("replica b") and i.start <= moment < i.end for i in self.incidents
            )
            if gap or restart:
                self.record(index, {}, up={"a": 0, "b": 0})
                continue
            samples = self.scrape()
            self.record(
                index, samples, up={"a": 1, "b": 0 if replica_b_down else 1}, replica_b=not replica_b_down
            )
            if index % (DAY // self.step) == 0:
                print(
                    f"  day {index * self.step // DAY:2d} scraped ({len(self.series)} series)",
                    file=sys.stderr,
                )

    def scrape(self) -> list[tuple[str, dict[str, str], float]]:
        """What a scrape of /metrics gives, taken from the exporter's registry without the text round trip."""
        found = []
        for family in self.exporter.registry.collect():
            for sample in family.samples:
                if sample.name in FAMILIES:
                    value = sample.value
                    if sample.name.endswith("_timestamp_seconds"):
                        value -= self.origin
                    found.append((sample.name, sample.labels, value))
        return found

    def record(self, index: int, samples: list[Any], up: dict[str, int], replica_b: bool = False) -> None:
        seen = set()
        for instance, value in up.items():
            key = ("up", (("instance", instance), ("job", JOB)))
            self.put(key, index, float(value))
            seen.add(key)
        for name, labels, value in samples:
            for instance in ("a", "b") if replica_b else ("a",):
                key = (name, tuple(sorted({**labels, "instance": instance, "job": JOB}.items())))
                self.put(key, index, value)
                seen.add(key)
        for key, values in self.series.items():
            if key not in seen and index > 0 and values[index - 1] not in (None, STALE):
                values[index] = STALE

    def put(self, key: Any, index: int, value: float) -> None:
        values = self.series.get(key)
        if values is None:
            values = self.series[key] = [None] * (self.steps + 1)
        values[index] = value


def policy_interval(entity: Any) -> float | None:
    policy = entity.policy
    if policy is None:
        return None
    # The longest gap of each simulated policy (docs/simulator.md, "The protection inventory").
    return {
        "WeeklyPolicy": 5 * DAY,
        "EnhancedPolicy": 16 * HOUR,
        "EnhancedPolicy-8h": 8 * HOUR,
        "afs-hourly": 17 * HOUR,
    }.get(policy.name, DAY)


# --- the promtool test file and its answers -------------------------------------------------------------


def notation(values: list[Any]) -> str:
    """promtool's expanding notation: `v` repeated n+1 times is `vxn`, n missing samples `_xn`."""
    parts: list[str] = []
    index = 0
    while index < len(values):
        value, run = values[index], 1
        while index + run < len(values) and values[index + run] == value and value != STALE:
            run += 1
        if value is None:
            parts.append(f"_x{run}" if run > 1 else "_")
        elif value == STALE:
            parts.append(STALE)
        else:
            text = repr(float(value)) if not float(value).is_integer() else str(int(value))
            parts.append(f"{text}x{run - 1}" if run > 1 else text)
        index += run
    return " ".join(parts)


def selector(name: str, labels: tuple[tuple[str, str], ...]) -> str:
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return name + "{" + ",".join(f"{key}={quoted(value)}" for key, value in labels) + "}"


# An episode begins where an alert fires and did not one step before; per day, how many began, and when the
# first of them did. The window is a second short of a day: Prometheus 2.42 closes ranges at both ends, and a
# day's window must not count an episode that began exactly at the end of the day before.
BEGINS = 'ALERTS{{alertstate="firing"}} unless ALERTS{{alertstate="firing"}} offset {step}s'
QUERIES = {
    "count": "count_over_time((" + BEGINS + ")[86399s:{step}s])",
    "first": "min_over_time(timestamp(" + BEGINS + ")[86399s:{step}s])",
}
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def evaluate(month: Month, workdir: Path) -> tuple[list[Episode], float]:
    """Episodes of every alert over the month, from promtool; and promtool's wall time."""
    shutil_rules = workdir / "rules.yaml"
    shutil_rules.write_text(RULES.read_text())
    tests = []
    for day in range(1, month.days + 1):
        for query in QUERIES.values():
            tests.append(
                {"expr": query.format(step=month.step), "eval_time": f"{day * DAY}s", "exp_samples": []}
            )
    document = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": f"{month.step}s",
        "tests": [{
            "interval": f"{month.step}s",
            "input_series": [
                {"series": selector(name, labels), "values": notation(values)}
                for (name, labels), values in month.series.items()
            ],
            "promql_expr_test": tests,
        }],
    }  # fmt: skip
    (workdir / "month.test.yaml").write_text(yaml.safe_dump(document, width=1 << 20))
    started = time.perf_counter()
    result = subprocess.run(
        ["promtool", "test", "rules", "month.test.yaml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    if "got:" not in output and "exp:" not in output:
        raise SystemExit(f"promtool did not evaluate the month:\n{output[-3000:]}")
    episodes: dict[tuple[str, ...], Episode] = {}
    per_day: dict[tuple[tuple[str, ...], float], dict[str, float]] = defaultdict(dict)
    for block in output.split("expr: ")[1:]:
        kind = "count" if block.startswith('"count_over_time') else "first"
        day = duration_seconds(re.search(r"time: (\S+?),", block)[1])
        got = block.split("got:", 1)[1] if "got:" in block else ""
        for labels_text, value in re.findall(r"(\{[^{}]*\}) (\S+?)(?:,|\s|$)", got):
            labels = dict(LABEL.findall(labels_text))
            labels.pop("alertstate", None)
            key = tuple(sorted(labels.items()))
            episodes.setdefault(
                key, Episode(labels.get("alertname", ""), labels.get("severity", ""), labels, [])
            )
            per_day[(key, day)][kind] = float(value)
    for (key, _day), found in sorted(per_day.items()):
        # Each day: how many episodes began, and when the first did (the others that day, rare, share it).
        episodes[key].starts.extend([found.get("first", _day)] * int(found.get("count", 1)))
    return list(episodes.values()), seconds


def duration_seconds(text: str) -> float:
    """A duration as promtool prints it (`1d`, `2w3d`, `1d2h30m`), in seconds."""
    units = {"y": 365 * DAY, "w": 7 * DAY, "d": DAY, "h": HOUR, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(number) * units[unit] for number, unit in re.findall(r"(\d+)(ms|[ywdhms])", text))


def matches(incident: Incident, episode: Episode, start: float) -> bool:
    labels = episode.labels
    if incident.vault and labels.get("vault") != incident.vault:
        return False
    entity = labels.get("entity")
    if bool(incident.entity) != (entity is not None):
        return False  # item alerts are explained by item incidents, vault alerts by vault incidents
    if incident.entity and entity.lower() not in (
        incident.entity.lower(),
        *(f"{incident.entity} [{host}]".lower() for host in incident.hosts),
    ):
        return False
    if not incident.vault and labels.get("alertname") != "AzureBackupExporterDown":
        return False
    window_end = incident.end if incident.end < math.inf else math.inf
    if incident.page_within is not None and incident.end == math.inf:
        window_end = math.inf
    return incident.start - 600 <= start <= window_end + 2 * HOUR


def report(month: Month, episodes: list[Episode], promtool_seconds: float, scrape_seconds: float) -> str:
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    noise: list[str] = []
    pages: list[str] = []
    for episode in episodes:
        row = rows[(episode.alertname, episode.severity)]
        row[0] += len(episode.starts)
        for start in episode.starts:
            explained = [i for i in month.incidents if matches(i, episode, start)]
            if episode.severity == "critical":
                pages.append(
                    f"- day {start / DAY:.2f}: {episode.alertname} {episode.labels.get('vault', '')} "
                    f"{episode.labels.get('entity', episode.labels.get('defence', ''))}: "
                    + ("; ".join(sorted({i.name for i in explained})) or "NOISE")
                )
            if explained:
                row[1] += 1
                if episode.severity == "critical":
                    for incident in explained:
                        incident.pages.append(start)
            else:
                row[2] += 1
                noise.append(
                    f"{episode.alertname} {episode.severity} {episode.labels.get('vault', '')} "
                    f"{episode.labels.get('entity', '')} day {start / DAY:.2f}"
                )
    lines = [
        f"Estate: {len(month.estate.vaults)} vaults, {len(month.entities())} protected items, two exporter "
        f"replicas; {month.days} simulated days, a scrape and an evaluation every {month.step // 60} min.",
        f"Scraping the month: {scrape_seconds:.0f} s; promtool over it: {promtool_seconds:.0f} s; "
        f"{len(month.series)} series.",
        "",
        "| alert | severity | firings | matching an incident | noise |",
        "|---|---|---|---|---|",
    ]
    for (name, severity), (firings, matched, noisy) in sorted(rows.items()):
        lines.append(f"| {name} | {severity} | {firings} | {matched} | {noisy} |")
    lines += [
        "",
        "| incident | day | expected | first page after | bound | from last recovery point (bound) | pages |",
        "|---|---|---|---|---|---|---|",
    ]
    for incident in sorted(month.incidents, key=lambda i: i.start):
        first = min(incident.pages) - incident.start if incident.pages else None
        expected = "page" if incident.page_within is not None else "no page"
        bound = f"{incident.page_within / HOUR:.1f} h" if incident.page_within is not None else "-"
        after = f"{max(first, 0) / HOUR:.1f} h" if first is not None else "-"
        where = f"{incident.vault} {incident.entity or ''}".strip()
        since = "-"
        if incident.rpo_bound is not None and incident.last_point is not None and incident.pages:
            delay = (min(incident.pages) - incident.last_point) / HOUR
            since = f"{delay:.1f} h ({incident.rpo_bound / HOUR:.0f} h)"
        lines.append(
            f"| {incident.name} ({where or 'exporter'}) | {incident.start / DAY:.1f} | {expected} | "
            f"{after} | {bound} | {since} | {len(incident.pages)} |"
        )
    lines += ["", "Every page (critical firing episode) and what explains it:"] + sorted(pages)
    if noise:
        lines += ["", "Noise:"] + [f"- {entry}" for entry in noise]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vaults", type=int, default=4)
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--step-minutes", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("azure_backup_exporter").setLevel(
        logging.CRITICAL
    )  # the injected faults log per scrape
    month = Month(args.vaults, args.items, args.days, args.step_minutes * 60)
    try:
        started = time.perf_counter()
        month.run()
        month.last_points()
        month.organic()
        scrape_seconds = time.perf_counter() - started
    finally:
        month.exporter.scheduler.close()
        month.sim.stop()
    with tempfile.TemporaryDirectory(prefix="alert-noise-") as directory:
        episodes, promtool_seconds = evaluate(month, Path(directory))
    print(report(month, episodes, promtool_seconds, scrape_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
