"""The I/O that feeds a vault's ledgers: the job-list reader, the job-detail fetcher, the inventory reader.

Readers ask Azure and hand what they parsed to the ledger; they keep only what the I/O itself needs
across scrapes (where a listing cut short goes on). The ledger sits behind a `GuardedLedger`, because
a scrape may read it (snapshot) while a reader writes it: readers hold its lock only to read what to
ask and to apply what came back, never during a request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from .azure.client import ArmClient, split_windows
from .azure.errors import (
    ArmError,
    ArmMalformedResponse,
    ArmNotFound,
    ArmServerError,
    ArmThrottled,
    ArmUnreachable,
)
from .inventory import MalformedItem, parse_protected_item, parse_vault
from .jobs import Job, MalformedJob, VaultRef, parse_job
from .ledger import Malformed, VaultLedger
from .policies import MalformedPolicy, parse_policy
from .protection import ProtectionLedger

log = logging.getLogger(__name__)

# Errors after which a listing goes on from its last page at the next refresh (others start it over).
RESUMABLE_ERRORS = (ArmUnreachable, ArmThrottled, ArmServerError)
# Pages one listing may take, across the scrapes it is resumed over: 200,000 jobs, some 30 times the job
# list of a vault of 1,000 daily-protected items over 7 days. A service that pages without end is cut
# there, and the vault's memory with it.
MAX_LISTING_PAGES = 1_000


class GuardedLedger:
    """A ledger and the lock that serialises its readers and the scrape's snapshots."""

    def __init__(self, ledger: VaultLedger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()

    @contextmanager
    def hold(self) -> Iterator[VaultLedger]:
        with self._lock:
            yield self._ledger


@dataclass
class _Listing:
    """One reading of the job list, kept across scrapes until every page of it is read.

    A vault whose lookback takes more pages than one scrape's budget allows (a cold start on a large
    vault) is read over several scrapes, each going on from the last page's nextLink, instead of
    starting over (and never finishing) each time.
    """

    now: float  # end of the last window: the watermark once every page is read
    start: float
    windows: list[tuple[float, float]]  # not finished yet, oldest first
    next_url: str | None = None  # where the first window goes on; None: from its start
    jobs: dict[str, Job] = field(default_factory=dict)
    malformed: list[Malformed] = field(default_factory=list)
    pages: int = 0
    links: set[str] = field(default_factory=set)  # every nextLink followed, across resumes


class JobListReader:
    """Lists the jobs that may have changed since the last listing, and checks running jobs that vanished.

    A listing is cut into windows of at most 30 days. A listing that fails on a transient error
    (unreachable, throttled, 5xx) goes on from its last page at the next refresh; any other error starts
    it over. A running job that a listing covering its start no longer returns is asked for by id.
    """

    def __init__(self, vault: VaultRef, client: ArmClient) -> None:
        self.vault = vault
        self._client = client
        self._listing: _Listing | None = None  # a listing cut short, to go on with

    def read(self, ledger: GuardedLedger, now: float, deadline: float) -> bool:
        """Read the listing to its end and fold it into the ledger; False (and a log line) if that failed."""
        listing = self._listing
        if listing is None:
            with ledger.hold() as state:
                start = state.window_start(now)
            listing = _Listing(now, start, split_windows(start, now))
        try:
            self._read_pages(listing, deadline)
        except ArmError as error:
            resumable = isinstance(error, RESUMABLE_ERRORS)
            self._listing = listing if resumable else None
            self._log_failure(error, listing if resumable else None)
            return False
        self._listing = None
        with ledger.hold() as state:
            missing = state.unlisted_running(listing.start, listing.jobs)
        vanished = self._check_by_id(missing, listing.jobs, deadline)
        with ledger.hold() as state:
            new_malformed = state.apply_listing(listing.jobs, listing.malformed, vanished, listing.now)
        for name, error in new_malformed:
            log.warning(
                "vault %s: skipping malformed job %s (%s)", self.vault, name or "without a name", error
            )
        return True

    def _read_pages(self, listing: _Listing, deadline: float) -> None:
        """Read the listing's pages, recording after each where it goes on, until none is left."""
        while listing.windows:
            window_start, window_end = listing.windows[0]
            pages = self._client.job_pages(self.vault, window_start, window_end, deadline, listing.next_url)
            for page in pages:
                self._count_page(listing, page.next_url)
                for item in page.items:
                    try:
                        job = parse_job(item)
                    except MalformedJob as error:
                        name = item.get("name") if isinstance(item, dict) else None
                        listing.malformed.append((name if isinstance(name, str) else None, error))
                        continue
                    listing.jobs[job.job_id] = job
                listing.next_url = page.next_url
            listing.windows.pop(0)
            listing.next_url = None

    @staticmethod
    def _count_page(listing: _Listing, next_url: str | None) -> None:
        """Refuse a listing that pages without end or in a loop, however many scrapes it spans."""
        listing.pages += 1
        if listing.pages > MAX_LISTING_PAGES:
            raise ArmMalformedResponse(
                200, "MalformedResponse", f"the job list has more than {MAX_LISTING_PAGES} pages", "list_jobs"
            )
        if next_url is not None:
            if next_url in listing.links:
                raise ArmMalformedResponse(200, "MalformedResponse", "nextLink repeats itself", "list_jobs")
            listing.links.add(next_url)

    def _check_by_id(self, missing: list[Job], listed: dict[str, Job], deadline: float) -> set[str]:
        """Ask for each missing running job; the ids Azure no longer has. Found ones join `listed`.

        Without this, a job deleted while running would stay `InProgress` until it left the lookback,
        holding every listing's window open back to its start. Only a 404 removes it: any other answer
        keeps what was known, so a flaky listing costs a request, never a job.
        """
        vanished = set()
        for job in missing:
            try:
                detail = parse_job(self._client.get_job(self.vault, job.job_id, deadline))
                listed[job.job_id] = replace(detail, job_id=job.job_id)
            except ArmNotFound:
                log.info("vault %s: running job %s is gone from Azure; forgotten", self.vault, job.job_id)
                vanished.add(job.job_id)
            except (ArmError, MalformedJob):
                pass
        return vanished

    def _log_failure(self, error: ArmError, resumed: _Listing | None) -> None:
        then = (
            f"; the listing goes on from there at the next refresh ({len(resumed.jobs)} jobs read so far)"
            if resumed is not None
            else ""
        )
        log.error(
            "vault %s: refresh failed: %s %s: %s%s",
            self.vault,
            error.status_text,
            error.code,
            error.message,
            then,
        )


class DetailFetcher:
    """Fetches the details (for the size) of finished jobs, each once.

    At most `allowance` per call (the scheduler gives the ARM reads the subscription can spare), most
    useful first (the ledger says which). The rest wait for the next call; a job that leaves the lookback
    before its turn is never fetched.
    """

    def __init__(self, vault: VaultRef, client: ArmClient) -> None:
        self.vault = vault
        self._client = client

    def fetch(self, ledger: GuardedLedger, deadline: float, allowance: int) -> int:
        """Fetch up to `allowance` jobs' details; the number of requests made."""
        if allowance <= 0:
            return 0
        with ledger.hold() as state:
            candidates = state.detail_candidates(allowance)
        made = 0
        for job in candidates:
            made += 1
            try:
                size = parse_job(self._client.get_job(self.vault, job.job_id, deadline)).size_bytes
            except ArmNotFound:
                size = None
            except MalformedJob as error:
                log.warning("vault %s: job %s has malformed details (%s)", self.vault, job.job_id, error)
                size = None
            except ArmError as error:
                log.warning(
                    "vault %s: job details postponed: %s %s: %s",
                    self.vault,
                    error.status_text,
                    error.code,
                    error.message,
                )
                return made
            with ledger.hold() as state:
                state.apply_size(job.job_id, size)
        return made


# A failed inventory reading is tried again after this share of the shorter of its intervals.
RETRY_SHARE = 0.25


class GuardedProtection:
    """A vault's protection ledger and the lock that serialises its reader and the scrape's snapshots."""

    def __init__(self, ledger: ProtectionLedger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()

    @contextmanager
    def hold(self) -> Iterator[ProtectionLedger]:
        with self._lock:
            yield self._ledger


class InventoryReader:
    """Reads a vault's protected items every `items_interval` seconds, and its policies and settings every
    `settings_interval` seconds (twice that when the vault must be read by a GET of its own, so that
    either way the inventory costs at most one request in ten scrapes a minute apart at the defaults);
    between readings it asks nothing.

    The vault's settings come from the subscription's vault list when discovery listed it
    (`listed_resource`), else from one GET of the vault. A failed reading keeps what the last ones gave,
    logs one line, sets `up` to False, and is tried again after a quarter of the shorter interval (not at
    every scrape: a vault whose inventory is forbidden must not double the cost of every scrape).
    """

    def __init__(
        self,
        vault: VaultRef,
        client: ArmClient,
        items_interval: float,
        settings_interval: float,
        listed_resource: Callable[[VaultRef], Any | None] = lambda vault: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock`: what the intervals are counted on (any clock in seconds that does not go back much)."""
        self.vault = vault
        self._client = client
        self._items_interval = items_interval
        self._settings_interval = settings_interval
        self._listed_resource = listed_resource
        self._clock = clock
        self._items_due = float("-inf")  # monotonic
        self._settings_due = float("-inf")
        self.up: bool | None = None  # None until the first reading

    def read(self, ledger: GuardedProtection, deadline: float) -> None:
        """Read what is due; `up` says how the last reading went (unchanged when nothing was due)."""
        now = self._clock()
        if now < self._settings_due and now < self._items_due:
            return
        try:
            if now >= self._settings_due:
                requests = self._read_settings(ledger, deadline)
                # a reading that had to GET the vault cost two requests: it comes half as often
                self._settings_due = now + self._settings_interval * requests
            if now >= self._items_due:
                self._read_items(ledger, deadline)
                self._items_due = now + self._items_interval
        except ArmError as error:
            self.up = False
            retry = now + RETRY_SHARE * min(self._items_interval, self._settings_interval)
            self._items_due = max(self._items_due, retry)
            self._settings_due = max(self._settings_due, retry)
            log.error(
                "vault %s: inventory read failed: %s %s: %s",
                self.vault,
                error.status_text,
                error.code,
                error.message,
            )
            return
        self.up = True

    def _read_settings(self, ledger: GuardedProtection, deadline: float) -> int:
        """Read the policies and the vault's settings; the number of requests it took (1 or 2)."""
        policies = []
        for raw in self._client.list_policies(self.vault, deadline):
            try:
                policies.append(parse_policy(raw))
            except MalformedPolicy as error:
                log.warning("vault %s: skipping malformed policy (%s)", self.vault, error)
        resource = self._listed_resource(self.vault)
        requests = 1
        if resource is None:
            resource = self._client.get_vault(self.vault, deadline)
            requests = 2
        try:
            settings = parse_vault(resource)
        except MalformedItem as error:
            raise ArmMalformedResponse(200, "MalformedResponse", f"vault: {error}", "get_vault") from None
        with ledger.hold() as state:
            state.apply_policies(policies)
            state.apply_settings(settings)
        return requests

    def _read_items(self, ledger: GuardedProtection, deadline: float) -> None:
        items, malformed = [], []
        for raw in self._client.list_protected_items(self.vault, deadline):
            try:
                items.append(parse_protected_item(raw))
            except MalformedItem as error:
                malformed.append(str(error))
        if malformed:
            log.warning(
                "vault %s: skipping %d malformed protected items (%s)",
                self.vault,
                len(malformed),
                malformed[0],
            )
        with ledger.hold() as state:
            state.apply_items(items)
