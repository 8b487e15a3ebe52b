"""The `jobs` commands as a person runs them: the installed console script in a subprocess (on a
pseudo-terminal or a pipe), against a simulator on loopback with its managed-identity token."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from azure_backup_simulator import Simulator, SimulatorConfig
from support.exporter import OTHER_CREDENTIALS

COMMAND = str(Path(sys.executable).with_name("azure-backup-exporter"))
WAIT = 60.0  # generous: how long a test waits for an output before it fails (never asserted on)


class Sim:
    """A running simulator, its control API, and the environment a client needs to use it."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.arm = simulator.arm_endpoint

    def control(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.simulator.control_url}/{path}", data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def add_vault(self, name: str, entities: Sequence[str] = ("vm-web-01",)) -> str:
        subscription = self.control("estate")["subscriptions"][0]
        body = {"subscription": subscription, "resource_group": "rg-jobs", "name": name}
        vault = str(self.control("vaults", body)["id"])
        for entity in entities:
            self.add_job(vault, entity, operation="ConfigureBackup", status="Completed")
        return vault

    def add_job(self, vault: str, entity: str, **fields: Any) -> dict:
        body = {"vault": vault, "entity": entity, "operation": "Backup", "status": "Completed", **fields}
        return dict(self.control("jobs", body))

    def start_operation(self, vault: str, entity: str = "vm-web-01", kind: str = "backup") -> dict:
        return dict(self.control("operations", {"vault": vault, "entity": entity, "kind": kind}))

    def finish(self, job_id: str, status: str) -> None:
        self.control(f"jobs/{job_id}/finish", {"status": status})

    def advance(self, seconds: float) -> None:
        self.control("clock", {"advance_seconds": seconds})

    def requests(self) -> dict[str, int]:
        """Requests answered so far, by route name (whatever their status)."""
        by_route = self.control("requests")["by_route"]
        return {route: sum(counts.values()) if isinstance(counts, dict) else counts
                for route, counts in by_route.items()}  # fmt: skip

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in OTHER_CREDENTIALS}
        env = {k: v for k, v in env.items() if not k.startswith("AZURE_BACKUP_EXPORTER_")}
        env["IDENTITY_ENDPOINT"] = self.simulator.identity_endpoint
        env["IDENTITY_HEADER"] = self.simulator.identity_header
        return env

    def args(self, *args: str) -> list[str]:
        return [COMMAND, "jobs", *args, "--arm-endpoint", self.arm]


@pytest.fixture
def make_sim() -> Iterator:
    started: list[Simulator] = []

    def start(**settings: Any) -> Sim:
        settings.setdefault("vaults", 0)
        simulator = Simulator(SimulatorConfig(**settings)).start()
        started.append(simulator)
        return Sim(simulator)

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def sim(make_sim: Any) -> Sim:
    return make_sim()


def run(sim: Sim, *args: str, timeout: float = WAIT) -> subprocess.CompletedProcess[str]:
    """The command on pipes (not a terminal), to its end."""
    return subprocess.run(
        sim.args(*args), env=sim.env(), capture_output=True, text=True, timeout=timeout, check=False
    )


class Spawned:
    """The command started on pipes, read while it runs."""

    def __init__(self, sim: Sim, *args: str) -> None:
        self.process = subprocess.Popen(
            sim.args(*args), env=sim.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=WAIT)
        return self.process.returncode, out, err


class Terminal:
    """The command on a pseudo-terminal, as in a person's shell: everything it writes, as written."""

    def __init__(self, sim: Sim, *args: str) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            sim.args(*args), env={**sim.env(), "TERM": "xterm"}, stdin=slave, stdout=slave, stderr=slave,
            close_fds=True, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.output = b""

    def _read(self, wait: float) -> None:
        ready, _, _ = select.select([self.master], [], [], wait)
        if ready:
            try:
                self.output += os.read(self.master, 65536)
            except OSError:  # the other end closed: the command ended
                time.sleep(0.05)

    def expect(self, text: str) -> str:
        """Read until `text` has been written; everything read so far."""
        deadline = time.monotonic() + WAIT
        while text.encode() not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never shown; the terminal shows:\n{self.text}")
            self._read(0.2)
        return self.text

    def interrupt(self) -> None:
        """Ctrl-C, as the terminal sends it: SIGINT to the foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def wait(self) -> int:
        deadline = time.monotonic() + WAIT
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        self._read(0.2)
        code = self.process.wait(timeout=5)
        os.close(self.master)
        return code

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")
