"""`demo`: the simulator and the exporter in one process, so a newcomer sees real output in a minute.

The simulator runs a short job schedule (a new job per entity every few seconds) so that every
metric of the contract, failures included, shows up quickly. The exporter reaches it exactly as it
would reach Azure: through azure-identity's managed-identity credential and the ARM routes.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import click

from .config import Config

DEMO_SCHEDULE_SECONDS = 20.0
DEMO_FAILURE_RATE = 0.2  # failures show up within minutes
AZURE_CREDENTIAL_VARIABLES = (
    "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_USERNAME", "AZURE_PASSWORD",
    "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
)  # fmt: skip


def point_azure_identity_at(identity_endpoint: str, identity_header: str) -> None:
    """Make DefaultAzureCredential pick the App Service managed identity served by the simulator."""
    for name in AZURE_CREDENTIAL_VARIABLES:
        os.environ.pop(name, None)
    os.environ["IDENTITY_ENDPOINT"] = identity_endpoint
    os.environ["IDENTITY_HEADER"] = identity_header


def run_demo(seed: int, load_config: Callable[[], Config]) -> None:
    from azure_backup_simulator import Simulator, SimulatorConfig

    from .config import load_config as merge_config
    from .service import Exporter, configure_logging, wait_for_interrupt

    base = load_config()
    configure_logging(base.log_level, base.log_format)
    simulator = Simulator(
        SimulatorConfig(
            seed=seed, fast_schedule_seconds=DEMO_SCHEDULE_SECONDS, failure_rate=DEMO_FAILURE_RATE
        )
    )
    simulator.start()
    try:
        point_azure_identity_at(simulator.identity_endpoint, simulator.identity_header)
        flags = {
            "web.listen-address": f"{base.listen_host}:{base.listen_port}",
            "arm-endpoint": simulator.arm_endpoint,
            "subscription": list(simulator.estate.subscriptions),
            "min-refresh-interval": "5s",
            "vault-list-interval": "1m",
            "log.level": base.log_level,
            "log.format": base.log_format,
        }
        config = merge_config(flags, {})
        with Exporter(config) as exporter:
            click.echo(f"Simulated Azure at {simulator.arm_endpoint}")
            click.echo(f"Metrics at {exporter.url}/metrics  (Ctrl-C to stop)")
            wait_for_interrupt()
    finally:
        simulator.stop()
