"""The exporter test helper: serves on a port nobody else can take first, and reports a failed start with
the exporter's own words."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests
from azure_backup_simulator import Simulator, SimulatorConfig

import support.exporter
from support.exporter import ExporterProcess, ExporterStartError


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_starts_even_when_a_port_chosen_beforehand_was_taken_meanwhile(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between choosing a free port and binding it, another process (any outgoing connection) may take it.
    Here every port chosen beforehand is taken; the exporter must still start."""
    monkeypatch.setattr(support.exporter, "free_port", lambda: taken_port, raising=False)
    with Simulator(SimulatorConfig(vaults=1)) as simulator:
        vaults = requests.get(f"{simulator.control_url}/estate", timeout=10).json()["vaults"]
        with ExporterProcess.for_simulator(simulator, vaults=vaults) as exporter:
            assert exporter.port != taken_port
            assert f'vault="{vaults[0].rsplit("/", 1)[-1]}"' in exporter.metrics()


def test_a_failed_start_says_why() -> None:
    exporter = ExporterProcess(["--arm-endpoint", "http://127.0.0.1:9"], {})  # no vault, no subscription
    with pytest.raises(ExporterStartError, match="exited with status 2(.|\n)*vault"):
        exporter.start()
