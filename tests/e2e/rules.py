"""A test copy of the shipped alert rules, with shorter `for:` durations and nothing else changed.

Why a textual transformation: the expressions, labels and annotations under test must be byte for byte
the shipped ones, so the shipped file is copied line by line and only the lines that state how long a
condition must hold (`for: 30m`), how long an alert keeps firing after it (`keep_firing_for: 15m`, when
asked) or a tunable threshold (`7200  # tunable: rpo_slack_seconds (2h)`, see the header of
`alerts/azure-backup.rules.yaml`) are rewritten. Re-serialising the YAML would reflow the
templates and lose the PromQL comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED_RULES = REPO / "alerts" / "azure-backup.rules.yaml"

_ALERT = re.compile(r"^\s*-\s+alert:\s*(?P<name>\S+)\s*$")
_RECORD = re.compile(r"^\s*-\s+record:\s*(?P<name>\S+)\s*$")
_FOR = re.compile(r"^(?P<indent>\s*)for:\s*(?P<value>\S+)\s*$")
_KEEP_FIRING = re.compile(r"^(?P<indent>\s*)keep_firing_for:\s*(?P<value>\S+)\s*$")
_TUNABLE = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<space>\s+)# tunable: (?P<name>[a-z_]+)")


class RulesTransformError(ValueError):
    """The shipped file does not have the shape the transformation relies on."""


def derive_test_rules(
    text: str,
    for_durations: Mapping[str, str],
    default_for: str | None = None,
    tunables: Mapping[str, float] | None = None,
    keep_firing_for: str | None = None,
) -> str:
    """Return `text` with each alert's `for:` set to `for_durations[alert]` (else `default_for`, else kept),
    every `keep_firing_for:` set to `keep_firing_for` (else kept), and each `# tunable: <name>` number listed
    in `tunables` replaced. Every other line is kept as is.

    Unknown alert or tunable names raise RulesTransformError, so a renamed rule cannot silently keep its
    production duration in the test copy.
    """
    tunables = dict(tunables or {})
    unknown_alerts = set(for_durations)
    unused_tunables = set(tunables)
    current_alert: str | None = None
    lines = []
    for line in text.splitlines(keepends=True):
        if match := _ALERT.match(line):
            current_alert = match["name"]
        elif _RECORD.match(line):
            current_alert = None
        elif (match := _KEEP_FIRING.match(line)) and current_alert is not None:
            if keep_firing_for is not None:
                line = f"{match['indent']}keep_firing_for: {keep_firing_for}\n"
        elif (match := _FOR.match(line)) and current_alert is not None:
            unknown_alerts.discard(current_alert)
            duration = for_durations.get(current_alert, default_for)
            if duration is not None:
                line = f"{match['indent']}for: {duration}\n"
        elif match := _TUNABLE.search(line):
            name = match["name"]
            if name in tunables:
                unused_tunables.discard(name)
                replaced = f"{_number(tunables[name])}{match['space']}# tunable: {name}"
                line = line[: match.start()] + replaced + line[match.end() :]
        lines.append(line)
    if unknown_alerts:
        raise RulesTransformError(f"no alert with a `for:` named {sorted(unknown_alerts)}")
    if unused_tunables:
        raise RulesTransformError(f"no `# tunable:` named {sorted(unused_tunables)}")
    return "".join(lines)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
