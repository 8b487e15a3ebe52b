"""`azure-backup-exporter demo`: prints the /metrics URL, serves every metric, stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from azure_backup_exporter.collector import METRICS
from prometheus_client.parser import text_string_to_metric_families

WITHIN_SECONDS = 60


def families(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    return {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(text)
        if family.samples
    }


def test_demo_serves_every_metric_of_the_contract_and_stops_on_ctrl_c() -> None:
    command = [str(Path(sys.executable).with_name("azure-backup-exporter")), "demo", "--web.listen-address",
               "127.0.0.1:0"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        assert process.stdout is not None
        for line in process.stdout:
            found = re.search(r"(http://127\.0\.0\.1:\d+/metrics)", line)
            if found:
                url = found[1]
                break
        assert url is not None, "demo printed no /metrics URL"
        wanted = {spec.name for spec in METRICS}
        give_up = time.monotonic() + WITHIN_SECONDS
        seen = families(url)
        while not wanted <= seen and time.monotonic() < give_up:
            time.sleep(1)
            seen = families(url)
        assert wanted <= seen, f"missing after {WITHIN_SECONDS}s: {sorted(wanted - seen)}"
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "Traceback" not in errors
