"""The HTTP face: routes and methods, the time budget from Prometheus' header, and the server's limits."""

from __future__ import annotations

import gzip
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
from azure_backup_exporter import __version__
from azure_backup_exporter.service import Exporter
from azure_backup_exporter.web import budget_from

from .harness import Sim, http, scrape, value


@pytest.mark.parametrize(
    ("header", "budget"), [("10", 9.5), ("1", 0.75), ("0.4", 0.3), (None, None), ("soon", None), ("0", None)]
)
def test_budget_leaves_a_margin_inside_the_scrape_timeout(header: str | None, budget: float | None) -> None:
    environ = {} if header is None else {"HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS": header}
    assert budget_from(environ) == (pytest.approx(budget) if budget is not None else None)


def test_landing_health_gzip_and_not_found(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    exporter = start_exporter(sim, vaults=[sim.add_vault("rsv-web")])
    status, headers, body = http(f"{exporter.url}/")
    assert status == 200 and b'href="metrics"' in body and headers["Content-Type"].startswith("text/html")
    assert http(f"{exporter.url}/healthz")[2] == b"ok\n"
    status, headers, body = http(f"{exporter.url}/metrics", headers={"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == "gzip"
    assert b"azure_backup_vault_up" in gzip.decompress(body)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{exporter.url}/nope", timeout=10)
    assert missing.value.code == 404


@pytest.mark.parametrize(
    ("header", "cap", "budget"),
    [
        ("1e9", 10.0, 10.0),
        ("5", 10.0, 4.5),
        ("nan", 10.0, None),
        ("inf", 10.0, None),
        ("-1", 10.0, None),
        ("-inf", None, None),
        ("1e400", None, None),
    ],
)
def test_budget_is_capped_and_ignores_what_is_not_a_finite_positive_number(
    header: str, cap: float | None, budget: float | None
) -> None:
    result = budget_from({"HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS": header}, cap)
    assert result == (pytest.approx(budget) if budget is not None else None)


def test_a_huge_scrape_timeout_header_cannot_hold_the_refresh_past_scrape_timeout(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-hang")
    exporter = start_exporter(sim, vaults=[vault], scrape_timeout="1s", detail_fetch_budget="0")
    assert value(scrape(exporter), "azure_backup_vault_up", vault="rsv-hang") == 1.0
    sim.control("faults", {"hang_seconds": 120})
    # without the cap this scrape would wait for the hanging vault and the client would give up (60 s)
    text = scrape(exporter, headers={"X-Prometheus-Scrape-Timeout-Seconds": "1e9"})
    assert value(text, "azure_backup_vault_up", vault="rsv-hang") == 0.0


def test_nonsense_scrape_timeout_headers_scrape_with_the_default_budget(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-header")
    exporter = start_exporter(sim, vaults=[vault], detail_fetch_budget="0")
    for header in ("nan", "inf", "-inf", "-1", "0", "soon", "1e400"):
        text = scrape(exporter, headers={"X-Prometheus-Scrape-Timeout-Seconds": header})
        assert value(text, "azure_backup_vault_up", vault="rsv-header") == 1.0, header


def request(exporter: Exporter, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    body = b"x" if method == "POST" else None
    req = urllib.request.Request(f"{exporter.url}{path}", method=method, data=body)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_only_get_and_head_are_answered(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    exporter = start_exporter(sim, vaults=[sim.add_vault("rsv-methods")], detail_fetch_budget="0")
    for path in ("/", "/metrics", "/healthz"):
        for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            status, headers, _ = request(exporter, method, path)
            assert (status, headers.get("Allow")) == (405, "GET, HEAD"), (method, path)
        get_status, get_headers, get_body = request(exporter, "GET", path)
        head_status, head_headers, head_body = request(exporter, "HEAD", path)
        assert (get_status, head_status, head_body) == (200, 200, b"")
        assert head_headers["Content-Type"] == get_headers["Content-Type"]
        if path != "/metrics":  # the metrics change between two scrapes (durations, request counts)
            assert int(head_headers["Content-Length"]) == len(get_body)
    assert request(exporter, "POST", "/nope")[0] == 404
    assert request(exporter, "GET", "/metrics/")[0] == 404


def idle_connection(exporter: Exporter) -> socket.socket:
    """A connection that sends half a request and then nothing (a slow-loris client)."""
    connection = socket.create_connection(("127.0.0.1", exporter.port), timeout=60)
    connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    return connection


def closed_by_server(connection: socket.socket) -> bool:
    try:
        return connection.recv(1024) == b""
    except ConnectionResetError:
        return True


def test_connections_over_the_limit_get_503_at_once_and_slots_come_back(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    exporter = start_exporter(
        sim, vaults=[sim.add_vault("rsv-busy")], detail_fetch_budget="0", **{"web.max-connections": "3"}
    )
    idle = [idle_connection(exporter) for _ in range(3)]
    extra = [idle_connection(exporter) for _ in range(20)]
    for connection in extra:  # refused without waiting for the request
        assert connection.recv(1024).startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        connection.close()
    with pytest.raises(urllib.error.HTTPError) as busy:
        urllib.request.urlopen(f"{exporter.url}/metrics", timeout=60)
    assert busy.value.code == 503
    for connection in idle:
        connection.close()
    assert eventually(lambda: request(exporter, "GET", "/metrics")[0] == 200)


def eventually(check: Callable[[], bool], attempts: int = 200) -> bool:
    for _ in range(attempts):
        if check():
            return True
        time.sleep(0.05)
    return False


def test_idle_and_trickling_clients_are_closed_after_the_connection_timeout(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    exporter = start_exporter(
        sim,
        vaults=[sim.add_vault("rsv-slowloris")],
        detail_fetch_budget="0",
        **{"web.connection-timeout": "1s", "web.max-connections": "1"},
    )
    silent = idle_connection(exporter)
    assert closed_by_server(silent)  # blocks until the server gives up on it (the client waits 60 s)
    trickling = idle_connection(exporter)
    trickling.settimeout(0.2)
    closed = False
    for _ in range(100):  # a header byte every 0.2 s, for up to 20 s: never a whole request
        try:
            trickling.sendall(b"X")
            closed = closed_by_server(trickling)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if closed:
            break
    assert closed
    assert request(exporter, "GET", "/healthz")[0] == 200  # the only slot is free again


def test_start_and_stop_are_logged_with_the_real_listen_address(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter], caplog: pytest.LogCaptureFixture
) -> None:
    sim = start_sim(vaults=0)
    with caplog.at_level(logging.INFO, logger="azure_backup_exporter"):
        exporter = start_exporter(
            sim,
            vaults=[sim.add_vault("rsv-log")],
            subscriptions=["00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000a2"],
            **{"web.listen-address": "0.0.0.0:0"},
        )
        port = exporter.port
        assert exporter.url == f"http://127.0.0.1:{port}"  # reachable from this host
        assert exporter.listen_address == f"0.0.0.0:{port}"
        exporter.stop()
    messages = [record.getMessage() for record in caplog.records if record.name.endswith("service")]
    started = f"listening on 0.0.0.0:{port} (TLS off, basic auth off); 1 vault(s), 2 subscription(s), cloud "
    assert any(__version__ in m and started + "public" in m for m in messages), messages
    assert any(f"stopped listening on 0.0.0.0:{port}" in m for m in messages), messages
