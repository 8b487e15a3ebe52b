"""Simulators started per test on free loopback ports (fixed simulated start time), and their clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure_backup_simulator import Simulator, SimulatorConfig

from .clients import AZURE_ENV_VARS, START, ArmClient, Control


@pytest.fixture
def make_sim() -> Iterator:
    """Factory: `make_sim(vaults=0, ...)` starts a simulator (fixed start time by default)."""
    started: list[Simulator] = []

    def factory(**settings: object) -> Simulator:
        settings.setdefault("start_time", START)
        sim = Simulator(SimulatorConfig(**settings)).start()  # type: ignore[arg-type]
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim) -> Simulator:
    return make_sim(seed=7, subscriptions=2, vaults=4, entities_per_vault=8, history_days=3)


@pytest.fixture
def arm(sim: Simulator) -> ArmClient:
    return ArmClient(sim)


@pytest.fixture
def control(sim: Simulator) -> Control:
    return Control(sim)


@pytest.fixture
def azure_env(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> Simulator:
    """Only IDENTITY_ENDPOINT and IDENTITY_HEADER set, as on an Azure App Service."""
    for name in AZURE_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", sim.identity_header)
    return sim
