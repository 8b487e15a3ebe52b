"""A real Prometheus server for tests: started on a free loopback port, queried over HTTP, always cleaned up.

Why a real one: dashboards, recording rules and alerts are PromQL, and the only faithful judge of
PromQL (its syntax, its functions, what it returns after real scrapes) is Prometheus itself.

Typical use (a pytest fixture):

    from support.prometheus import PrometheusServer, ScrapeJob

    @pytest.fixture
    def prometheus(exporter_url):
        with PrometheusServer(
            scrape_jobs=[ScrapeJob("azure-backup", ["127.0.0.1:10042"])],
            rule_files=[REPO / "alerts" / "azure-backup.rules.yaml"],
            alertmanagers=["127.0.0.1:9093"],
        ) as prom:
            prom.wait_for_targets_up()
            yield prom

    def test_something(prometheus):
        result = prometheus.query('azure_backup_vault_up == 1')           # instant vector, list of dicts
        series = prometheus.query_range("up", start, end, step=1)         # matrix, list of dicts
        prometheus.wait_for('count(azure_backup_last_job_status) > 0')   # poll until non-empty

The server runs in a fresh temporary directory (configuration, TSDB and its log), which `stop()` removes;
the context manager calls `stop()` even when the test body raises. A failed start raises
`PrometheusStartError` carrying the tail of Prometheus's own log. Query errors (a PromQL parse error is
a 400 `bad_data`) raise `PrometheusQueryError` with Prometheus's `errorType` and message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from .net import wait_until
from .process import LoopbackProcess

PROMETHEUS_BINARY = os.environ.get("PROMETHEUS_BINARY", "/usr/bin/prometheus")


class PrometheusStartError(RuntimeError):
    """Prometheus did not become ready; the message ends with the tail of its log."""


class PrometheusQueryError(RuntimeError):
    """The query API answered with an error (`error_type` is Prometheus's `errorType`, e.g. `bad_data`)."""

    def __init__(self, error_type: str, message: str, status_code: int) -> None:
        super().__init__(f"{error_type} (HTTP {status_code}): {message}")
        self.error_type = error_type
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class ScrapeJob:
    """One `scrape_configs` entry with static targets (`host:port`)."""

    name: str
    targets: Sequence[str]
    metrics_path: str = "/metrics"
    scrape_interval: str = "1s"
    scrape_timeout: str = "1s"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "job_name": self.name,
            "metrics_path": self.metrics_path,
            "scrape_interval": self.scrape_interval,
            "scrape_timeout": self.scrape_timeout,
            "static_configs": [{"targets": list(self.targets)}],
        }
        config.update(self.extra)
        return config


