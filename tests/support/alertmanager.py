"""A real Alertmanager (Debian `prometheus-alertmanager`) for tests and the demo stack.

    from support.alertmanager import EXAMPLE_CONFIG, AlertmanagerServer, derive_alertmanager_config

    config = derive_alertmanager_config(yaml.safe_load(EXAMPLE_CONFIG.read_text()), webhook.url,
                                        {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"})
    with AlertmanagerServer(config) as alertmanager:
        alertmanager.address      # "127.0.0.1:PORT", for Prometheus' `alerting` section
        alertmanager.alerts()     # what it holds, with `status.inhibitedBy` / `silencedBy`

Why the shipped example configuration: routing by severity, grouping by vault and the inhibitions are
part of what a user receives, so the tests run `alerts/alertmanager.example.yml` itself, with only its
webhook URLs pointed at a local receiver and its waits shortened (`derive_alertmanager_config`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from .process import LoopbackProcess

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "alerts" / "alertmanager.example.yml"
ALERTMANAGER_BINARY = os.environ.get("ALERTMANAGER_BINARY", "/usr/bin/prometheus-alertmanager")
_WAITS = ("group_wait", "group_interval", "repeat_interval")


class AlertmanagerStartError(RuntimeError):
    """Alertmanager did not become ready; the message ends with the tail of its log."""


def derive_alertmanager_config(
    example: dict[str, Any], receiver_url: Callable[[str], str], waits: dict[str, str] | None = None
) -> dict[str, Any]:
    """The example configuration with every webhook URL replaced by `receiver_url(receiver name)` and the
    route waits (on the root route and every child route that sets them) replaced by `waits`."""
    config = copy.deepcopy(example)
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = receiver_url(receiver["name"])
    if waits:
        routes = [config["route"]]
        while routes:
            route = routes.pop()
            for key in _WAITS:
                if key in route or route is config["route"]:
                    route[key] = waits[key]
            routes.extend(route.get("routes", []))
    return config


class AlertmanagerServer(LoopbackProcess):
    """`prometheus-alertmanager` on 127.0.0.1 and a free port, without clustering, in a temporary dir."""

    what = "Alertmanager"
    log_name = "alertmanager.log"

    def __init__(
        self, config: dict[str, Any], *, binary: str = ALERTMANAGER_BINARY, ready_timeout: float = 30.0
    ) -> None:
        super().__init__()
        self.config = config
        self.binary = binary
        self.ready_timeout = ready_timeout

    def start(self) -> AlertmanagerServer:
        if not Path(self.binary).exists():
            raise AlertmanagerStartError(
                f"{self.binary} not found (Debian package `prometheus-alertmanager`)"
            )
        workdir = self._make_workdir("alertmanager-test-")
        (workdir / "alertmanager.yml").write_text(yaml.safe_dump(self.config, sort_keys=False))
        self._start_on_a_free_port(self._start_once, AlertmanagerStartError)
        return self

    def _start_once(self, port: int) -> bool:
        assert self.workdir is not None
        self.port = port
        self._launch(
            [
                self.binary,
                f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address={self.address}",
                "--cluster.listen-address=",
                "--log.level=info",
            ],
            self.log_path,
            cwd=self.workdir,
        )
        return self._wait_ready(self.ready_timeout)

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds (`/api/v2/alerts`), inhibited and silenced ones included."""
        response = requests.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        return response.json()
