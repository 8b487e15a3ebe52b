"""`jobs list` over 100 vaults asks them all in one round of concurrent requests, not one after the other.

The ARM edge is a fake here (a loopback server we own only as a test double of Azure): each listing waits
at a barrier until all 100 vaults have asked. If the command asked one vault after the other, the barrier
would break and the vaults would fail; the peak of requests in flight says how many went at once.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from azure_backup_exporter.azure import ApiStats, ArmClient
from azure_backup_exporter.jobs import VaultRef
from azure_backup_exporter.tracking import fetch

VAULTS = 100
SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"


class StaticToken:
    """A credential as azure-identity's answer: a token and its expiry."""

    def get_token(self, *scopes: str) -> Any:
        return type("Token", (), {"token": "t", "expires_on": int(time.time()) + 3600})()


def test_jobs_list_over_100_vaults_is_one_round_of_concurrent_requests() -> None:
    barrier = threading.Barrier(VAULTS, timeout=20)
    lock, in_flight, peak = threading.Lock(), [0], [0]

    class Arm(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            with lock:
                in_flight[0] += 1
                peak[0] = max(peak[0], in_flight[0])
            try:
                barrier.wait()
                status, body = 200, {"value": []}
            except threading.BrokenBarrierError:
                status, body = 503, {"error": {"code": "NotOneRound", "message": "vaults asked one by one"}}
            with lock:
                in_flight[0] -= 1
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Arm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = ArmClient(
            StaticToken(), f"http://127.0.0.1:{server.server_port}", "https://management.azure.com/.default",
            ApiStats(),
        )  # fmt: skip
        vaults = [
            VaultRef(SUBSCRIPTION, "rg", f"rsv-{n:03d}") for n in range(VAULTS)
        ]  # fmt: skip
        listing = fetch.list_jobs(
            client, vaults, fetch.JobFilters(since_seconds=86400), time.time(), time.monotonic() + 60,
            max_concurrency=fetch_default_concurrency(),
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert listing.failures == []
    assert peak[0] == VAULTS


def fetch_default_concurrency() -> int:
    """What `jobs list` uses when --max-concurrency is not given."""
    from azure_backup_exporter.jobs_cli import DEFAULT_CONCURRENCY

    return DEFAULT_CONCURRENCY
