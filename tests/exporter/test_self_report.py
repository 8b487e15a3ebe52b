"""The exporter reports on itself: its process in /metrics, its readiness, its log lines as fields.

What an operator deploying it sees: `process_*` and `python_*` beside the backup metrics, `/-/healthy`
for liveness, `/-/ready` turning 200 once every vault has been refreshed (a failing vault included), the
metrics under `--web.telemetry-path`, and every log line in logfmt (or JSON) with time, level and the
vault it concerns.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from azure_backup_exporter.service import Exporter
from support.net import wait_until

from .harness import Sim, samples, scrape

EXPORTER = str(Path(sys.executable).with_name("azure-backup-exporter"))
SERVING = re.compile(r"Serving metrics on (?P<url>http://127\.0\.0\.1:\d+)/")
LOGFMT_PAIR = re.compile(r'(?P<key>[a-z_]+)=(?P<value>"(?:[^"\\]|\\.)*"|[^ ]*)(?: |$)')


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def logfmt(line: str) -> dict[str, str]:
    """A logfmt line's fields; fails on a line that is not logfmt."""
    pairs = list(LOGFMT_PAIR.finditer(line))
    assert pairs and "".join(p.group(0) for p in pairs) == line, f"not logfmt: {line!r}"
    return {p["key"]: json.loads(p["value"]) if p["value"].startswith('"') else p["value"] for p in pairs}


def test_metrics_include_the_process_and_the_python_runtime(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-self")
    found = samples(scrape(start_exporter(sim, vaults=[vault])))
    assert found["process_resident_memory_bytes"][0][1] > 0
    assert found["process_open_fds"][0][1] > 0
    assert found["python_info"][0][0]["implementation"] == "CPython"
    assert "python_gc_collections_total" in found
    assert found["azure_backup_vault_up"] == [(found["azure_backup_vault_up"][0][0], 1.0)]


def test_metrics_served_under_the_telemetry_path_only(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    exporter = start_exporter(sim, vaults=[sim.add_vault("rsv-path")], **{"web.telemetry-path": "/probe/x"})
    with urllib.request.urlopen(f"{exporter.url}/probe/x", timeout=30) as response:
        assert b"azure_backup_vault_up{" in response.read()
    assert status(f"{exporter.url}/metrics") == 404
    with urllib.request.urlopen(f"{exporter.url}/", timeout=30) as response:
        assert b'href="probe/x"' in response.read()


def test_ready_once_every_vault_refreshed_a_failing_one_included(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    sim = start_sim(vaults=0)
    healthy, missing = sim.add_vault("rsv-ok"), sim.add_vault("rsv-missing")
    sim.control("faults", {"revoked_vaults": [missing]})
    exporter = start_exporter(sim, vaults=[healthy, missing])
    assert status(f"{exporter.url}/-/healthy") == 200
    assert status(f"{exporter.url}/healthz") == 200
    assert status(f"{exporter.url}/-/ready") == 503  # nothing refreshed yet
    up = {labels["vault"]: v for labels, v in samples(scrape(exporter))["azure_backup_vault_up"]}
    assert up == {"rsv-ok": 1.0, "rsv-missing": 0.0}
    assert status(f"{exporter.url}/-/ready") == 200


@pytest.mark.parametrize("bad", ["metrics", "/", "/-/ready", "/a b"])
def test_a_bad_telemetry_path_is_refused_on_one_line(bad: str) -> None:
    vault = (
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
        "Microsoft.RecoveryServices/vaults/v1"
    )
    result = subprocess.run(
        [EXPORTER, "check", "--vault", vault, "--web.telemetry-path", bad], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--web.telemetry-path: expected a URL path" in result.stderr


def test_a_bad_log_format_is_refused_on_one_line() -> None:
    result = subprocess.run([EXPORTER, "demo", "--log.format", "xml"], capture_output=True, text=True)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "azure-backup-exporter: --log.format: expected one of logfmt, json, got 'xml'"
    )


@contextmanager
def serving(sim: Sim, tmp_path: Path, *args: str) -> Iterator[tuple[str, Callable[[], list[str]]]]:
    """`serve` in a subprocess; yields its URL and a function stopping it and returning its log lines."""
    env = {**os.environ, "IDENTITY_ENDPOINT": sim.simulator.identity_endpoint}
    env["IDENTITY_HEADER"] = sim.simulator.identity_header
    command = [EXPORTER, "serve", "--web.listen-address", "127.0.0.1:0", "--arm-endpoint"]
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen([*command, sim.simulator.arm_endpoint, *args], stderr=stderr, env=env)

    def url() -> str | None:
        match = SERVING.search(log.read_text())
        return match["url"] if match else None

    def stop() -> list[str]:
        process.terminate()
        process.wait(timeout=30)
        return [line for line in log.read_text().splitlines() if line]

    try:
        yield wait_until(url, timeout=30, what="the serving line"), stop
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_turns_ready_without_a_scrape_and_logs_logfmt_with_the_vault(
    start_sim: Callable[..., Sim], tmp_path: Path
) -> None:
    sim = start_sim(vaults=0)
    healthy, revoked = sim.add_vault("rsv-ok"), sim.add_vault("rsv-revoked")
    sim.control("faults", {"revoked_vaults": [revoked]})
    with serving(sim, tmp_path, "--vault", healthy, "--vault", revoked) as (url, stop):
        wait_until(lambda: status(f"{url}/-/ready") == 200, timeout=60, what="/-/ready to answer 200")
        lines = stop()
    fields = [logfmt(line) for line in lines if not line.startswith("Serving metrics")]
    assert fields and all({"time", "level", "logger", "msg"} <= set(f) for f in fields), lines
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", f["time"]) for f in fields)
    failed = [f for f in fields if f.get("vault") == revoked]
    assert failed and failed[0]["level"] == "error"
    assert failed[0]["msg"].startswith("refresh failed: HTTP 403 AuthorizationFailed")
    assert any(f["msg"].startswith("ready: 2 vault(s)") for f in fields)


def test_serve_logs_json_lines_when_asked(start_sim: Callable[..., Sim], tmp_path: Path) -> None:
    sim = start_sim(vaults=0)
    revoked = sim.add_vault("rsv-revoked")
    sim.control("faults", {"revoked_vaults": [revoked]})
    with serving(sim, tmp_path, "--vault", revoked, "--log.format", "json") as (url, stop):
        wait_until(lambda: status(f"{url}/-/ready") == 200, timeout=60, what="/-/ready to answer 200")
        lines = stop()
    records = [json.loads(line) for line in lines if not line.startswith("Serving metrics")]
    assert {"listening", "stopped"} <= {word for r in records for word in r["msg"].split()}
    assert any(r.get("vault") == revoked and r["level"] == "error" for r in records), lines
