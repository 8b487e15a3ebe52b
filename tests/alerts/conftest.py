"""Paths and tools of the alerting tests. A missing tool fails the test: it never skips.

Puts the repository on sys.path so that `mixin.vocabulary`, the one source of the thresholds, imports.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
ALERTS = REPO / "alerts"
RULES = ALERTS / "azure-backup.rules.yaml"
RULE_TESTS = ALERTS / "tests"
ALERTMANAGER_EXAMPLE = ALERTS / "alertmanager.example.yml"
RUNBOOKS = REPO / "docs" / "runbooks.md"
DASHBOARDS_DOC = REPO / "docs" / "dashboards.md"
ALERTS_BUILDER = ALERTS / "build.py"
DASHBOARDS_BUILDER = REPO / "dashboards" / "build.py"


def require_tool(*names: str) -> str:
    """Absolute path of the first of `names` on PATH, or a failed test naming the Debian package."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        f"{' or '.join(names)} not found on PATH: install Debian 'prometheus' (promtool) and "
        "'prometheus-alertmanager' (amtool, prometheus-alertmanager), or run 'make tools'"
    )


def run(command: Sequence[str], cwd: Path = REPO, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, capturing its output as text. The timeout is generous: promtool takes about
    a minute for the whole of alerts/tests on a busy 2-core machine (histories of days, 5-minute steps)."""
    return subprocess.run(
        list(command), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return require_tool("amtool")


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    return require_tool("prometheus-alertmanager", "alertmanager")
