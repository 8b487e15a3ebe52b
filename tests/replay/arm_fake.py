"""A fake Azure Resource Manager on loopback that answers with the recorded jobs, as the live service did.

Written for the replay suite, not from the simulator: the managed-identity token endpoint, the job
list of a vault with a `startTime eq '...' and endTime eq '...'` window (azure-cli's date format, at
most 30 days, else a 400 as the service's clients are told), pages of `page_size` with an absolute
`nextLink` carrying an opaque `$skiptoken`, and single-job GETs. As the live service does, a listed job
carries no `extendedInfo` (its size) and a GET carries the whole job as recorded: every other byte of
a recorded job is served as it was recorded, ids with `/Subscriptions/` included.

With an `inventory`, a vault also answers as the live service does for the protection inventory: its
own GET (the recorded vault resource, else a minimal one), `backupProtectedItems` and `backupPolicies`
in pages of `page_size` with an absolute `nextLink`, every recorded object served byte for byte.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote, urlsplit

from .recordings import seconds

IDENTITY_HEADER = "replay-identity-header"
ACCESS_TOKEN = "replay-access-token"
MAX_WINDOW = timedelta(days=30)
_JOBS = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.recoveryservices"
    r"/vaults/(?P<vault>[^/]+)/backupjobs(?:/(?P<job>[^/]+))?$",
    re.I,
)
_VAULT = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.recoveryservices"
    r"/vaults/(?P<vault>[^/]+)(?:/(?P<collection>backupprotecteditems|backuppolicies))?$",
    re.I,
)
_FILTER = re.compile(r"^startTime eq '(?P<start>[^']+)' and endTime eq '(?P<end>[^']+)'$")


class ReplayVault:
    """One vault's recorded jobs, newest first as the service lists them."""

    def __init__(self, jobs: list[dict[str, Any]], page_size: int) -> None:
        ordered = sorted(jobs, key=lambda j: seconds(j["properties"]["startTime"]))
        self._starts = [seconds(j["properties"]["startTime"]) for j in ordered]
        self._jobs = ordered
        self._by_name = {j["name"].lower(): j for j in jobs}
        self.page_size = page_size

    def listed(self, start: float, end: float) -> list[dict[str, Any]]:
        low, high = bisect.bisect_left(self._starts, start), bisect.bisect_right(self._starts, end)
        return [_as_listed(job) for job in reversed(self._jobs[low:high])]

    def get(self, name: str) -> dict[str, Any] | None:
        return self._by_name.get(name.lower())


def _as_listed(job: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in job["properties"].items() if k != "extendedInfo"}
    return {**job, "properties": properties}


@dataclass
class InventoryVault:
    """One vault's protection inventory as served: its items, its policies and its own resource."""

    resource: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)


class ReplayAzure(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        vaults: dict[tuple[str, str, str], list[dict[str, Any]]],
        page_size: int = 50,
        inventory: dict[tuple[str, str, str], InventoryVault] | None = None,
    ) -> None:
        """`inventory`: vaults whose items, policies and GET are served (their jobs: `vaults`' or none)."""
        super().__init__(("127.0.0.1", 0), _Handler)
        self.inventory = inventory or {}
        jobs = {key: [] for key in self.inventory} | vaults
        self.vaults = {key: ReplayVault(listed, page_size) for key, listed in jobs.items()}
        self.page_size = page_size
        self.requests: Counter[tuple[str, int]] = Counter()
        self.refused: list[str] = []
        self.paged = 0  # pages served through a nextLink
        self.lock = threading.Lock()

    @property
    def arm_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.arm_endpoint}/msi/token"


