"""Every process the suite starts is stopped, and every temporary directory removed, also when a test fails:
in its body, or while the stack is still starting."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
import yaml
from azure_backup_simulator import Simulator, SimulatorConfig
from support.alertmanager import EXAMPLE_CONFIG, derive_alertmanager_config
from support.prometheus import PrometheusStartError

from e2e.stack import start_stack

pytestmark = pytest.mark.e2e

WORKDIR_FLAGS = ("--storage.tsdb.path=", "--storage.path=")


def children() -> dict[int, list[str]]:
    """Live (not zombie) child processes of this test process: pid -> argv."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        state, parent = fields[0], int(fields[1])
        if parent == os.getpid() and state != "Z":
            found[int(entry.name)] = [arg.decode(errors="replace") for arg in argv if arg]
    return found


def command(argv: list[str]) -> str:
    """The program's name, also for a script run by an interpreter (`python3 .../azure-backup-exporter`)."""
    names = [Path(arg).name for arg in argv[:2]]
    return names[1] if names[0].startswith("python") and len(names) > 1 else names[0]


def alertmanager_config() -> dict:
    return derive_alertmanager_config(
        yaml.safe_load(EXAMPLE_CONFIG.read_text()), lambda name: "http://127.0.0.1:9/"
    )


def test_a_failing_test_body_leaves_nothing_running() -> None:
    before = set(children())
    with pytest.raises(AssertionError, match="the test failed"):
        with ExitStack() as resources:
            simulator = resources.enter_context(Simulator(SimulatorConfig(vaults=1)))
            stack = start_stack(
                resources,
                simulator,
                rule_files=[],
                alertmanager_config=alertmanager_config(),
                subscriptions=["00000000-0000-0000-0000-00000000abcd"],  # unused: no such subscription
            )
            started = {pid: argv for pid, argv in children().items() if pid not in before}
            urls = [stack.exporter.url, stack.prometheus.url, stack.alertmanager.url, simulator.arm_endpoint]
            raise AssertionError("the test failed")
    commands = sorted(command(argv) for argv in started.values())
    assert commands == ["azure-backup-exporter", "prometheus", "prometheus-alertmanager"]
    assert set(children()) & set(started) == set()
    for url in urls:
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)
    workdirs = [
        Path(arg.split("=", 1)[1]).parent
        for argv in started.values()
        for arg in argv
        if arg.startswith(WORKDIR_FLAGS)
    ]
    assert len(workdirs) == 2 and [path for path in workdirs if path.exists()] == []


def test_a_stack_that_fails_to_start_stops_what_had_started() -> None:
    before = set(children())
    with pytest.raises(PrometheusStartError, match="no-such-flag"):
        with ExitStack() as resources:
            simulator = resources.enter_context(Simulator(SimulatorConfig(vaults=1)))
            # Alertmanager and the exporter start first; Prometheus then refuses its command line.
            start_stack(
                resources,
                simulator,
                rule_files=[],
                alertmanager_config=alertmanager_config(),
                subscriptions=["00000000-0000-0000-0000-00000000abcd"],  # unused: no such subscription
                prometheus_args=["--no-such-flag"],
            )
    assert set(children()) - before == set()