class PrometheusServer(LoopbackProcess):
    """`/usr/bin/prometheus` with a generated configuration, on 127.0.0.1 and a free port.

    `rule_files` are referenced by absolute path (Prometheus reads them at start). `alertmanagers` are
    `host:port` addresses to send alerts to. `evaluation_interval` paces rule evaluation.
    `extra_args` are appended to the command line (e.g. `["--query.lookback-delta=1m"]`).
    """

    what = "Prometheus"
    log_name = "prometheus.log"

    def __init__(
        self,
        scrape_jobs: Iterable[ScrapeJob] = (),
        *,
        rule_files: Iterable[str | os.PathLike[str]] = (),
        alertmanagers: Iterable[str] = (),
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        extra_args: Sequence[str] = (),
        binary: str = PROMETHEUS_BINARY,
        ready_timeout: float = 30.0,
    ) -> None:
        self.scrape_jobs = list(scrape_jobs)
        self.rule_files = [Path(path).resolve() for path in rule_files]
        self.alertmanagers = list(alertmanagers)
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.extra_args = list(extra_args)
        self.binary = binary
        self.ready_timeout = ready_timeout
        self._session = requests.Session()
        super().__init__()

    # --- life cycle (`url`, `address`, `log_path`, `log_tail`: see LoopbackProcess) --------------------

    @property
    def config_path(self) -> Path:
        assert self.workdir is not None, "Prometheus is not started"
        return self.workdir / "prometheus.yml"

    def config(self) -> dict[str, Any]:
        """The configuration this server runs with, as a dict (written as YAML at start)."""
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "scrape_configs": [job.to_config() for job in self.scrape_jobs],
        }
        if self.rule_files:
            config["rule_files"] = [str(path) for path in self.rule_files]
        if self.alertmanagers:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": self.alertmanagers}]}]}
        return config

    def start(self) -> PrometheusServer:
        """Start and wait until `/-/ready`; retries on another port if the chosen one was taken meanwhile."""
        if self._process is not None:
            raise RuntimeError("Prometheus is already started")
        if not Path(self.binary).exists():
            raise PrometheusStartError(f"{self.binary} not found (Debian package `prometheus`)")
        self._make_workdir("prometheus-test-")
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        self._start_on_a_free_port(self._start_once, PrometheusStartError)
        return self

    def _start_once(self, port: int) -> bool:
        self.port = port
        self._launch(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--log.level=info",
                *self.extra_args,
            ],
            self.log_path,
            cwd=self.workdir,
        )
        return self._wait_ready(self.ready_timeout, self._session.get)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s) and remove the temporary directory."""
        super().stop()
        self._session.close()
        self.port = None

    # --- HTTP API -----------------------------------------------------------------------------------

    def api(self, path: str, params: dict[str, Any] | None = None, *, method: str = "GET") -> Any:
        """Call `/api/v1/<path>` and return its `data`, or raise PrometheusQueryError."""
        url = f"{self.url}/api/v1/{path}"
        if method == "POST":
            response = self._session.post(url, data=params or {}, timeout=30)
        else:
            response = self._session.get(url, params=params or {}, timeout=30)
        try:
            body = response.json()
        except ValueError as error:
            raise PrometheusQueryError("bad_response", response.text[:500], response.status_code) from error
        if body.get("status") != "success":
            raise PrometheusQueryError(
                body.get("errorType", "unknown"), body.get("error", ""), response.status_code
            )
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; returns `data.result` (for a scalar or string result, a one-element list)."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        data = self.api("query", params, method="POST")
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Range query; returns the matrix `data.result` (each item has `metric` and `values`)."""
        params = {"query": expr, "start": start, "end": end, "step": step}
        return self.api("query_range", params, method="POST")["result"]

    def format_query(self, expr: str) -> str:
        """Prometheus's canonical rendering of `expr`; raises PrometheusQueryError if it does not parse."""
        return self.api("format_query", {"query": expr}, method="POST")

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets (`/api/v1/targets`)."""
        return self.api("targets", {"state": "active"})["activeTargets"]

    def rules(self) -> list[dict[str, Any]]:
        """Loaded rule groups (`/api/v1/rules`)."""
        return self.api("rules")["groups"]

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (`/api/v1/alerts`)."""
        return self.api("alerts")["alerts"]

    # --- waiting ------------------------------------------------------------------------------------

    def wait_for_targets_up(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until every configured target has been scraped successfully at least once.

        Prometheus applies new targets about 5 s after it starts, so allow for that in `timeout`.
        """
        expected = sum(len(job.targets) for job in self.scrape_jobs)

        def all_up() -> list[dict[str, Any]] | None:
            targets = self.targets()
            healthy = [target for target in targets if target["health"] == "up"]
            return targets if expected and len(healthy) == expected else None

        try:
            return wait_until(all_up, timeout=timeout, interval=0.2, what="all targets up")
        except TimeoutError as error:
            raise TimeoutError(f"{error}; targets: {self.targets()}") from None

    def wait_for(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll the instant query `expr` until it returns a non-empty result, and return that result."""
        return wait_until(lambda: self.query(expr), timeout=timeout, interval=0.2, what=f"data for {expr!r}")

    def wait_for_scrapes(self, count: int, timeout: float = 60.0) -> None:
        """Wait until every target has `count` more successful scrapes than now (per `up` samples)."""
        window = "1h"
        expr = f"min(count_over_time(up[{window}]) * up)"

        def scrapes() -> float:
            result = self.query(expr)
            return float(result[0]["value"][1]) if result else 0.0

        goal = scrapes() + count
        wait_until(lambda: scrapes() >= goal, timeout=timeout, interval=0.2, what=f"{count} more scrapes")
