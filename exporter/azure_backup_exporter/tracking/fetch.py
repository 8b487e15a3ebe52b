"""Reading jobs for a person: every vault at once, each vault's listing paged to its end.

A person waits at a terminal, so vaults are read concurrently, as many at a time as `max_concurrency`
allows (one round for up to 100 vaults by default), not one after the other; one vault failing
does not hide the others: its failure is handed back beside what the rest gave.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from ..azure.client import ArmClient, split_windows
from ..azure.errors import ArmError, ArmNotFound
from ..jobs import MalformedJob, VaultRef
from .views import JobView, job_view

# The enums ARM's $filter accepts (azure-api.md section 1.1); other values are filtered here instead.
JOB_STATUSES = ("InProgress", "Completed", "Failed", "CompletedWithWarnings", "Cancelled", "Cancelling")
FILTER_OPERATIONS = (
    "Register", "UnRegister", "ConfigureBackup", "Backup", "Restore", "DisableBackup", "DeleteBackupData",
    "CrossRegionRestore", "Undelete", "UpdateCustomerManagedKey",
)  # fmt: skip
BACKUP_MANAGEMENT_TYPES = (
    "AzureIaasVM", "MAB", "DPM", "AzureBackupServer", "AzureSql", "AzureStorage", "AzureWorkload",
    "DefaultBackup",
)  # fmt: skip

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Failure:
    """A vault (or subscription) that could not be read, and why."""

    target: str
    error: ArmError


@dataclass(frozen=True)
class JobFilters:
    since_seconds: float
    statuses: frozenset[str] = frozenset()  # lower case
    operations: frozenset[str] = frozenset()  # lower case
    management_types: frozenset[str] = frozenset()  # lower case
    entity_pattern: str | None = None

    def arm_terms(self) -> dict[str, str]:
        """The terms ARM can apply itself: a field with exactly one value of its enum."""
        terms = {}
        for name, chosen, allowed in (
            ("status", self.statuses, JOB_STATUSES),
            ("operation", self.operations, FILTER_OPERATIONS),
            ("backupManagementType", self.management_types, BACKUP_MANAGEMENT_TYPES),
        ):
            known = {value.lower(): value for value in allowed}
            if len(chosen) == 1 and next(iter(chosen)) in known:
                terms[name] = known[next(iter(chosen))]
        return terms

    def matches(self, view: JobView) -> bool:
        job = view.job
        operation = job.operation.lower()
        return (
            (not self.statuses or job.status.lower() in self.statuses)
            and (
                not self.operations
                # SQL/HANA write "Backup (Full)": a Backup for the filter, as ARM's own filter has it
                or any(operation == op or operation.startswith(op + " (") for op in self.operations)
            )
            and (not self.management_types or job.backup_management_type.lower() in self.management_types)
            and (
                self.entity_pattern is None
                or fnmatch.fnmatchcase(job.entity.lower(), self.entity_pattern.lower())
            )
        )


@dataclass
class Listing:
    views: list[JobView] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    malformed: int = 0
    vaults: int = 0


def concurrently(
    items: Sequence[T], work: Callable[[T], R], max_concurrency: int
) -> list[tuple[T, R | ArmError]]:
    """`work` over `items`, at most `max_concurrency` at a time, results in the order of `items`."""
    if not items:
        return []

    def guarded(item: T) -> R | ArmError:
        try:
            return work(item)
        except ArmError as error:
            return error

    with ThreadPoolExecutor(max_workers=max(1, min(max_concurrency, len(items)))) as pool:
        return list(zip(items, pool.map(guarded, items), strict=True))


def discover_vaults(
    client: ArmClient,
    vaults: Iterable[VaultRef],
    subscriptions: Sequence[str],
    deadline: float,
    max_concurrency: int,
) -> tuple[list[VaultRef], list[Failure]]:
    """The configured vaults plus every vault of the subscriptions, without duplicates."""
    found: dict[tuple[str, str, str], VaultRef] = {vault.key: vault for vault in vaults}
    failures = []
    listed = concurrently(list(subscriptions), lambda sub: client.list_vaults(sub, deadline), max_concurrency)
    for subscription, result in listed:
        if isinstance(result, ArmError):
            failures.append(Failure(f"subscription {subscription}", result))
            continue
        for vault, _ in result:
            found.setdefault(vault.key, vault)
    return list(found.values()), failures


def list_jobs(
    client: ArmClient,
    vaults: Sequence[VaultRef],
    filters: JobFilters,
    now: float,
    deadline: float,
    max_concurrency: int,
) -> Listing:
    """Every job of every vault started within `filters.since_seconds` of `now`, all pages read."""
    terms = filters.arm_terms()

    def read(vault: VaultRef) -> tuple[list[JobView], int]:
        views, malformed = [], 0
        for start, end in split_windows(now - filters.since_seconds, now):
            for page in client.job_pages(vault, start, end, deadline, terms=terms):
                for raw in page.items:
                    try:
                        view = job_view(raw, vault)
                    except MalformedJob:
                        malformed += 1
                        continue
                    if filters.matches(view):
                        views.append(view)
        return views, malformed

    listing = Listing(vaults=len(vaults))
    seen: set[str] = set()
    for vault, result in concurrently(list(vaults), read, max_concurrency):
        if isinstance(result, ArmError):
            listing.failures.append(Failure(f"vault {vault.name}", result))
            continue
        views, malformed = result
        listing.malformed += malformed
        for view in views:
            if view.resource_id.lower() not in seen:  # a job on the edge of two windows is listed twice
                seen.add(view.resource_id.lower())
                listing.views.append(view)
    listing.views.sort(key=lambda view: (view.job.start_time, view.vault.name, view.job.job_id))
    return listing


def get_job(client: ArmClient, vault: VaultRef, job_id: str, deadline: float) -> JobView:
    return job_view(client.get_job(vault, job_id, deadline), vault)


def find_job(
    client: ArmClient, vaults: Sequence[VaultRef], job_id: str, deadline: float, max_concurrency: int
) -> tuple[JobView | None, list[Failure]]:
    """The job of that id in whichever vault has it (all asked at once); None when none has it."""

    def ask(vault: VaultRef) -> JobView | None:
        try:
            return get_job(client, vault, job_id, deadline)
        except ArmNotFound as error:
            message = error.message.lower()
            if "backupjobs" in message or job_id.lower() in message:
                return None
            raise  # the vault itself is gone

    failures = []
    for vault, result in concurrently(list(vaults), ask, max_concurrency):
        if isinstance(result, ArmError):
            failures.append(Failure(f"vault {vault.name}", result))
        elif result is not None:
            return result, failures
    return None, failures
