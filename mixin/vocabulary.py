"""The one vocabulary of the alert rules and the dashboards: every selector and every tunable threshold.

Why one module: the "backup operations" selector, the scrape job name and the thresholds used to be
spelt in the rule file and again in the dashboard generator, and thresholds were only comments. Here each
is defined once, with what it means and why its default, in the spirit of a monitoring mixin's
`_config` (node-mixin's `config.libsonnet`). `alerts/build.py` and `dashboards/build.py` both read it.

To tune: change one default below and run `python alerts/build.py && python dashboards/build.py`;
or leave this file alone and pass `--set name=value` (and `--out DIR`) to both builders.
Plain stdlib, so that the builders need nothing installed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass


class VocabularyError(ValueError):
    """A vocabulary value or override that the rules or dashboards could not use; one line, for a person."""


@dataclass(frozen=True)
class Vocabulary:
    # --- selectors -------------------------------------------------------------------------------------

    # The Prometheus scrape job of the exporter. AzureBackupExporterDown reports a target of this job that
    # fails, or this job missing while no exporter series exist: a target that never answered under another
    # job name would go unnoticed. The dashboards select jobs by their `$job` variable and need no name.
    job_name: str = "azure-backup-exporter"
    # Operations that make a recovery point, as Azure writes them: `Backup` and `Backup (<kind>)`, i.e.
    # Backup (Full), (Differential), (Incremental), (Log), (Copy Only Full)... Restore, ConfigureBackup,
    # DisableBackup and the rest make none, so their age says nothing about protection. A PromQL (RE2)
    # regex, anchored by Prometheus.
    backup_operations: str = r"Backup( \(.+\))?"
    # The log backup operation (SQL, SAP HANA). Azure lists no scheduled log backup as a job (too frequent
    # for SQL; no scheduled HANA job at all), so a `Backup (Log)` seen is an ad hoc one: it says nothing of
    # the schedule, and no objective is judged on it (docs/real-data.md).
    log_backup_operation: str = "Backup (Log)"
    # Backup management types whose items carry no policy Azure lists (MARS agents, DPM and MABS servers):
    # their schedules live on the server, so the exporter knows no interval for them. Their recovery point
    # objective assumes unlisted_schedule_interval_seconds (a daily schedule) instead.
    unlisted_schedule_management_types: tuple[str, ...] = ("MAB", "DPM", "AzureBackupServer")
    # Protection states and health values that ask a person to act (AzureBackupItemNeedsAction, a ticket):
    # Azure says so itself, while the previous recovery points still exist.
    action_protection_states: tuple[str, ...] = ("ProtectionError", "BackupsSuspended")
    action_health_values: tuple[str, ...] = ("ActionRequired", "Unhealthy", "NotReachable")
    # Protection states of an item whose first backup (the initial replication) has not completed yet: only
    # such an item can be a first backup overdue (AzureBackupFirstBackupOverdue).
    first_backup_pending_states: tuple[str, ...] = ("IRPending",)
    # Operations that stop protection of an entity (DeleteBackupData also deletes its backup data): they
    # fire AzureBackupProtectionDisabled, and older jobs and successes are no longer expected to be followed
    # by new backups.
    protection_stopping_operations: tuple[str, ...] = ("DisableBackup", "DeleteBackupData")
    # Statuses of a job that has no outcome yet: its elapsed time is not a duration, and alerts on its
    # outcome wait for it.
    running_statuses: tuple[str, ...] = ("InProgress", "Cancelling")
    # Statuses of a job that made a recovery point (with warnings, it may be incomplete, but it exists).
    success_statuses: tuple[str, ...] = ("Completed", "CompletedWithWarnings")
    # The status of a failed job.
    failed_status: str = "Failed"
    # The operation that configures protection of an item: the start of its latest one is when a new item's
    # first backup became due (AzureBackupFirstBackupOverdue).
    configure_operation: str = "ConfigureBackup"
    # How long an alert keeps firing after its condition stopped holding (Prometheus' keep_firing_for), on
    # every alert: an exporter restart, a scrape gap or a lost series then never resolves an alert that
    # would fire again minutes later, which would page twice for one problem. Longer than the scrape gaps
    # to ride out (10 minutes) plus a scrape or two; every resolution comes this much later.
    keep_firing_for: str = "15m"
    # Where docs/runbooks.md lives: each alert's runbook_url is this, `#`, and the alert's name in lower
    # case. A placeholder: point it at your own copy (alerts/tests/ expect the placeholder).
    runbook_url_base: str = "https://github.com/example-org/azure-backup-exporter/blob/main/docs/runbooks.md"

    # --- thresholds of the alerts (each is `# tunable: <name>` in alerts/azure-backup.rules.yaml) ----------

    # The longest an entity may go without a successful non-log backup job, on the dashboards: a daily
    # schedule plus 2 h of slack. They colour the time since the last success orange past it, and default
    # their RPO choice to it. (The alerts judge each item by its own interval and rpo_slack_seconds.)
    rpo_seconds: int = 26 * 3600
    # The interval assumed for items of unlisted_schedule_management_types (no policy listed): daily.
    unlisted_schedule_interval_seconds: int = 86400
    # AzureBackupProtectionDisabled pages while the DisableBackup or DeleteBackupData job started less than
    # this long ago: long enough to be seen and acted on, short enough that a week-old stop does not page
    # all week (AzureBackupProtectionStopped keeps the stopped item visible, without paging).
    protection_disabled_page_seconds: int = 6 * 3600
    # Failed backups in a row (no success between them or since, among the jobs of the exporter's lookback:
    # azure_backup_consecutive_failures) that make AzureBackupRepeatedFailures fire, a ticket (the recovery
    # point alert is what pages): one failure is JobFailed's, three are a pattern that will not clear.
    repeated_failures_count: int = 3
    # AzureBackupJobRunningTooLong: a running job is too long past this many times the usual duration of the
    # entity's jobs (the longest success of 7 days), far enough not to react to normal variation.
    running_too_long_factor: int = 3
    # ... but never before this, so that jobs of a few minutes stay quiet.
    running_too_long_floor_seconds: int = 2 * 3600
    # ... and past this when the usual duration is unknown: half a day of a daily schedule.
    running_too_long_default_seconds: int = 12 * 3600
    # AzureBackupApiThrottled: remaining ARM reads below which the quota counts as exhausted (100 of a bucket
    # of 250 today, or of 12,000 per hour in the older model).
    ratelimit_remaining_reads_min: int = 100

    # --- thresholds of the dashboards -------------------------------------------------------------------

    # The time since the last success turns red past this (orange past rpo_seconds): two missed daily
    # backups.
    success_age_red_seconds: int = 48 * 3600
    # How much later than its own policy interval an item's newest recovery point may be before the item is
    # outside its recovery point objective (interval + slack): a slow or late backup job. Two hours, as
    # rpo_seconds gives a daily schedule. The alerts will judge recovery points with it too.
    rpo_slack_seconds: int = 2 * 3600

    # --- the protection inventory ----------------------------------------------------------------------

    # Protection states (`protectionState`) of an item whose scheduled backups run: `Healthy` is what MARS
    # items report (recorded). Any other state (IRPending, ProtectionError, ProtectionStopped...) is worth
    # a look on the dashboards.
    protected_states: tuple[str, ...] = ("Protected", "Healthy")
    # Protection states in which no new recovery point is expected, on purpose (backups stopped, data
    # retained or being deleted): such an item is never outside its recovery point objective.
    stopped_protection_states: tuple[str, ...] = ("ProtectionStopped",)
    # Item health values that need no action: `Passed` (VMs' healthStatus) and `Healthy` (workloads').
    healthy_item_health: tuple[str, ...] = ("Passed", "Healthy")

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type == "int" and (not isinstance(value, int) or value <= 0):
                raise VocabularyError(f"{field.name}: expected a positive whole number, got {value!r}")
            if field.type == "str" and (not value or not value.isprintable()):
                raise VocabularyError(f"{field.name}: expected a non-empty text on one line, got {value!r}")
            if field.type == "tuple[str, ...]" and (not value or not all(value)):
                raise VocabularyError(
                    f"{field.name}: expected one or more comma-separated names, got {value!r}"
                )
        if any(space.isspace() for space in self.runbook_url_base):
            raise VocabularyError(
                f"runbook_url_base: expected a URL without spaces, got {self.runbook_url_base!r}"
            )
        try:
            backups = re.compile(self.backup_operations)
        except re.error as error:
            raise VocabularyError(
                f"backup_operations: expected a regex, got {self.backup_operations!r} ({error})"
            ) from None
        if "`" in self.backup_operations:
            raise VocabularyError(
                "backup_operations: expected a regex without a backtick (the rules quote it in backticks)"
            )
        if not re.fullmatch(r"([0-9]+(ms|[smhdwy]))+", self.keep_firing_for):
            raise VocabularyError(
                f"keep_firing_for: expected a Prometheus duration such as 15m, got {self.keep_firing_for!r}"
            )
        if not backups.fullmatch(self.log_backup_operation):
            raise VocabularyError(
                f"log_backup_operation: expected an operation that backup_operations matches, "
                f"got {self.log_backup_operation!r}"
            )
        if self.success_age_red_seconds <= self.rpo_seconds:
            raise VocabularyError(
                f"success_age_red_seconds: expected more than rpo_seconds ({self.rpo_seconds}), "
                f"got {self.success_age_red_seconds}"
            )


def with_overrides(assignments: Iterable[str], base: Vocabulary | None = None) -> Vocabulary:
    """`base` (the defaults) with each `name=value` applied: ints as numbers, tuples comma-separated."""
    base = base or Vocabulary()
    types = {field.name: field.type for field in dataclasses.fields(Vocabulary)}
    changes: dict[str, object] = {}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        if not equals or name not in types:
            raise VocabularyError(
                f"--set {assignment!r}: expected name=value with a name of mixin/vocabulary.py "
                f"({', '.join(types)})"
            )
        if types[name] == "int":
            if not text.strip().isdigit():
                raise VocabularyError(f"{name}: expected a positive whole number, got {text!r}")
            changes[name] = int(text)
        elif types[name] == "tuple[str, ...]":
            changes[name] = tuple(part.strip() for part in text.split(","))
        else:
            changes[name] = text
    return dataclasses.replace(base, **changes)


def thresholds(vocabulary: Vocabulary) -> dict[str, int]:
    """The tunable numbers by name (the int entries), for the docs and the tests."""
    return {field.name: getattr(vocabulary, field.name)
            for field in dataclasses.fields(vocabulary) if field.type == "int"}


# --- writing values in PromQL -------------------------------------------------------------------------


def alternatives(names: Iterable[str]) -> str:
    """A regex matching exactly one of `names` (`InProgress|Cancelling`)."""
    return "|".join(re.escape(name) for name in names)


def promql_string(text: str) -> str:
    """`text` as a double-quoted PromQL string (a backslash and a quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def duration_text(seconds: int) -> str:
    """`26h`, `2h`, `7d`, `90m`: the largest unit that divides `seconds`, days only from a week on, since
    objectives are thought of in hours (48h rather than 2d)."""
    if seconds % 86400 == 0 and seconds >= 7 * 86400:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
