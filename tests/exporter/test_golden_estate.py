"""The whole /metrics output on a fixed simulated estate, byte for byte, against a committed golden file.

It pins the exporter's behaviour end to end (listing, windows, counting once, detail fetches, request
counts) so that a refactoring that changes any of it fails here. The estate is seeded and starts at a
fixed moment, the exporter's clock is fixed to that moment, and one vault is refreshed at a time (so
that requests happen in one order). Only the refresh durations, which are wall time, are masked, and the
`process_*` and `python_*` families, which describe the test process, not the estate, are left out.

To rewrite the golden file after an intended change:
    .venv/bin/python -c 'from tests.exporter.test_golden_estate import write_golden; write_golden()'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from azure_backup_exporter.config import load_config
from azure_backup_exporter.service import Exporter
from azure_backup_simulator import Simulator, SimulatorConfig

from .harness import scrape

GOLDEN = Path(__file__).parent / "golden" / "estate.prom"
START = datetime(2026, 3, 1, 23, 17, tzinfo=timezone.utc)
WALL_TIME = re.compile(r"^(azure_backup_vault_refresh_duration_seconds\{[^}]*\}) \S+$", re.MULTILINE)
OWN_PROCESS = re.compile(r"^(?:# (?:HELP|TYPE) )?(?:process|python)_.*\n", re.MULTILINE)


def _estate_metrics(point_at: Callable[[Simulator], None]) -> str:
    """The second scrape (warm, after the first fetched the details it could) of the fixed estate."""
    simulator = Simulator(
        SimulatorConfig(
            seed=11,
            start_time=START,
            vaults=4,
            entities_per_vault=6,
            failure_rate=0.15,
            throttle_refill_per_second=1e-6,  # the remaining reads count requests, not wall time
        )
    ).start()
    try:
        point_at(simulator)
        config = load_config(
            {
                "web.listen-address": "127.0.0.1:0",
                "arm-endpoint": simulator.arm_endpoint,
                "subscription": list(simulator.estate.subscriptions),
                "min-refresh-interval": "0s",
                "max-concurrency": 1,
                "detail-fetch-budget": 5,
            },
            {},
        )
        with Exporter(config, clock=lambda: START.timestamp()) as exporter:
            scrape(exporter)
            text = scrape(exporter)
    finally:
        simulator.stop()
    return WALL_TIME.sub(r"\1 <wall time>", OWN_PROCESS.sub("", text))


def write_golden() -> None:
    from azure_backup_exporter.demo import point_azure_identity_at

    GOLDEN.write_text(
        _estate_metrics(lambda sim: point_azure_identity_at(sim.identity_endpoint, sim.identity_header))
    )


def test_metrics_of_a_fixed_estate_match_the_golden_file(
    azure_identity_env: Callable[[Simulator], None],
) -> None:
    assert _estate_metrics(azure_identity_env) == GOLDEN.read_text()
