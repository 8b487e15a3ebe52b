"""Each fault or attack of the hardening issue, against a hostile Azure on loopback, and the invariants
that must hold whatever Azure does:

- `/metrics` answers 200 within the scrape's budget (plus the time to render and send it);
- healthy vaults are refreshed;
- a vault that cannot be refreshed within its deadline reports `azure_backup_vault_up 0`;
- counters never decrease;
- no token or identity-header secret in any log line or in the exposition;
- memory stays bounded (a listing that pages without end is cut).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure_backup_exporter.config import load_config
from azure_backup_exporter.readers import MAX_LISTING_PAGES
from azure_backup_exporter.service import Exporter
from prometheus_client.parser import text_string_to_metric_families
from support.exporter import OTHER_CREDENTIALS, ExporterProcess

from .hostile_arm import IDENTITY_HEADER, SUBSCRIPTION, TOKEN, HostileArm, vault_id

HEADER_TIMEOUT = 2.0  # what Prometheus says in X-Prometheus-Scrape-Timeout-Seconds
# Time a scrape may take beyond the header's timeout: rendering, sending, and a loaded test machine.
# The faults below would each hold a scrape for a minute or more without their fixes.
SLACK = 3.0


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in OTHER_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)

    def point_at(fake: HostileArm) -> None:
        monkeypatch.setenv("IDENTITY_ENDPOINT", f"{fake.endpoint}/msi/token")
        monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)

    yield point_at


@pytest.fixture
def run(identity: Any, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """Start a hostile fake and an exporter on it; yields a function returning both."""
    started: list[Any] = []
    caplog.set_level(logging.DEBUG)

    def start(
        vaults: list[str], *, by_subscription: bool = False, **flags: str
    ) -> tuple[HostileArm, Exporter]:
        fake = HostileArm(vaults, **{k: v for k, v in flags.items() if k in ("token_mode",)}).start()
        started.append(fake)
        identity(fake)
        options: dict[str, Any] = {
            "web.listen-address": "127.0.0.1:0",
            "arm-endpoint": fake.endpoint,
            "min-refresh-interval": "0s",
            "max-concurrency": "2",
            **{k.replace("_", "-"): v for k, v in flags.items() if k != "token_mode"},
        }
        if by_subscription:
            options["subscription"] = [SUBSCRIPTION]
        else:
            options["vault"] = [vault_id(name) for name in vaults]
        exporter = Exporter(load_config(options, {}))
        exporter.start()
        started.append(exporter)
        return fake, exporter

    yield start
    for thing in reversed(started):
        thing.stop()


def scrape(exporter: Exporter) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], str]:
    """One scrape as Prometheus does it: must answer 200 within its budget. Samples by (name, labels)."""
    began = time.monotonic()
    response = requests.get(
        f"{exporter.url}/metrics",
        headers={"X-Prometheus-Scrape-Timeout-Seconds": str(HEADER_TIMEOUT)},
        timeout=60,
    )
    elapsed = time.monotonic() - began
    assert response.status_code == 200
    assert elapsed < HEADER_TIMEOUT + SLACK, f"the scrape took {elapsed:.1f}s"
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return samples, response.text


def up(samples: dict[Any, float], vault: str) -> float | None:
    for (name, labels), value in samples.items():
        if name == "azure_backup_vault_up" and dict(labels)["vault"] == vault:
            return value
    return None


def counters(samples: dict[Any, float]) -> dict[Any, float]:
    return {key: value for key, value in samples.items() if key[0].endswith("_total")}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text and IDENTITY_HEADER not in text


@pytest.mark.parametrize("fault", ["hang", "drip", "endless", "wait", "reset", "garbage"])
def test_a_failing_vault_beside_a_healthy_one(run: Any, caplog: pytest.LogCaptureFixture, fault: str) -> None:
    fake, exporter = run(["ok-a", f"{fault}-b"])
    previous: dict[Any, float] = {}
    for _ in range(3):
        samples, text = scrape(exporter)
        assert up(samples, "ok-a") == 1.0
        assert up(samples, f"{fault}-b") == 0.0
        for key, value in counters(samples).items():
            assert value >= previous.get(key, 0.0), f"{key} went down"
        previous = counters(samples)
        assert_no_secret(text)
    assert_no_secret(caplog.text)
    assert f"{fault}-b" in caplog.text  # the failing vault is named in a log line
    if fault == "wait":  # the hour Azure asked for is kept across scrapes: one request, not three
        assert fake.count("list_jobs:wait-b") == 1


def test_a_listing_that_pages_without_end_is_cut_and_memory_with_it(
    run: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake, exporter = run(["ok-a", "endless-b"])
    for _ in range(30):
        scrape(exporter)
        if f"more than {MAX_LISTING_PAGES} pages" in caplog.text:
            break
    assert f"more than {MAX_LISTING_PAGES} pages" in caplog.text
    # the cut listing's jobs were dropped with it: none of the thousand pages' jobs is held or shown
    samples, _ = scrape(exporter)
    entities = {
        dict(labels)["entity"] for (name, labels) in samples if name == "azure_backup_last_job_status"
    }
    assert entities == {"vm-1"}  # ok-a's one job
    assert fake.count("list_jobs:endless-b") <= 2 * MAX_LISTING_PAGES + 5


def test_vaults_that_drip_do_not_starve_a_healthy_one(run: Any) -> None:
    _, exporter = run(["drip-1", "drip-2", "ok-a"])
    seen_up = [up(scrape(exporter)[0], "ok-a") for _ in range(4)]
    assert seen_up[1:] == [1.0, 1.0, 1.0]  # refreshed at the second scrape at the latest, then kept


def test_a_token_endpoint_that_hangs_costs_the_budget_not_the_scrape(
    run: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, exporter = run(["ok-a"], token_mode="hang")
    samples, text = scrape(exporter)
    assert up(samples, "ok-a") == 0.0
    assert "TokenTimeout" in caplog.text
    assert_no_secret(text, caplog.text)


def test_a_forbidden_subscription_shows_as_down(run: Any) -> None:
    fake, exporter = run(["ok-a"], by_subscription=True, vault_list_interval="1s")
    samples, _ = scrape(exporter)
    assert samples[("azure_backup_subscription_up", (("subscription_id", SUBSCRIPTION),))] == 1.0
    fake.subscription_mode = "forbidden"
    time.sleep(1.1)  # past --vault-list-interval
    samples, _ = scrape(exporter)
    assert samples[("azure_backup_subscription_up", (("subscription_id", SUBSCRIPTION),))] == 0.0
    assert up(samples, "ok-a") == 1.0  # the vaults listed before are still collected


@pytest.fixture
def slow_list(run: Any) -> tuple[HostileArm, Exporter]:
    return run(["ok-a"], by_subscription=True, vault_list_interval="1s")  # type: ignore[no-any-return]


def test_a_slow_vault_list_serves_the_last_one_within_the_budget(
    slow_list: tuple[HostileArm, Exporter],
) -> None:
    fake, exporter = slow_list
    scrape(exporter)
    fake.subscription_mode = "slow"
    time.sleep(1.1)
    samples, _ = scrape(exporter)
    assert up(samples, "ok-a") == 1.0
    assert samples[("azure_backup_subscription_up", (("subscription_id", SUBSCRIPTION),))] == 0.0


def test_sigterm_stops_the_exporter_within_5_seconds_while_azure_hangs() -> None:
    with HostileArm(["hang-a"], hang_seconds=120) as fake:
        process = ExporterProcess(
            ["--arm-endpoint", fake.endpoint, "--vault", vault_id("hang-a"), "--scrape-timeout", "60s"],
            {"IDENTITY_ENDPOINT": f"{fake.endpoint}/msi/token", "IDENTITY_HEADER": IDENTITY_HEADER},
        ).start()
        try:
            scraping = threading.Thread(target=lambda: _scrape_quietly(process.url), daemon=True)
            scraping.start()
            for _ in range(100):  # until the refresh is waiting on Azure
                if fake.count("list_jobs:hang-a"):
                    break
                time.sleep(0.05)
            assert fake.count("list_jobs:hang-a") == 1
            pid = process.pid
            assert pid is not None
            os.kill(pid, signal.SIGTERM)
            assert process._process is not None
            process._process.wait(timeout=5)  # raises if still running after 5 s
            output = process.output()
            assert "stopped" in output
            assert_no_secret(output)
        finally:
            process.close()


def _scrape_quietly(url: str) -> None:
    try:
        requests.get(f"{url}/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": "60"}, timeout=90)
    except requests.RequestException:
        pass  # the exporter stops under it
