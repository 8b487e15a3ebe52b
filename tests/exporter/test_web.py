"""The HTTP face: landing page, health, gzip, and the time budget taken from Prometheus' header."""

from __future__ import annotations

import gzip
import urllib.request
from collections.abc import Callable

import pytest
from azure_backup_exporter.service import Exporter
from azure_backup_exporter.web import budget_from

from .harness import Sim, http


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
