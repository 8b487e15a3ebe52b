"""A hostile or failing Azure on loopback: ARM routes and a managed-identity token endpoint, each vault
(by name) and the token endpoint misbehaving in a chosen way.

Written from the behaviours in the hardening issue, not from the simulator: it answers only what the
exporter asks (vault lists, job lists, job details, tokens), and records every request it got.

Vault behaviours, chosen by the vault's name prefix:
- `ok-...`: one completed backup job, answered at once;
- `hang-...`: the job list answers nothing for `hang_seconds`;
- `drip-...`: the job list answers one byte every 0.2 s (each read is quick, the answer never ends);
- `endless-...`: every page of the job list has one new job and a new nextLink;
- `wait-...`: 429 with `Retry-After: 3600` (in a subscription of its own);
- `reset-...`: the connection is closed without an answer;
- `garbage-...`: 200 with a body that is not JSON.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
# `wait-` vaults live in a subscription of their own: a Retry-After holds back a whole subscription.
THROTTLED_SUBSCRIPTION = "99999999-2222-3333-4444-555555555555"
RESOURCE_GROUP = "rg-faults"
TOKEN = "tok-" + secrets.token_hex(16)  # what the exporter must never log
IDENTITY_HEADER = "hdr-" + secrets.token_hex(16)


def vault_id(name: str) -> str:
    subscription = THROTTLED_SUBSCRIPTION if name.startswith("wait-") else SUBSCRIPTION
    return (
        f"/subscriptions/{subscription}/resourceGroups/{RESOURCE_GROUP}"
        f"/providers/Microsoft.RecoveryServices/vaults/{name}"
    )


def _job(vault: str, index: int) -> dict[str, Any]:
    return {
        "id": f"{vault_id(vault)}/backupJobs/job-{index}",
        "name": f"job-{index}",
        "type": "Microsoft.RecoveryServices/vaults/backupJobs",
        "properties": {
            "jobType": "AzureIaaSVMJob",
            "entityFriendlyName": f"vm-{index}",
            "backupManagementType": "AzureIaasVM",
            "operation": "Backup",
            "status": "Completed",
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200)),
            "endTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600)),
            "duration": "PT1H",
        },
    }


class HostileArm:
    """The server; `vaults` are the names listed in the subscription, `token_mode` is ok or hang."""

    def __init__(self, vaults: list[str], token_mode: str = "ok", hang_seconds: float = 60.0) -> None:
        self.vaults = list(vaults)
        self.token_mode = token_mode
        self.hang_seconds = hang_seconds
        self.subscription_mode = "ok"  # or forbidden, slow
        self.requests: Counter[str] = Counter()
        self.authorizations: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go in two writes: without this, Nagle and delayed ACKs add 40 ms a page
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> HostileArm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileArm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, route: str) -> int:
        with self._lock:
            return self.requests[route]

    # --- routes -------------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        parts = [part for part in url.path.split("/") if part]
        query = parse_qs(url.query)
        if url.path == "/msi/token":
            self._record("token")
            if request.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
                return self._json(request, 401, {"error": "bad identity header"})
            if self.token_mode == "hang":
                self._stop.wait(self.hang_seconds)
            expires = int(time.time()) + 3600
            return self._json(
                request, 200, {"access_token": TOKEN, "expires_on": str(expires), "token_type": "Bearer"}
            )
        with self._lock:
            self.authorizations.add(request.headers.get("Authorization", ""))
        if parts[-1:] == ["vaults"] and len(parts) == 5:
            self._record("list_vaults")
            if self.subscription_mode == "forbidden":
                return self._json(
                    request, 403, {"error": {"code": "AuthorizationFailed", "message": "no role"}}
                )
            if self.subscription_mode == "slow":
                self._stop.wait(self.hang_seconds)
            return self._json(
                request, 200, {"value": [{"id": vault_id(name), "name": name} for name in self.vaults]}
            )
        if len(parts) >= 9 and parts[8] == "backupJobs":
            vault = parts[7]
            self._record(f"list_jobs:{vault}")
            return self._jobs(request, vault, query)
        return self._json(request, 404, {"error": {"code": "NotFound", "message": url.path}})

    def _jobs(self, request: BaseHTTPRequestHandler, vault: str, query: dict[str, list[str]]) -> None:
        kind = vault.split("-", 1)[0]
        if kind == "hang":
            self._stop.wait(self.hang_seconds)
            return self._json(request, 200, {"value": []})
        if kind == "drip":
            body = json.dumps({"value": [_job(vault, 1)]}).encode()
            request.send_response(200)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            for byte in body:
                if self._stop.wait(0.2):
                    return
                try:
                    request.wfile.write(bytes([byte]))
                    request.wfile.flush()
                except OSError:
                    return
            return
        if kind == "endless":
            page = int(query.get("page", ["0"])[0])
            link = f"{self.endpoint}{vault_id(vault)}/backupJobs?api-version=2025-08-01&page={page + 1}"
            return self._json(request, 200, {"value": [_job(vault, page)], "nextLink": link})
        if kind == "wait":
            return self._json(
                request,
                429,
                {"error": {"code": "TooManyRequests", "message": "slow down"}},
                {"Retry-After": "3600"},
            )
        if kind == "reset":
            request.close_connection = True
            request.connection.close()
            return
        if kind == "garbage":
            body = b"<html>not json"
            request.send_response(200)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
            return
        return self._json(request, 200, {"value": [_job(vault, 1)]})

    def _record(self, route: str) -> None:
        with self._lock:
            self.requests[route] += 1

    @staticmethod
    def _json(
        request: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(data)))
            # ARM's older quota model: plenty of reads, so that paging, not the quota, is what is tested
            request.send_header("x-ms-ratelimit-remaining-subscription-reads", "11999")
            for name, value in (headers or {}).items():
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(data)
        except OSError:
            pass  # the exporter gave up on it
