"""`azure-backup-exporter jobs list|show|watch`: tracking backup and restore jobs by hand, read-only.

The same credential, config file, cloud and vault options as `serve` (from `config.OPTIONS`, passed
in by `cli.py`); reading and following live in `tracking/`. This module turns options into calls,
picks the output (a table, details, a live frame on a terminal, lines otherwise, or JSON) and says
how it ended in the exit status (`EXIT_*`, documented in docs/jobs-cli.md).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn, TextIO

import click

from .azure import ApiStats, ArmClient
from .azure.errors import ArmError, ArmNotFound
from .config import Config, parse_prometheus_duration
from .jobs import FINISHED_STATUSES, MalformedJob, VaultRef
from .tracking import fetch, present
from .tracking.follow import OperationFailed, Pace, WatchTimeout, follow_operation, watch_job
from .tracking.operations import OperationRef, OperationStatus, OperationUrlError, parse_operation_url
from .tracking.views import JobView, detail_record, elapsed_seconds, job_record, parse_job_resource_id

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # as `serve` and `check`: a bad option or configuration, one line
EXIT_WARNINGS = 3
EXIT_CANCELLED = 4
EXIT_TIMEOUT = 5
EXIT_AZURE = 6  # Azure could not be read: not found, no permission, unreachable, an expired operation
EXIT_INTERRUPTED = 130
EXIT_BY_STATUS = {
    "Completed": EXIT_COMPLETED,
    "CompletedWithWarnings": EXIT_WARNINGS,
    "Failed": EXIT_FAILED,
    "Cancelled": EXIT_CANCELLED,
}
SHARED_OPTIONS = ["config.file", "vault", "subscription", "cloud", "arm-endpoint", "log.level"]
DEFAULT_CONCURRENCY = 100
JOBS_READ = "Microsoft.RecoveryServices/Vaults/backupJobs/read"
OPERATIONS_READ = (
    "Microsoft.RecoveryServices/Vaults/backupOperations/read (or the protected item's operationsStatus/read)"
)
REQUEST_SECONDS = 120.0
EXPECTED_JOB = (
    "a job id (a GUID such as 41f3e94b-ae6b-4a20-b422-65abfcaf03e5) or a job resource id "
    "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.RecoveryServices/vaults/<name>/backupJobs/<id>"
)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
Loader = Callable[[dict[str, Any]], Config]


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"azure-backup-exporter: {message}", err=True)
    sys.exit(code)


def _client(config: Config) -> ArmClient:
    from .service import configure_logging, default_credential

    configure_logging(config.log_level)
    return ArmClient(default_credential(), config.arm_endpoint, config.token_scope, ApiStats())


def _duration(value: str, option: str) -> float:
    try:
        return parse_prometheus_duration(value)
    except ValueError:
        _fail(f"{option}: expected a duration such as 30s, 15m, 24h or 7d, got {value!r}", EXIT_USAGE)


def _choices(values: tuple[str, ...], allowed: tuple[str, ...], option: str, free: bool = False) -> frozenset:
    """Lower-cased values, each one of `allowed` (any case) unless `free` (then anything goes)."""
    known = {value.lower() for value in allowed}
    for value in values:
        if not free and value.lower() not in known:
            _fail(f"{option}: expected one of {', '.join(allowed)}, got {value!r}", EXIT_USAGE)
    return frozenset(value.lower() for value in values)


def _vaults(client: ArmClient, config: Config, max_concurrency: int) -> list[VaultRef]:
    if not config.vaults and not config.subscriptions:
        _fail(
            "--vault or --subscription: expected at least one vault resource id or subscription id "
            "(flag, environment or --config.file)",
            EXIT_USAGE,
        )
    vaults, failures = fetch.discover_vaults(
        client,
        [vault.vault for vault in config.vaults],
        config.subscriptions,
        time.monotonic() + REQUEST_SECONDS,
        max_concurrency,
    )
    for failure in failures:
        click.echo(
            present.describe_error(failure.error, failure.target, "Microsoft.RecoveryServices/Vaults/read"),
            err=True,
        )
    return vaults


def _output_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
        help="table for people, json for scripts.",
    )(func)  # fmt: skip


def _concurrency_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--max-concurrency", type=click.IntRange(min=1), default=DEFAULT_CONCURRENCY, show_default=True,
        help="Vaults read at the same time (serve's default of 8 suits a background scrape; a person waits).",
    )(func)  # fmt: skip


def make_jobs_group(shared: Callable[[list[str]], Decorator], load: Loader) -> click.Group:
    """The `jobs` group, given `cli.py`'s decorator of shared options and its config loader."""

    @click.group()
    def jobs() -> None:
        """Track backup and restore jobs by hand: list, show, watch (read-only)."""

    @jobs.command("list")
    @shared(SHARED_OPTIONS)
    @click.option("--status", multiple=True, help="Only jobs of this status (repeatable).")
    @click.option("--operation", "operations", multiple=True, help="Only this operation (repeatable).")
    @click.option("--entity", help="Only entities matching this pattern (*, ?; any case).")
    @click.option("--since", default="24h", show_default=True, help="Jobs started within this duration.")
    @click.option("--backup-management-type", "types", multiple=True, help="Only this type (repeatable).")
    @_concurrency_option
    @_output_option
    def list_command(
        status: tuple[str, ...],
        operations: tuple[str, ...],
        entity: str | None,
        since: str,
        types: tuple[str, ...],
        max_concurrency: int,
        output: str,
        **params: Any,
    ) -> None:
        """Jobs of every configured vault (or --vault/--subscription), oldest start first."""
        since_seconds = _duration(since, "--since")
        if since_seconds <= 0:
            _fail(f"--since: expected a duration above 0s, got {since!r}", EXIT_USAGE)
        filters = fetch.JobFilters(
            since_seconds=since_seconds,
            statuses=_choices(status, fetch.JOB_STATUSES + ("NotStarted",), "--status"),
            operations=_choices(operations, fetch.FILTER_OPERATIONS, "--operation", free=True),
            management_types=_choices(types, fetch.BACKUP_MANAGEMENT_TYPES, "--backup-management-type"),
            entity_pattern=entity,
        )
        config = load(params)
        client = _client(config)
        vaults = _vaults(client, config, max_concurrency)
        now = time.time()
        listing = fetch.list_jobs(
            client, vaults, filters, now, time.monotonic() + REQUEST_SECONDS, max_concurrency
        )
        if output == "json":
            click.echo(json.dumps([job_record(view) for view in listing.views], indent=2))
        elif listing.views:
            for line in present.jobs_table(listing.views, now):
                click.echo(line)
        else:
            click.echo(f"no jobs in {len(vaults)} vault(s) since {since}", err=True)
        if listing.malformed:
            click.echo(f"{listing.malformed} job record(s) could not be read and were skipped", err=True)
        for failure in listing.failures:
            click.echo(present.describe_error(failure.error, failure.target, JOBS_READ), err=True)
        if listing.failures:
            sys.exit(EXIT_AZURE)

    @jobs.command("show")
    @click.argument("job")
    @shared(SHARED_OPTIONS)
    @_concurrency_option
    @_output_option
    def show_command(job: str, max_concurrency: int, output: str, **params: Any) -> None:
        """One job in full: tasks, progress, property bag, errors. JOB is its id or its resource id."""
        config = load(params)
        view = _find(job, config, _client(config), max_concurrency)
        if output == "json":
            click.echo(json.dumps(detail_record(view), indent=2))
        else:
            for line in present.job_details(view, time.time()):
                click.echo(line)

    @jobs.command("watch")
    @click.argument("job", required=False)
    @click.option("--operation", "operation_url", help="Location or Azure-AsyncOperation URL to follow.")
    @click.option("--timeout", help="Give up after this long (exit 5); default: wait until the job ends.")
    @click.option("--poll-interval", default="10s", show_default=True, help="First wait between polls.")
    @shared(SHARED_OPTIONS)
    @_concurrency_option
    def watch_command(
        job: str | None,
        operation_url: str | None,
        timeout: str | None,
        poll_interval: str,
        max_concurrency: int,
        **params: Any,
    ) -> None:
        """Follow an operation to its job, then the job until it ends; the exit status says how."""
        if (job is None) == (operation_url is None):
            _fail("jobs watch: expected a JOB or --operation URL (one of them)", EXIT_USAGE)
        interval = _duration(poll_interval, "--poll-interval")
        if interval <= 0:
            _fail(f"--poll-interval: expected a duration above 0s, got {poll_interval!r}", EXIT_USAGE)
        limit = None if timeout is None else _duration(timeout, "--timeout")
        ref = None
        if operation_url is not None:
            try:
                ref = parse_operation_url(operation_url)
            except OperationUrlError as error:
                _fail(f"--operation: {error}, got {operation_url[:300]!r}", EXIT_USAGE)
        config = load(params)
        client = _client(config)
        screen = Screen(sys.stdout)
        pace = Pace(limit, tick=screen.tick)
        target = f"operation {ref.operation_id}" if ref else f"job {job}"
        try:
            if ref is not None:
                _check_endpoint(ref, config)
                job_id = _follow(client, ref, pace, interval, screen)
                vault = ref.vault
            else:
                found = _find(str(job), config, client, max_concurrency)
                job_id, vault = found.job.job_id, found.vault
            final = watch_job(client, vault, job_id, pace, interval, screen.show, screen.transient)
        except WatchTimeout:
            screen.close()
            _fail(f"{target}: still running after --timeout {timeout}; it goes on in Azure", EXIT_TIMEOUT)
        except KeyboardInterrupt:
            screen.close()
            _fail(f"stopped watching {target}; the job itself goes on in Azure", EXIT_INTERRUPTED)
        screen.close()
        click.echo(present.final_line(final, time.time()))
        sys.exit(EXIT_BY_STATUS.get(final.job.status, EXIT_FAILED))

    return jobs