class _Handler(BaseHTTPRequestHandler):
    server: ReplayAzure
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall between them

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if parts.path == "/msi/token":
            if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
                self._send(400, {"error": "invalid_request"})
                return
            expires = int(datetime.now(timezone.utc).timestamp()) + 3600
            self._send(200, {"access_token": ACCESS_TOKEN, "expires_on": str(expires),
                             "resource": query.get("resource", [""])[0], "token_type": "Bearer"})  # fmt: skip
            return
        path = parts.path.rstrip("/")
        inventory = _VAULT.match(path)
        if inventory:
            status, body, endpoint = *self._inventory(path, inventory, query), _inventory_endpoint(inventory)
        else:
            status, body = self._arm(path, query)
            endpoint = "get_job" if "/backupJobs/" in parts.path else "list_jobs"
        with self.server.lock:
            self.server.requests[(endpoint, status)] += 1
            if status >= 400:
                self.server.refused.append(f"{status} {self.path}")
        self._send(status, body)

    def _arm(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        match = _JOBS.match(path)
        if not match:
            return 404, _error("InvalidResourceType", f"no route for {path}")
        if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return 401, _error("AuthenticationFailed", "The access token is invalid.")
        if not query.get("api-version"):
            return 400, _error("MissingApiVersionParameter", "api-version is required")
        vault = self.server.vaults.get(tuple(unquote(match[k]).lower() for k in ("sub", "rg", "vault")))  # type: ignore[arg-type]
        if vault is None:
            return 404, _error("ResourceNotFound", f"no vault at {path}")
        if match["job"]:
            job = vault.get(unquote(match["job"]))
            return (200, job) if job else (404, _error("BMSUserErrorJobNotFound", "no such job"))
        window = _FILTER.match(query.get("$filter", [""])[0])
        if not window:
            return 400, _error("BMSUserErrorInvalidFilter", "want startTime eq '...' and endTime eq '...'")
        start, end = (datetime.strptime(window[k], "%Y-%m-%d %I:%M:%S %p").replace(tzinfo=timezone.utc)
                      for k in ("start", "end"))  # fmt: skip
        if end < start or end - start > MAX_WINDOW:
            return 400, _error("JobAllowedDateTimeRangeExceeded", "the window must be 30 days or less")
        listed = vault.listed(start.timestamp(), end.timestamp())
        token = (query.get("$skiptoken") or [""])[0]
        offset = int(re.search(r"<NextRowKey>(\d+)</NextRowKey>", token)[1]) if token else 0  # type: ignore[index]
        if token:
            with self.server.lock:
                self.server.paged += 1
        body: dict[str, Any] = {"value": listed[offset : offset + vault.page_size]}
        if offset + vault.page_size < len(listed):
            next_token = (
                f"<ContinuationToken><NextRowKey>{offset + vault.page_size}</NextRowKey></ContinuationToken>"
            )
            body["nextLink"] = (
                f"{self.server.arm_endpoint}{path}?api-version=2017-07-01"
                f"&%24filter={quote_plus(query['$filter'][0])}&%24skiptoken={quote_plus(next_token)}"
            )
        return 200, body

    def _inventory(self, path: str, match: re.Match[str], query: dict[str, list[str]]) -> tuple[int, Any]:
        if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return 401, _error("AuthenticationFailed", "The access token is invalid.")
        if not query.get("api-version"):
            return 400, _error("MissingApiVersionParameter", "api-version is required")
        key = tuple(unquote(match[k]).lower() for k in ("sub", "rg", "vault"))
        vault = self.server.inventory.get(key)  # type: ignore[arg-type]
        if vault is None:
            return 404, _error("ResourceNotFound", f"no vault at {path}")
        if not match["collection"]:
            return 200, vault.resource
        listed = vault.items if match["collection"].lower() == "backupprotecteditems" else vault.policies
        token = (query.get("$skiptoken") or [""])[0]
        offset = int(token) if token.isdigit() else 0
        if token:
            with self.server.lock:
                self.server.paged += 1
        size = self.server.page_size
        body: dict[str, Any] = {"value": listed[offset : offset + size]}
        if offset + size < len(listed):
            body["nextLink"] = (
                f"{self.server.arm_endpoint}{path}?api-version=2019-05-13&%24skiptoken={offset + size}"
            )
        return 200, body

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-ratelimit-remaining-subscription-reads", "11999")
        self.end_headers()
        self.wfile.write(data)


def _inventory_endpoint(match: re.Match[str]) -> str:
    collection = (match["collection"] or "").lower()
    return {"backupprotecteditems": "list_protected_items", "backuppolicies": "list_policies"}.get(
        collection, "get_vault"
    )


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@contextmanager
def running(fake: ReplayAzure) -> Iterator[ReplayAzure]:
    thread = threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.shutdown()
        fake.server_close()
