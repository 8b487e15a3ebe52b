"""The recorded jobs (tests/fixtures/azure-recordings/backup-jobs.jsonl) and what each one says.

`expected()` reads the recordings the way the documentation of the metrics (docs/metrics.md,
docs/real-data.md) says a user should read them, written here from those documents alone and
sharing no code with the exporter: the replay test compares it with the exporter's /metrics.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

RECORDINGS = Path(__file__).parents[1] / "fixtures" / "azure-recordings" / "backup-jobs.jsonl"
_VAULT = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.RecoveryServices/"
                    r"vaults/([^/]+)/backupJobs/", re.IGNORECASE)  # fmt: skip
_ISO = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
_TIMESPAN = re.compile(r"^(\d+):(\d\d):(\d\d(?:\.\d+)?)$")
_BRACKETED = re.compile(r"^(?:.*/)?([^/]+?) \[[^\]]+\]$")
FINISHED = {"Completed", "CompletedWithWarnings", "Failed", "Cancelled"}
MIB = 2**20

Vault = tuple[str, str, str]  # subscription, resource group, name as the first job of the vault writes them


@cache
def recorded() -> tuple[dict[str, Any], ...]:
    with RECORDINGS.open(encoding="utf-8") as lines:
        return tuple(json.loads(line) for line in lines)


def vault_of(job: dict[str, Any]) -> tuple[str, str, str]:
    match = _VAULT.match(job["id"])
    assert match, job["id"]
    return (match[1].lower(), match[2].lower(), match[3].lower())


def jobs_by_vault() -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    vaults: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in recorded():
        vaults[vault_of(line["job"])].append(line["job"])
    return dict(vaults)


def seconds(text: str) -> float:
    """Unix seconds of a recorded time (4 to 7 fraction digits, Z)."""
    whole, _, rest = text.rstrip("Z").partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp()
    return moment + (float("0." + rest) if rest else 0.0)


def duration(text: str) -> float:
    """Seconds of a recorded duration: ISO 8601 (`PT1H40.4431187S`, `PT0S`) or TimeSpan (`00:35:22.00846`)."""
    iso, span = _ISO.match(text), _TIMESPAN.match(text)
    if iso:
        days, hours, minutes, secs = (float(part) if part else 0.0 for part in iso.groups())
        return days * 86400 + hours * 3600 + minutes * 60 + secs
    assert span, text
    return int(span[1]) * 3600 + int(span[2]) * 60 + float(span[3])


def size(job: dict[str, Any]) -> int | None:
    """ "Backup Size" ("N MB"), else "Data Transferred (in MB)" (a number of MB); binary MB."""
    bag = (job["properties"].get("extendedInfo") or {}).get("propertyBag") or {}
    if "Backup Size" in bag:
        number, unit = bag["Backup Size"].split()
        assert unit == "MB"
        return int(Decimal(number) * MIB)
    if "Data Transferred (in MB)" in bag:
        return round(Decimal(bag["Data Transferred (in MB)"]) * MIB)
    return None


def error_code(job: dict[str, Any]) -> str | None:
    details = job["properties"].get("errorDetails")
    if not details:
        return None
    return details[0].get("errorTitle") or str(details[0]["errorCode"])


def entity_names(jobs: list[dict[str, Any]]) -> dict[tuple[str | None, str], str]:
    """The documented rule (docs/metrics.md, "entity"), for one vault's workload jobs."""
    workload = [j["properties"] for j in jobs if j["properties"]["backupManagementType"] == "AzureWorkload"]
    bracketed: dict[tuple[str | None, str], set[str]] = defaultdict(set)
    for p in workload:
        match = _BRACKETED.match(p["entityFriendlyName"])
        if match:
            bracketed[(p.get("workloadType"), match[1].lower())].add(p["entityFriendlyName"])
    names = {}
    for p in workload:
        name, kind = p["entityFriendlyName"], p.get("workloadType")
        found = bracketed.get((kind, name.lower()), set()) if not _BRACKETED.match(name) else set()
        names[(kind, name)] = next(iter(found)) if len(found) == 1 else name
    return names


@dataclass
class Entity:
    """What /metrics should say of one (backup management type, entity, operation)."""

    latest: dict[str, Any]
    finished: Counter[str] = field(default_factory=Counter)
    last_success: float | None = None
    sizes: list[tuple[float, int]] = field(default_factory=list)  # (start, size) of finished jobs
    # the finished jobs an exporter starting now fetches the details of: the latest, the latest successful
    fetched: dict[str, dict[str, Any]] = field(default_factory=dict)

    def fetched_sizes(self) -> list[tuple[float, int]]:
        """(start, size) of the fetched jobs that report a size, oldest first."""
        jobs = {job["name"]: job for job in self.fetched.values()}  # the latest may be the latest successful
        found = [(seconds(job["properties"]["startTime"]), size(job)) for job in jobs.values()]
        return sorted((start, bytes_) for start, bytes_ in found if bytes_ is not None)


@dataclass
class VaultExpectation:
    entities: dict[tuple[str, str, str], Entity]
    jobs: Counter[tuple[str, str, str]]  # (type, operation, status) -> jobs
    durations: dict[tuple[str, str], list[float]]  # (type, operation) -> finished jobs' durations


def finished(job: dict[str, Any]) -> bool:
    return job["properties"]["status"] in FINISHED


def reported_duration(job: dict[str, Any]) -> float:
    p = job["properties"]
    if p.get("duration"):
        return duration(p["duration"])
    return seconds(p["endTime"]) - seconds(p["startTime"])


def expected(jobs: list[dict[str, Any]]) -> VaultExpectation:
    names = entity_names(jobs)
    entities: dict[tuple[str, str, str], Entity] = {}
    counts: Counter[tuple[str, str, str]] = Counter()
    durations: dict[tuple[str, str], list[float]] = defaultdict(list)
    for job in sorted(jobs, key=lambda j: (seconds(j["properties"]["startTime"]), j["name"])):
        p = job["properties"]
        name = p["entityFriendlyName"]
        if p["backupManagementType"] == "AzureWorkload":
            name = names[(p.get("workloadType"), name)]
        key = (p["backupManagementType"], name, p["operation"])
        entity = entities.setdefault(key, Entity(job))
        entity.latest = job  # sorted by start, then name: the last one wins
        counts[(p["backupManagementType"], p["operation"], p["status"])] += 1
        if not finished(job):
            continue
        entity.finished[p["status"]] += 1
        entity.fetched["finished"] = job
        if p["status"] in ("Completed", "CompletedWithWarnings"):
            entity.fetched["succeeded"] = job
        durations[(p["backupManagementType"], p["operation"])].append(reported_duration(job))
        if p["status"] in ("Completed", "CompletedWithWarnings"):
            end = seconds(p["endTime"])
            entity.last_success = max(end, entity.last_success or end)
        if size(job) is not None:
            entity.sizes.append((seconds(p["startTime"]), size(job)))  # type: ignore[arg-type]
    return VaultExpectation(entities, counts, dict(durations))
