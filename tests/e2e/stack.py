"""The whole chain on loopback: exporter -> Prometheus (rules) -> Alertmanager, around a given simulator.

Shared by the end-to-end tests (derived rules, short waits, webhook receiver of the test) and
`scripts/demo-stack` (shipped rules, for people to look at), so both start the chain the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from support.alertmanager import AlertmanagerServer
from support.exporter import ExporterProcess
from support.net import wait_until
from support.prometheus import PrometheusServer, ScrapeJob

# The shipped AzureBackupExporterDown rule names this scrape job.
SCRAPE_JOB = "azure-backup-exporter"
# Firing alerts are sent again this often; Alertmanager holds each for 4 times as long.
RESEND_DELAY_ARGS = ("--rules.alert.resend-delay=2s",)


@dataclass
class Stack:
    exporter: ExporterProcess
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer

    def urls(self) -> dict[str, str]:
        return {
            "exporter": f"{self.exporter.url}/metrics",
            "prometheus": self.prometheus.url,
            "alertmanager": self.alertmanager.url,
        }


def start_stack(
    resources: ExitStack,
    simulator: Any,
    *,
    rule_files: Sequence[Path],
    alertmanager_config: dict[str, Any],
    vaults: Sequence[str] = (),
    subscriptions: Sequence[str] = (),
    exporter_args: Sequence[str] = (),
    prometheus_args: Sequence[str] = (),
    interval: str = "1s",
) -> Stack:
    """Start Alertmanager, the exporter and Prometheus; each is stopped when `resources` closes."""
    alertmanager = resources.enter_context(AlertmanagerServer(alertmanager_config))
    exporter = resources.enter_context(
        ExporterProcess.for_simulator(
            simulator, vaults=vaults, subscriptions=subscriptions, extra_args=exporter_args
        )
    )
    prometheus = resources.enter_context(
        PrometheusServer(
            [ScrapeJob(SCRAPE_JOB, [exporter.address], scrape_interval=interval, scrape_timeout=interval)],
            rule_files=rule_files,
            alertmanagers=[alertmanager.address],
            scrape_interval=interval,
            evaluation_interval=interval,
            extra_args=prometheus_args,
        )
    )
    return Stack(exporter, prometheus, alertmanager)


def load_rules_now(prometheus: PrometheusServer, rule_file: Path, text: str, timeout: float = 30.0) -> None:
    """Write `rule_file` (listed in the configuration but absent until now) and make Prometheus load it.

    Why later rather than at start: until its first scrape (about 5 s after it starts) Prometheus has no
    `up` series, so `absent(up{job=...})` in AzureBackupExporterDown would hold for the first seconds; with
    a shortened `for:` it would fire. Loaded after the first scrape, the rules only ever see a running chain.

    A reload also rebuilds Prometheus' list of Alertmanagers, which stays empty for up to 5 s: alerts that
    fire meanwhile are dropped and sent again only after `--rules.alert.resend-delay` (1 m by default), so
    start Prometheus with a short resend delay (`RESEND_DELAY_ARGS`).
    """
    rule_file.write_text(text)
    requests.post(f"{prometheus.url}/-/reload", timeout=timeout).raise_for_status()
    wait_until(
        lambda: any(group["rules"] for group in prometheus.rules()),
        timeout=timeout,
        what=f"Prometheus to load {rule_file.name}",
    )
