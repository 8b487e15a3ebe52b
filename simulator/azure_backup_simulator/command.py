"""The `simulate` command: serve a simulated Azure until interrupted, printing how to reach it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone

import click

from .config import SimulatorConfig
from .service import Simulator

_DEFAULTS = SimulatorConfig()
# Options that set the SimulatorConfig field of the same name, each with that field's default:
# (option, field, help).
_SETTINGS = (
    ("--seed", "seed", "Seed of the generated estate."),
    ("--subscriptions", "subscriptions", "Number of subscriptions."),
    ("--vaults", "vaults", "Number of vaults (0: empty estate)."),
    ("--entities-per-vault", "entities_per_vault", "Protected items per vault."),
    ("--history-days", "history_days", "Days of job history before the start."),
    ("--page-size", "page_size", "Items per page of list responses."),
    ("--start-time", "start_time", "Simulated UTC start time (ISO 8601) [default: now]."),
    ("--failure-rate", "failure_rate", "Share of scheduled jobs that fail."),
    ("--warning-rate", "warning_rate", "Share ending CompletedWithWarnings."),
    (
        "--legacy-format-share",
        "legacy_format_share",
        "Share of vaults with TimeSpan durations, integer actionsInfo, lower-case provider ids.",
    ),
    (
        "--fast-schedule",
        "fast_schedule_seconds",
        "Demo mode: start a backup of every item every this many seconds (0: daily schedule).",
    ),
    ("--log-backup-interval-hours", "log_backup_interval_hours", "Interval of SQL / SAP HANA log backups."),
    (
        "--list-hidden-scheduled-jobs/--no-list-hidden-scheduled-jobs",
        "list_hidden_scheduled_jobs",
        "Also list scheduled SQL log backups and scheduled SAP HANA jobs, which Azure leaves out.",
    ),
    ("--token-lifetime", "token_lifetime_seconds", "Lifetime of issued tokens, in seconds."),
    ("--throttle-capacity", "throttle_capacity", "ARM read token bucket size per subscription."),
    (
        "--throttle-refill",
        "throttle_refill_per_second",
        "ARM read tokens refilled per second per subscription.",
    ),
    (
        "--throttle-follows-clock/--no-throttle-follows-clock",
        "throttle_follows_clock",
        "Refill the ARM read bucket on the simulated clock (moving the clock on refills it).",
    ),
    (
        "--max-window-days",
        "max_window_days",
        "Longest startTime/endTime window accepted in $filter (0: no limit).",
    ),
    ("--render-cache-jobs", "render_cache_jobs", "Finished jobs kept rendered for list pages (0: no cache)."),
    ("--identity-header", "identity_header", "IDENTITY_HEADER secret [default: random]."),
)


def _setting_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of `_SETTINGS`, in that order."""
    for option, field, help_text in reversed(_SETTINGS):
        command = click.option(option, field, default=getattr(_DEFAULTS, field), help=help_text)(command)
    return command


def parse_listen_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[IPv6]:PORT` -> (host, port)."""
    host, separator, port_text = text.rpartition(":")
    if not separator or not port_text.isdigit() or not host:
        raise click.BadParameter(f"'{text}' is not HOST:PORT (for example 127.0.0.1:0)")
    port = int(port_text)
    if port > 65535:
        raise click.BadParameter(f"port {port} is out of range")
    return host.strip("[]"), port


def _parse_start_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise click.BadParameter(f"'{text}' is not an ISO 8601 time such as 2026-11-26T06:00:00Z") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# -h as well as --help, as under `azure-backup-exporter simulate`, whose group sets it.
@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option(
    "--web.listen-address",
    "listen_address",
    default="127.0.0.1:0",
    help="HOST:PORT to listen on; port 0 picks a free port.",
)
@_setting_options
@click.option("--latency-ms", default=0, help="Fault: added latency of ARM responses.")
@click.option("--jitter-ms", default=0, help="Fault: random +/- jitter added to the latency.")
@click.option("--throttle/--no-throttle", default=False, help="Fault: answer every ARM read 429.")
@click.option(
    "--retry-after", "retry_after_seconds", default=1, help="Retry-After of forced 429s, in seconds."
)
@click.option("--server-error-rate", default=0.0, help="Fault: share of ARM requests answered 500.")
@click.option("--hang-seconds", default=0.0, help="Fault: hold every ARM response this long.")
@click.option("--malformed-rate", default=0.0, help="Fault: share of 200 answers with invalid JSON.")
@click.option("--truncated-rate", default=0.0, help="Fault: share of 200 answers cut short.")
@click.option(
    "--revoked-vault", "revoked_vaults", multiple=True, help="Fault: vault id answered 403 (repeatable)."
)
@click.option(
    "--deleted-vault", "deleted_vaults", multiple=True, help="Fault: vault id answered 404 (repeatable)."
)
def simulate(
    listen_address: str,
    start_time: str | None,
    latency_ms: int,
    jitter_ms: int,
    throttle: bool,
    retry_after_seconds: int,
    server_error_rate: float,
    hang_seconds: float,
    malformed_rate: float,
    truncated_rate: float,
    revoked_vaults: tuple[str, ...],
    deleted_vaults: tuple[str, ...],
    **settings: object,
) -> None:
    """Serve a simulated Azure Recovery Services API (ARM routes, managed-identity token endpoint and a
    control API under /_simulator/) until interrupted."""
    host, port = parse_listen_address(listen_address)
    faults = {
        "latency_ms": latency_ms,
        "jitter_ms": jitter_ms,
        "throttle": throttle,
        "retry_after_seconds": retry_after_seconds,
        "server_error_rate": server_error_rate,
        "hang_seconds": hang_seconds,
        "malformed_rate": malformed_rate,
        "truncated_rate": truncated_rate,
        "revoked_vaults": list(revoked_vaults),
        "deleted_vaults": list(deleted_vaults),
    }
    try:
        config = SimulatorConfig(
            host=host, port=port, start_time=_parse_start_time(start_time), faults=faults, **settings
        )  # type: ignore[arg-type]
        simulator = Simulator(config).start()
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from error
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    try:
        click.echo(f"ARM_ENDPOINT={simulator.arm_endpoint}")
        click.echo(f"IDENTITY_ENDPOINT={simulator.identity_endpoint}")
        click.echo(f"IDENTITY_HEADER={simulator.identity_header}", nl=True)
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
