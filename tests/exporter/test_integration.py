"""The exporter against the simulator over real HTTP, authenticated by the real azure-identity credential."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from azure_backup_exporter.service import Exporter

from .harness import Sim, http, samples, scrape, value


def iso(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_paging_over_many_pages(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0, page_size=5)
    vault = sim.add_vault("rsv-paged")
    for i in range(23):
        sim.add_job(
            vault,
            f"vm-{i:02d}",
            start_time=iso(timedelta(hours=-30 + i)),
            end_time=iso(timedelta(hours=-29 + i)),
        )
    exporter = start_exporter(sim, vaults=[vault], detail_fetch_budget="0")
    text = scrape(exporter)
    assert value(text, "azure_backup_vault_up", vault="rsv-paged") == 1.0
    assert sum(v for _, v in samples(text)["azure_backup_jobs"]) == 23
    assert len(samples(text)["azure_backup_last_job_status"]) == 23
    assert sim.requests()["list_jobs"] == {"200": 5}


def test_429_is_retried_after_retry_after(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0, throttle_capacity=1, throttle_refill_per_second=1.0)
    first, second = sim.add_vault("rsv-a"), sim.add_vault("rsv-b")
    sim.add_job(first, "vm-a")
    sim.add_job(second, "vm-b")
    exporter = start_exporter(
        sim, vaults=[first, second], max_concurrency="1", detail_fetch_budget="0", inventory_interval="0s"
    )
    text = scrape(exporter, headers={"X-Prometheus-Scrape-Timeout-Seconds": "15"})
    assert value(text, "azure_backup_vault_up", vault="rsv-a") == 1.0
    assert value(text, "azure_backup_vault_up", vault="rsv-b") == 1.0
    assert sim.requests()["list_jobs"]["429"] >= 1
    assert value(text, "azure_backup_api_requests_total", endpoint="list_jobs", code="429") >= 1
    assert value(text, "azure_backup_api_requests_total", endpoint="list_jobs", code="200") == 2


def test_a_deleted_vault_beside_healthy_ones(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter], caplog: pytest.LogCaptureFixture
) -> None:
    sim = start_sim(vaults=0)
    healthy, deleted = sim.add_vault("rsv-ok"), sim.add_vault("rsv-gone")
    sim.add_job(healthy, "vm-ok")
    sim.add_job(deleted, "vm-gone")
    exporter = start_exporter(sim, vaults=[healthy, deleted], detail_fetch_budget="0")
    assert value(scrape(exporter), "azure_backup_vault_up", vault="rsv-gone") == 1.0
    sim.control("faults", {"deleted_vaults": [deleted]})
    with caplog.at_level(logging.ERROR, logger="azure_backup_exporter"):
        text = scrape(exporter)
    assert value(text, "azure_backup_vault_up", vault="rsv-ok") == 1.0
    assert value(text, "azure_backup_vault_up", vault="rsv-gone") == 0.0
    # the last known values stay: a transient error must not make series vanish
    assert (
        value(text, "azure_backup_last_job_status", vault="rsv-gone", entity="vm-gone", status="Completed")
        == 1
    )
    lines = [
        r.getMessage() for r in caplog.records if "rsv-gone" in r.getMessage() and "refresh" in r.getMessage()
    ]
    assert len(lines) == 1 and "HTTP 404" in lines[0] and "ResourceNotFound" in lines[0]


def test_both_duration_formats(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-durations")
    for entity, fmt in (("vm-iso", "iso"), ("vm-timespan", "timespan")):
        sim.add_job(
            vault,
            entity,
            start_time=iso(timedelta(hours=-27, minutes=-5)),
            end_time=iso(timedelta(hours=-1, minutes=-2, seconds=-3)),
            duration_format=fmt,
        )
    text = scrape(start_exporter(sim, vaults=[vault]))
    for entity in ("vm-iso", "vm-timespan"):
        duration = value(text, "azure_backup_last_job_duration_seconds", entity=entity)
        assert duration == pytest.approx(26 * 3600 + 2 * 60 + 57, abs=1)


ODD_NAMES = ['db "quoted"', "share\\with\\backslashes", "vm-café-日本", "line\nbreak"]


def test_label_values_survive_exposition(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-odd")
    for name in ODD_NAMES:
        sim.add_job(vault, name, start_time=iso(timedelta(hours=-2)), end_time=iso(timedelta(hours=-1)))
    text = scrape(start_exporter(sim, vaults=[vault]))
    entities = {labels["entity"] for labels, _ in samples(text)["azure_backup_last_job_status"]}
    assert entities == set(ODD_NAMES)


def test_unknown_types_and_statuses_are_exported_as_written(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-future")
    sim.add_job(
        vault,
        "thing-1",
        status="Completed",
        start_time=iso(timedelta(hours=-2)),
        properties={
            "jobType": "QuantumJob",
            "status": "Hibernating",
            "operation": "Teleport",
            "backupManagementType": "AzureQuantum",
        },
    )
    text = scrape(start_exporter(sim, vaults=[vault]))
    assert (
        value(
            text,
            "azure_backup_last_job_status",
            entity="thing-1",
            status="Hibernating",
            operation="Teleport",
            backup_management_type="AzureQuantum",
        )
        == 1.0
    )
    assert value(text, "azure_backup_jobs", status="Hibernating", operation="Teleport") == 1.0


def test_counters_count_each_job_once_and_warm_scrapes_are_cheap(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vaults = [sim.add_vault("rsv-one"), sim.add_vault("rsv-two")]
    for vault in vaults:
        sim.add_job(
            vault,
            "vm-1",
            start_time=iso(timedelta(hours=-5)),
            end_time=iso(timedelta(hours=-4)),
            backup_size_bytes=1024**3,
        )
        sim.add_job(
            vault,
            "vm-1",
            status="Failed",
            start_time=iso(timedelta(hours=-3)),
            end_time=iso(timedelta(hours=-2)),
            error_code=400002,
        )
    running = sim.add_job(vaults[0], "vm-2", status="InProgress", start_time=iso(timedelta(minutes=-30)))
    exporter = start_exporter(sim, vaults=vaults)
    first = scrape(exporter)
    assert value(first, "azure_backup_jobs_finished_total", operation="Backup", status="Completed") == 2
    assert value(first, "azure_backup_job_size_bytes_total", vault="rsv-one") == 1024**3
    assert value(first, "azure_backup_last_job_error_info", vault="rsv-one", entity="vm-1") == 1
    assert value(first, "azure_backup_last_job_status", entity="vm-2", status="InProgress") == 1

    sim.reset_counts()
    for _ in range(3):
        again = scrape(exporter)
    assert value(again, "azure_backup_jobs_finished_total", operation="Backup", status="Completed") == 2
    assert value(again, "azure_backup_jobs_finished_total", operation="Backup", status="Failed") == 2
    assert value(again, "azure_backup_job_size_bytes_total", vault="rsv-one") == 1024**3
    assert value(again, "azure_backup_job_duration_seconds_count", operation="Backup") == 4
    counts = sim.requests()
    assert "get_job" not in counts
    assert counts["list_jobs"] == {"200": 3 * len(vaults)}

    sim.control(f"jobs/{running['name']}/finish", {"status": "Completed", "backup_size_bytes": 2 * 1024**3})
    done = scrape(exporter)
    assert value(done, "azure_backup_jobs_finished_total", operation="Backup", status="Completed") == 3
    assert value(done, "azure_backup_last_job_size_bytes", vault="rsv-one", entity="vm-2") == 2 * 1024**3
    assert value(done, "azure_backup_job_size_bytes_total", vault="rsv-one") == 3 * 1024**3
    assert value(done, "azure_backup_last_job_status", entity="vm-2", status="Completed") == 1
    assert value(done, "azure_backup_job_duration_seconds_count", operation="Backup") == 5
    assert sim.requests()["get_job"] == {"200": 1}


def test_min_refresh_interval_reuses_the_last_refresh(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-cached")
    sim.add_job(vault, "vm-1")
    exporter = start_exporter(sim, vaults=[vault], min_refresh_interval="1h")
    for _ in range(3):
        assert value(scrape(exporter), "azure_backup_vault_up", vault="rsv-cached") == 1.0
    assert sim.requests()["list_jobs"] == {"200": 1}


def test_subscription_discovery_and_promtool(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(seed=3)
    estate = sim.control("estate")
    text = scrape(start_exporter(sim, subscriptions=estate["subscriptions"]))
    up = {labels["vault"]: v for labels, v in samples(text)["azure_backup_vault_up"]}
    assert len(up) == len(estate["vaults"]) and set(up.values()) == {1.0}
    assert value(text, "azure_backup_api_requests_total", endpoint="list_vaults", code="200") == len(
        estate["subscriptions"]
    )
    assert samples(text)["azure_backup_api_ratelimit_remaining_reads"]
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_serve_logs_no_token_or_secret(start_sim: Callable[..., Sim]) -> None:
    from azure.identity import ManagedIdentityCredential

    sim = start_sim(vaults=0)
    healthy, revoked = sim.add_vault("rsv-ok"), sim.add_vault("rsv-revoked")
    sim.add_job(healthy, "vm-1")
    sim.control("faults", {"revoked_vaults": [revoked], "server_error_rate": 0.3})
    token = ManagedIdentityCredential().get_token("https://management.azure.com/.default").token
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("azure-backup-exporter")),
        "serve",
        "--log.level",
        "debug",
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--arm-endpoint",
        sim.simulator.arm_endpoint,
        "--vault",
        healthy,
        "--vault",
        revoked,
        "--min-refresh-interval",
        "0s",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        wait_until_listening(port)
        for _ in range(2):
            http(f"http://127.0.0.1:{port}/metrics")
    finally:
        process.terminate()
        _, logged = process.communicate(timeout=30)
    assert "rsv-revoked" in logged and "HTTP 403 AuthorizationFailed" in logged
    assert token not in logged and sim.simulator.identity_header not in logged
    assert "Authorization" not in logged.replace("AuthorizationFailed", "")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def test_a_hanging_azure_costs_the_scrape_budget_not_the_scrape(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter], caplog: pytest.LogCaptureFixture
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-slow")
    sim.add_job(vault, "vm-1")
    exporter = start_exporter(sim, vaults=[vault])
    assert value(scrape(exporter), "azure_backup_vault_up", vault="rsv-slow") == 1.0
    sim.control("faults", {"hang_seconds": 60})
    with caplog.at_level(logging.ERROR, logger="azure_backup_exporter"):
        text = scrape(exporter, headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"})
    assert value(text, "azure_backup_vault_up", vault="rsv-slow") == 0.0
    assert value(text, "azure_backup_last_job_status", vault="rsv-slow", entity="vm-1") == 1.0
    assert value(text, "azure_backup_api_requests_total", endpoint="list_jobs", code="timeout") == 1.0
    assert any("rsv-slow" in r.getMessage() and "Timeout" in r.getMessage() for r in caplog.records)


def test_a_lookback_longer_than_30_days_is_read_in_windows(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0, max_window_days=30)
    vault = sim.add_vault("rsv-history")
    for days in (1, 35, 65, 80):
        sim.add_job(
            vault,
            f"vm-{days}",
            start_time=iso(timedelta(days=-days)),
            end_time=iso(timedelta(days=-days, hours=1)),
        )
    text = scrape(start_exporter(sim, vaults=[vault], lookback="70d", detail_fetch_budget="0"))
    assert value(text, "azure_backup_vault_up", vault="rsv-history") == 1.0
    entities = {labels["entity"] for labels, _ in samples(text)["azure_backup_last_job_status"]}
    assert entities == {"vm-1", "vm-35", "vm-65"}
    assert sim.requests()["list_jobs"] == {"200": 3}


def test_subscriptions_are_listed_again_after_the_interval(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0, subscriptions=1)
    subscription = sim.control("estate")["subscriptions"][0]
    first = sim.add_vault("rsv-first")
    sim.add_job(first, "vm-1")
    exporter = start_exporter(sim, subscriptions=[subscription], vault_list_interval="1s")
    text = scrape(exporter)
    assert {labels["vault"] for labels, _ in samples(text)["azure_backup_vault_up"]} == {"rsv-first"}
    sim.add_vault("rsv-second")
    scrape(exporter)
    assert sim.requests()["list_vaults"] == {"200": 1}  # not at every scrape
    time.sleep(1.2)
    sim.control("faults", {"deleted_vaults": [first]})
    text = scrape(exporter)
    assert {labels["vault"] for labels, _ in samples(text)["azure_backup_vault_up"]} == {"rsv-second"}


def test_a_malformed_job_is_skipped_and_counted_once(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-odd-job")
    sim.add_job(vault, "vm-good", start_time=iso(timedelta(minutes=-20)))
    sim.add_job(vault, "vm-bad", start_time=iso(timedelta(minutes=-10)), properties={"duration": "soon"})
    exporter = start_exporter(sim, vaults=[vault])
    for _ in range(3):
        text = scrape(exporter)
    assert value(text, "azure_backup_vault_up", vault="rsv-odd-job") == 1.0
    assert value(text, "azure_backup_jobs_malformed_total", vault="rsv-odd-job") == 1.0
    assert {labels["entity"] for labels, _ in samples(text)["azure_backup_last_job_status"]} == {"vm-good"}


def test_a_listing_longer_than_one_scrape_goes_on_at_the_next(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0, page_size=5)
    vault = sim.add_vault("rsv-big")
    for i in range(150):
        sim.add_job(
            vault,
            f"db-{i % 10}",
            start_time=iso(timedelta(hours=-2 - i)),
            end_time=iso(timedelta(hours=-2 - i, minutes=5)),
        )
    sim.control("faults", {"latency_ms": 50})
    exporter = start_exporter(sim, vaults=[vault], detail_fetch_budget="0")
    scrapes, up = 0, 0.0
    while up != 1.0 and scrapes < 30:  # each scrape has 0.75 s: about a third of the 30 pages
        text = scrape(exporter, headers={"X-Prometheus-Scrape-Timeout-Seconds": "1"})
        up, scrapes = value(text, "azure_backup_vault_up", vault="rsv-big"), scrapes + 1
    assert up == 1.0, f"the listing never finished in {scrapes} scrapes"
    assert sum(v for _, v in samples(text)["azure_backup_jobs"]) == 150
    assert sum(v for _, v in samples(text)["azure_backup_jobs_finished_total"]) == 150
    # every page asked once, but for one per scrape cut short by the deadline
    assert sim.requests()["list_jobs"].get("200", 0) <= 30 + scrapes
