"""The Prometheus test helper: starts a real server, scrapes, answers queries, cleans up after failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from support.prometheus import PrometheusQueryError, PrometheusServer, ScrapeJob

EXPOSITION = b'# TYPE demo_total counter\ndemo_total{kind="a"} 7\n'


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(EXPOSITION)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def metrics_target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_scrapes_a_target_and_answers_instant_and_range_queries(metrics_target: str) -> None:
    with PrometheusServer([ScrapeJob("demo", [metrics_target])]) as prometheus:
        prometheus.wait_for_targets_up()
        result = prometheus.wait_for('demo_total{kind="a"}')
        assert result[0]["metric"]["job"] == "demo"
        assert result[0]["value"][1] == "7"
        now = time.time()
        series = prometheus.query_range("demo_total", now - 60, now, 1)
        assert series and all(value == "7" for _, value in series[0]["values"])


def test_a_parse_error_is_a_bad_data_query_error() -> None:
    with PrometheusServer() as prometheus:
        with pytest.raises(PrometheusQueryError) as error:
            prometheus.query("sum(rate(x[5m])")
        assert error.value.error_type == "bad_data"
        assert error.value.status_code == 400


def test_stops_and_removes_its_directory_even_when_the_body_raises() -> None:
    server = PrometheusServer()
    with pytest.raises(RuntimeError, match="test body failed"):
        with server:
            url, workdir = server.url, server.workdir
            assert workdir is not None and (workdir / "prometheus.yml").exists()
            raise RuntimeError("test body failed")
    assert not workdir.exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/-/ready", timeout=2)


def test_rule_files_are_loaded(tmp_path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("groups:\n- name: g\n  rules:\n  - record: one:value\n    expr: vector(1)\n")
    with PrometheusServer(rule_files=[rules]) as prometheus:
        assert [rule["name"] for group in prometheus.rules() for rule in group["rules"]] == ["one:value"]
        assert prometheus.wait_for("one:value")[0]["value"][1] == "1"
