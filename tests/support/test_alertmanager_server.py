"""The Alertmanager test helper: runs the example configuration, delivers to the webhook receiver of the
test, and leaves nothing behind, also when the test body fails."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
import yaml

from support.alertmanager import EXAMPLE_CONFIG, AlertmanagerServer, derive_alertmanager_config
from support.webhook import WebhookReceiver

WAITS = {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"}


def alert(name: str, severity: str, vault: str) -> dict[str, object]:
    now = datetime.now(timezone.utc)
    return {
        "labels": {"alertname": name, "severity": severity, "vault": vault},
        "annotations": {"summary": f"{name} summary"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=5)).isoformat(),
    }


def test_routes_by_severity_to_the_webhook_of_each_receiver() -> None:
    with WebhookReceiver() as webhook:
        config = derive_alertmanager_config(yaml.safe_load(EXAMPLE_CONFIG.read_text()), webhook.url, WAITS)
        with AlertmanagerServer(config) as alertmanager:
            sent = [alert("PageMe", "critical", "rsv-a"), alert("TicketMe", "warning", "rsv-b")]
            requests.post(f"{alertmanager.url}/api/v2/alerts", json=sent, timeout=10).raise_for_status()
            paged = webhook.wait_for(lambda a: a.labels["alertname"] == "PageMe", 30, "PageMe")
            ticket = webhook.wait_for(lambda a: a.labels["alertname"] == "TicketMe", 30, "TicketMe")
            held = {a["labels"]["alertname"] for a in alertmanager.alerts()}
    assert (paged.path, paged.receiver, paged.status) == ("/pager", "pager", "firing")
    assert (ticket.path, ticket.receiver) == ("/ticket", "ticket")
    assert ticket.annotations == {"summary": "TicketMe summary"}
    assert held == {"PageMe", "TicketMe"}


def test_stops_and_removes_its_directory_even_when_the_body_raises() -> None:
    example = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config = derive_alertmanager_config(example, lambda name: f"http://127.0.0.1:9/{name}")
    server = AlertmanagerServer(config)
    with pytest.raises(RuntimeError, match="test body failed"):
        with server:
            url, workdir = server.url, server.workdir
            assert workdir is not None and (workdir / "alertmanager.yml").exists()
            raise RuntimeError("test body failed")
    assert not workdir.exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/-/ready", timeout=2)


def test_a_missing_binary_is_an_error_naming_the_package() -> None:
    expected = r"/nonexistent/am not found \(Debian package `prometheus-alertmanager`\)"
    with pytest.raises(RuntimeError, match=expected):
        AlertmanagerServer({}, binary="/nonexistent/am").start()
