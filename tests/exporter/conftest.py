"""Fixtures for the exporter tests: a simulator on loopback, and the exporter pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure_backup_exporter.config import load_config
from azure_backup_exporter.demo import AZURE_CREDENTIAL_VARIABLES
from azure_backup_exporter.service import Exporter
from azure_backup_simulator import Simulator, SimulatorConfig

from .harness import Sim


@pytest.fixture
def azure_identity_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[Simulator], None]:
    for name in AZURE_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def point_at(simulator: Simulator) -> None:
        monkeypatch.setenv("IDENTITY_ENDPOINT", simulator.identity_endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", simulator.identity_header)

    return point_at


@pytest.fixture
def start_sim(azure_identity_env: Callable[[Simulator], None]) -> Iterator[Callable[..., Sim]]:
    started: list[Simulator] = []

    def start(**settings: Any) -> Sim:
        simulator = Simulator(SimulatorConfig(**settings)).start()
        started.append(simulator)
        azure_identity_env(simulator)
        return Sim(simulator)

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture
def start_exporter() -> Iterator[Callable[..., Exporter]]:
    started: list[Exporter] = []

    def start(sim: Sim, vaults: list[str] = (), subscriptions: list[str] = (), **flags: Any) -> Exporter:  # type: ignore[assignment]
        options = {
            "web.listen-address": "127.0.0.1:0",
            "arm-endpoint": sim.simulator.arm_endpoint,
            "vault": list(vaults),
            "subscription": list(subscriptions),
            "min-refresh-interval": "0s",
            **{name.replace("_", "-"): value for name, value in flags.items()},
        }
        exporter = Exporter(load_config(options, {}))
        exporter.start()
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.stop()
