"""The exporter as a user runs it (`azure-backup-exporter serve` in a subprocess), pointed at a simulator.

Why a subprocess: tests that feed a real Prometheus should scrape what an operator would deploy, with
the real command line, the real credential chain (managed identity via `IDENTITY_ENDPOINT`) and the
real HTTP server, not objects wired by hand.

    from azure_backup_simulator import Simulator, SimulatorConfig
    from support.exporter import ExporterProcess

    with Simulator(SimulatorConfig()) as sim, ExporterProcess.for_simulator(sim, vaults=[...]) as exporter:
        exporter.metrics()        # one scrape, as text
        exporter.address          # "127.0.0.1:PORT", a Prometheus target
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from .net import wait_until
from .process import LoopbackProcess

# The console script next to this interpreter: the one `pip install -e .` put in the same virtual env.
EXPORTER_COMMAND = (str(Path(sys.executable).with_name("azure-backup-exporter")),)
# Credentials that would make DefaultAzureCredential pick something other than the simulator's endpoint.
OTHER_CREDENTIALS = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
)
# What `serve` prints once it listens; with port 0 the kernel chose the port, and this line says which.
SERVING_LINE = re.compile(rb"Serving metrics on http://127\.0\.0\.1:(?P<port>\d+)/metrics")


class ExporterStartError(RuntimeError):
    """The exporter exited or did not serve /metrics in time; the message ends with its output."""


class ExporterProcess(LoopbackProcess):
    """`azure-backup-exporter serve` on 127.0.0.1 and a free port, stopped (and its log removed) on exit.

    `args` are extra command-line options (`--vault ...`, `--min-refresh-interval 0s`); `env` is added to
    a copy of this process's environment with the other Azure credential variables removed.
    """

    what = "the exporter"

    def __init__(self, args: Sequence[str], env: Mapping[str, str], *, ready_timeout: float = 30.0) -> None:
        super().__init__()
        self.args = list(args)
        self.env = dict(env)
        self.ready_timeout = ready_timeout
        self._log = tempfile.TemporaryFile()

    @classmethod
    def for_simulator(
        cls,
        simulator: Any,
        *,
        vaults: Iterable[str] = (),
        subscriptions: Iterable[str] = (),
        extra_args: Sequence[str] = (),
    ) -> ExporterProcess:
        """An exporter reading `vaults`/`subscriptions` from `simulator` with its managed-identity token."""
        args = ["--arm-endpoint", simulator.arm_endpoint]
        args += [arg for vault in vaults for arg in ("--vault", vault)]
        args += [arg for subscription in subscriptions for arg in ("--subscription", subscription)]
        env = {"IDENTITY_ENDPOINT": simulator.identity_endpoint, "IDENTITY_HEADER": simulator.identity_header}
        return cls([*args, *extra_args], env)

    def start(self) -> ExporterProcess:
        """Start on port 0 and learn the port from the exporter's own output: a port chosen beforehand can be
        taken by any other program (an outgoing connection's local port) before the exporter binds it."""
        environment = {key: value for key, value in os.environ.items() if key not in OTHER_CREDENTIALS}
        environment.update(self.env)
        self.port = None
        self._launch(
            [*EXPORTER_COMMAND, "serve", "--web.listen-address", "127.0.0.1:0", *self.args],
            self._log,
            env=environment,
        )
        try:
            wait_until(
                self._serving,
                timeout=self.ready_timeout,
                what="the exporter to print 'Serving metrics on <url>' and serve it",
            )
        except (TimeoutError, ExporterStartError) as error:
            self.stop()
            raise ExporterStartError(f"{error}\n{self.output()}") from None
        return self

    def _serving(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise ExporterStartError(f"the exporter exited with status {self._process.returncode}")
        if self.port is None:
            match = SERVING_LINE.search(self._written())
            if match is None:
                return False
            self.port = int(match["port"])
        try:
            return requests.get(f"{self.url}/", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def metrics(self, timeout: float = 30.0) -> str:
        """One scrape of `/metrics`, as Prometheus would do it (with its scrape-timeout header)."""
        response = requests.get(
            f"{self.url}/metrics",
            timeout=timeout,
            headers={"X-Prometheus-Scrape-Timeout-Seconds": str(timeout)},
        )
        response.raise_for_status()
        return response.text

    def output(self, limit: int = 4000) -> str:
        """What the exporter wrote to stdout and stderr so far (the end of it)."""
        return self._written().decode(errors="replace")[-limit:]

    def _written(self) -> bytes:
        """The log's content, read without moving its offset: the exporter shares that offset and writes
        at it, so a seek here could make it overwrite what it wrote before."""
        descriptor = self._log.fileno()
        return os.pread(descriptor, os.fstat(descriptor).st_size, 0)

    def close(self) -> None:
        """`stop()` (the log is kept for `output()`), then discard the log."""
        self.stop()
        self._log.close()
