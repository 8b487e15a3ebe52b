"""A real Alertmanager (Debian `prometheus-alertmanager`) for tests and the demo stack.

Why the shipped example configuration: routing by severity, grouping by vault and the inhibitions are
part of what a user receives, so the tests run `alerts/alertmanager.example.yml` itself, with only its
webhook URLs pointed at a local receiver and its waits shortened (`derive_alertmanager_config`).
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml
from support.net import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "alerts" / "alertmanager.example.yml"
ALERTMANAGER_BINARY = os.environ.get("ALERTMANAGER_BINARY", "/usr/bin/prometheus-alertmanager")
START_ATTEMPTS = 3
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


class AlertmanagerServer:
    """`prometheus-alertmanager` on 127.0.0.1 and a free port, without clustering, in a temporary dir."""

    def __init__(
        self, config: dict[str, Any], *, binary: str = ALERTMANAGER_BINARY, ready_timeout: float = 30.0
    ) -> None:
        self.config = config
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.port: int | None = None
        self.workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def address(self) -> str:
        if self.port is None:
            raise RuntimeError("Alertmanager is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> AlertmanagerServer:
        if not Path(self.binary).exists():
            raise AlertmanagerStartError(
                f"{self.binary} not found (Debian package `prometheus-alertmanager`)"
            )
        self.workdir = Path(tempfile.mkdtemp(prefix="alertmanager-test-"))
        (self.workdir / "alertmanager.yml").write_text(yaml.safe_dump(self.config, sort_keys=False))
        try:
            for _ in range(START_ATTEMPTS):
                if self._start_once(free_port()):
                    return self
                if "address already in use" not in self.log_tail():
                    break
            raise AlertmanagerStartError(f"Alertmanager did not become ready:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _start_once(self, port: int) -> bool:
        self._terminate()
        assert self.workdir is not None
        self.port = port
        self._log = open(self.workdir / "alertmanager.log", "ab")  # closed in _terminate()
        self._process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address={self.address}",
                "--cluster.listen-address=",
                "--log.level=info",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        return False

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds (`/api/v2/alerts`), inhibited and silenced ones included."""
        response = requests.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        return response.json()

    def log_tail(self, lines: int = 30) -> str:
        if self.workdir is None or not (self.workdir / "alertmanager.log").exists():
            return ""
        return "\n".join(
            (self.workdir / "alertmanager.log").read_text(errors="replace").splitlines()[-lines:]
        )

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s) and remove the temporary directory."""
        self._terminate()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _terminate(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> AlertmanagerServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
