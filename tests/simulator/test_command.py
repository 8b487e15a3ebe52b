"""`azure-backup-exporter simulate` (and the same command as `azure-backup-simulator`) as a user runs it:
prints how to reach it, serves, stops on a signal."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

BIN = Path(sys.executable).parent
COMMAND = [str(BIN / "azure-backup-exporter"), "simulate"]
STANDALONE = [str(BIN / "azure-backup-simulator")]


@pytest.mark.parametrize("command", [COMMAND, STANDALONE], ids=["simulate", "standalone"])
def test_simulate_prints_the_three_lines_serves_and_stops_cleanly(command: list[str]) -> None:
    process = subprocess.Popen(
        [*command, "--web.listen-address", "127.0.0.1:0", "--seed", "3", "--vaults", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline().strip() for _ in range(3)]
        names = [line.split("=", 1)[0] for line in lines]
        assert names == ["ARM_ENDPOINT", "IDENTITY_ENDPOINT", "IDENTITY_HEADER"], lines
        values = dict(line.split("=", 1) for line in lines)
        assert values["ARM_ENDPOINT"].startswith("http://127.0.0.1:") and not values["ARM_ENDPOINT"].endswith(
            "/"
        )
        assert values["IDENTITY_ENDPOINT"] == values["ARM_ENDPOINT"] + "/msi/token"
        estate = requests.get(values["ARM_ENDPOINT"] + "/_simulator/estate", timeout=10).json()
        assert len(estate["vaults"]) == 2
        token = requests.get(
            values["IDENTITY_ENDPOINT"],
            timeout=10,
            params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
            headers={"X-IDENTITY-HEADER": values["IDENTITY_HEADER"]},
        ).json()["access_token"]
        answer = requests.get(
            values["ARM_ENDPOINT"] + estate["vaults"][0] + "/backupJobs",
            timeout=10,
            params={"api-version": "2026-10-01"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200 and answer.json()["value"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_simulate_applies_fault_flags() -> None:
    process = subprocess.Popen(
        [*COMMAND, "--vaults", "1", "--throttle", "--retry-after", "9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        values = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        faults = requests.get(values["ARM_ENDPOINT"] + "/_simulator/faults", timeout=10).json()
        assert faults["throttle"] is True and faults["retry_after_seconds"] == 9
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_help_lists_every_flag_with_its_default() -> None:
    result = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for flag, default in (
        ("--web.listen-address", "127.0.0.1:0"),
        ("--seed", "1"),
        ("--vaults", "4"),
        ("--page-size", "200"),
        ("--throttle-capacity", "250"),
        ("--throttle-refill", "25.0"),
        ("--max-window-days", "30"),
        ("--latency-ms", "0"),
        ("--server-error-rate", "0.0"),
        ("--fast-schedule", "0.0"),
        ("--token-lifetime", "3600"),
    ):
        text = " ".join(result.stdout.split())
        entry = text.split(f" {flag} ", 1)[1].split(" --", 1)[0]
        assert f"[default: {default}]" in entry, entry


def test_bad_flags_fail_with_a_message_not_a_traceback() -> None:
    for arguments, expected in (
        (["--web.listen-address", "nowhere"], "HOST:PORT"),
        (["--failure-rate", "2"], "failure_rate must be between 0 and 1"),
        (["--start-time", "yesterday"], "ISO 8601"),
    ):
        result = subprocess.run([*COMMAND, *arguments], capture_output=True, text=True, timeout=30)
        assert result.returncode != 0
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_the_standalone_script_is_the_same_command() -> None:
    def usage_and_rest(command: list[str]) -> tuple[str, str]:
        result = subprocess.run([*command, "-h"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        usage, _, rest = result.stdout.partition("\n")
        return usage, rest

    usage, rest = usage_and_rest(STANDALONE)
    assert usage == "Usage: azure-backup-simulator [OPTIONS]"
    assert rest == usage_and_rest(COMMAND)[1]