def _check_endpoint(ref: OperationRef, config: Config) -> None:
    from urllib.parse import urlsplit

    parts, arm = urlsplit(ref.url), urlsplit(config.arm_endpoint)
    if not parts.netloc:
        return
    if (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port) != (
        arm.scheme.lower(),
        (arm.hostname or "").lower(),
        arm.port,
    ):
        _fail(
            f"--operation: {parts.scheme}://{parts.netloc} is not the ARM endpoint {config.arm_endpoint}; "
            "refusing to send the token there (use --arm-endpoint or --cloud for another cloud)",
            EXIT_USAGE,
        )


def _follow(client: ArmClient, ref: OperationRef, pace: Pace, interval: float, screen: Screen) -> str:
    try:
        return follow_operation(
            client, ref, pace, interval, lambda status: screen.operation(ref, status), screen.transient
        )
    except OperationFailed as error:
        screen.close()
        _fail(f"operation {ref.operation_id} in vault {ref.vault.name}: {error}", EXIT_FAILED)
    except ArmNotFound as error:
        screen.close()
        _fail(
            f"operation {ref.operation_id} not found in vault {ref.vault.name} ({error.code}): "
            "it has expired (Azure keeps an operation's status for a limited time) or never existed; "
            "find its job with "
            f"`jobs list --vault {ref.vault.resource_id}`",
            EXIT_AZURE,
        )
    except ArmError as error:
        screen.close()
        _fail(
            present.describe_error(
                error, f"operation {ref.operation_id} in vault {ref.vault.name}", OPERATIONS_READ
            ),
            EXIT_AZURE,
        )


