"""The life cycle shared by the server helpers: a server never outlives the test process that started it,
even one killed without a chance to clean up (SIGKILL, a CI runner stopping the job, `kill <pytest pid>`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from support.net import wait_until

TESTS = Path(__file__).resolve().parents[1]
STARTS_A_SERVER_AND_WAITS = f"""
import sys, time
sys.path.insert(0, {str(TESTS)!r})
from support.prometheus import PrometheusServer
server = PrometheusServer().start()
print(server.pid, flush=True)
time.sleep(120)
"""


def running(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has exited; its parent has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_test_process_takes_its_servers_with_it(tmp_path: Path) -> None:
    # The killed parent cannot remove its server's directory: let it be under tmp_path.
    parent = subprocess.Popen(
        [sys.executable, "-c", STARTS_A_SERVER_AND_WAITS],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    server_pid = None
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert running(server_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        wait_until(lambda: not running(server_pid), timeout=15, what=f"Prometheus (pid {server_pid}) to exit")
    finally:
        parent.kill()
        parent.wait()
        if server_pid is not None and running(server_pid):
            os.kill(server_pid, signal.SIGKILL)  # this test failed: leave nothing behind anyway
