"""Every knob of the simulator in one frozen object, so tests, benchmarks and the CLI agree on defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SimulatorConfig:
    """Size, behaviour and fault settings of a simulated Azure estate.

    Defaults give a small estate that a demo or a test can read in a few requests.
    """

    seed: int = 1
    """Seed of the deterministic estate generator (same seed and start_time, same estate)."""
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port."""
    subscriptions: int = 2
    vaults: int = 4
    """Vaults spread round-robin over the subscriptions; 0 gives an empty estate."""
    entities_per_vault: int = 6
    """Protected items per vault, a mix of every kind the API knows."""
    history_days: int = 7
    """Days of finished jobs generated before the start time."""
    page_size: int = 200
    """Jobs (and vaults) per page; Azure's documented maximum is 200."""
    start_time: datetime | None = None
    """Simulated time at start (UTC); None means the real current time. The clock then runs in real time."""
    failure_rate: float = 0.05
    """Share of scheduled jobs that fail."""
    warning_rate: float = 0.03
    """Share of scheduled jobs that end CompletedWithWarnings."""
    legacy_format_share: float = 0.2
    """Share of vaults answering in the older wire format seen in real responses: .NET TimeSpan
    durations, integer actionsInfo and a lower-case provider in job ids."""
    fast_schedule_seconds: float = 0.0
    """If > 0, live jobs start every this many seconds per entity (demo mode) instead of on the daily
    schedule, and run for a fraction of that period."""
    log_backup_interval_hours: int = 4
    """Interval of SQL / SAP HANA log backups."""
    list_hidden_scheduled_jobs: bool = False
    """Azure leaves scheduled SQL log backups and every scheduled SAP HANA job out of the job list (and
    they have no job to GET); True lists them too. They happen either way."""
    token_lifetime_seconds: int = 3600
    """Lifetime of the managed-identity tokens the simulator issues."""
    throttle_capacity: int = 250
    """ARM read token bucket per subscription: size."""
    throttle_refill_per_second: float = 25.0
    """ARM read token bucket per subscription: refill rate."""
    throttle_follows_clock: bool = False
    """True: the read bucket refills on the simulated clock, so that moving the clock on
    (`POST /_simulator/clock`) refills it as that much time would (a benchmark runs scrapes a simulated
    minute apart back to back). False: on real time only."""
    max_window_days: int = 30
    """A startTime/endTime window longer than this is answered 400; 0 disables the check."""
    render_cache_jobs: int = 100_000
    """Finished jobs whose list-form JSON is kept rendered (about 0.7 kB each); 0 disables the cache."""
    identity_header: str | None = None
    """The IDENTITY_HEADER secret; None generates a random one."""
    faults: dict = field(default_factory=dict)
    """Initial fault state, same keys as POST /_simulator/faults."""

    def __post_init__(self) -> None:
        problems = []
        for name in (
            "subscriptions",
            "vaults",
            "entities_per_vault",
            "history_days",
            "log_backup_interval_hours",
            "token_lifetime_seconds",
            "throttle_capacity",
            "max_window_days",
            "port",
            "render_cache_jobs",
        ):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.subscriptions < 1:
            problems.append("subscriptions must be >= 1")
        if self.page_size < 1:
            problems.append("page_size must be >= 1")
        if self.log_backup_interval_hours < 1:
            problems.append("log_backup_interval_hours must be >= 1")
        for name in ("failure_rate", "warning_rate", "legacy_format_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1")
        if self.throttle_refill_per_second <= 0:
            problems.append("throttle_refill_per_second must be > 0")
        if self.fast_schedule_seconds < 0:
            problems.append("fast_schedule_seconds must be >= 0")
        if problems:
            raise ValueError("invalid simulator configuration: " + "; ".join(problems))