def _find(job: str, config: Config, client: ArmClient, max_concurrency: int) -> JobView:
    """The job named by a resource id, or by a bare id in whichever configured vault has it."""
    text = job.strip()
    deadline = time.monotonic() + REQUEST_SECONDS
    try:
        if "/" in text:
            try:
                vault, job_id = parse_job_resource_id(text)
            except ValueError:
                _fail(f"JOB: expected {EXPECTED_JOB}, got {text[:300]!r}", EXIT_USAGE)
            try:
                return fetch.get_job(client, vault, job_id, deadline)
            except ArmNotFound as error:
                _fail(
                    f"job {job_id} not found in vault {vault.name} ({error.code}: {error.message})",
                    EXIT_AZURE,
                )
        if not _GUID.match(text):
            _fail(f"JOB: expected {EXPECTED_JOB}, got {text[:300]!r}", EXIT_USAGE)
        vaults = _vaults(client, config, max_concurrency)
        view, failures = fetch.find_job(client, vaults, text, deadline, max_concurrency)
    except ArmNotFound as error:
        _fail(f"job {text}: not found ({error.code}: {error.message})", EXIT_AZURE)
    except ArmError as error:
        _fail(present.describe_error(error, f"job {text}", JOBS_READ), EXIT_AZURE)
    except MalformedJob as error:
        _fail(f"job {text}: Azure's answer could not be read ({error})", EXIT_AZURE)
    if view is not None:
        return view
    for failure in failures:
        click.echo(present.describe_error(failure.error, failure.target, JOBS_READ), err=True)
    searched = ", ".join(vault.name for vault in vaults)
    _fail(f"job {text} not found in {len(vaults)} vault(s) searched: {searched}", EXIT_AZURE)


class Screen:
    """Where a watch shows itself: a live frame redrawn in place on a terminal, else timestamped lines
    printed when something changed (stable, for logs and pipelines)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self._drawn = 0
        self._view: JobView | None = None
        self._seen_at = 0.0
        self._last_line: str | None = None

    def _emit(self, line: str) -> None:
        if line != self._last_line:
            self._last_line = line
            self._clear()
            self.stream.write(present.stamped(line, time.time()) + "\n")
            self.stream.flush()
            self._redraw()

    def operation(self, ref: OperationRef, status: OperationStatus) -> None:
        self._emit(present.operation_line(ref, status))

    def transient(self, error: ArmError) -> None:
        self._emit(f"polling again after {error.status_text} {error.code}")

    def show(self, view: JobView) -> None:
        self._view, self._seen_at = view, time.monotonic()
        if self.live:
            self._redraw()
        else:
            self._emit(present.job_line(view))

    def tick(self) -> None:
        if self.live and self._view is not None:
            self._redraw()

    def _elapsed(self) -> float:
        assert self._view is not None
        running = self._view.job.status not in FINISHED_STATUSES
        extra = time.monotonic() - self._seen_at if running else 0.0
        return elapsed_seconds(self._view, time.time()) + extra

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _redraw(self) -> None:
        if not self.live or self._view is None:
            return
        lines = present.live_frame(self._view, self._elapsed())
        self._clear()
        self.stream.write("".join(f"\x1b[2K{line}\n" for line in lines))
        self.stream.flush()
        self._drawn = len(lines)

    def close(self) -> None:
        """Leave the last frame on screen (it is the job's final state) and stop redrawing."""
        self._drawn = 0
        self.live = False
        self.stream.flush()
