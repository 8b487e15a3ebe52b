"""An independent fake of Azure, written from `/work/shared/azure-api.md` alone (not from the simulator).

It serves what the reference describes and nothing more: the App Service managed-identity token
endpoint (section 6), vault listing by subscription (4.1), `backupJobs` listing with a
`startTime eq '...' and endTime eq '...'` window in the azure-cli date format (1.1), pages of at most
`page_size` items with an absolute `nextLink` carrying a stale api-version and an opaque XML
`$skiptoken` (1.2), job details (2), CloudError bodies for 401/403/404/429 (5) and the rate-limit header.
It is strict where the reference tells a client what to do: no window, a window over 30 days or a date
in another format is a 400, and every request is recorded so the tests can check what the exporter asked.
Jobs are plain JSON dicts, written by the test as a real Azure would send them.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote, urlsplit

IDENTITY_HEADER = "fake-identity-header-7f3a"
ACCESS_TOKEN = "fake-arm-access-token-5c9e1b"
STALE_API_VERSION = "2017-07-01"
MAX_WINDOW = timedelta(days=30)
_VAULTS = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.recoveryservices/vaults$", re.I)
_JOBS = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.recoveryservices"
    r"/vaults/(?P<vault>[^/]+)/backupjobs(?:/(?P<job>[^/]+))?$",
    re.I,
)
_TERM = re.compile(r"^\s*(?P<field>\w+)\s+eq\s+'(?P<value>[^']*)'\s*$")


def timestamp(moment: datetime) -> str:
    """A date-time as the examples write it: UTC, seven fraction digits, `Z`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z"


@dataclass
class FakeVault:
    subscription: str
    resource_group: str
    name: str
    jobs: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, dict[str, Any]] = field(default_factory=dict)  # job name -> extra properties on GET
    page_size: int = 200
    answer: tuple[int, str, str] | None = None  # (status, ARM code, message) instead of data
    unlisted: set[str] = field(default_factory=set)  # job names a listing leaves out (a GET still finds them)

    @property
    def resource_id(self) -> str:
        # the casing of the real 2018 response: lower-case provider
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/microsoft.recoveryservices/vaults/{self.name}"
        )

    def key(self) -> tuple[str, str, str]:
        return (self.subscription.lower(), self.resource_group.lower(), self.name.lower())


@dataclass
class Request:
    route: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    status: int


class FakeAzure(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.vaults: list[FakeVault] = []
        self.listed_vaults_page_size = 1
        self.throttle_next = 0  # how many ARM reads answer 429 before serving again
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._reads_left: dict[str, int] = {}

    # --- what a test reads -----------------------------------------------------------------------

    @property
    def arm_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.arm_endpoint}/msi/token"

    identity_header = IDENTITY_HEADER

    def count(self, route: str, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.route == route and status in (None, r.status))

    def forget_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    def vault(self, name: str) -> FakeVault:
        return next(v for v in self.vaults if v.name == name)

    # --- serving ---------------------------------------------------------------------------------

    def find_vault(self, subscription: str, resource_group: str, name: str) -> FakeVault | None:
        wanted = (unquote(subscription).lower(), unquote(resource_group).lower(), unquote(name).lower())
        return next((v for v in self.vaults if v.key() == wanted), None)

    def reads_left(self, subscription: str) -> int:
        with self.lock:
            left = self._reads_left.get(subscription.lower(), 12000) - 1
            self._reads_left[subscription.lower()] = left
            return left


class _Handler(BaseHTTPRequestHandler):
    server: FakeAzure
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        path = parts.path.rstrip("/")
        if path == "/msi/token":
            self._token(query)
            return
        route, status, body, headers = self._arm(path, query)
        with self.server.lock:
            self.server.requests.append(
                Request(route, path, query, self.headers.get("Authorization"), status)
            )
        self._send(status, body, headers)

    def _token(self, query: dict[str, list[str]]) -> None:
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER or not query.get("resource"):
            self._send(400, {"error": "invalid_request"})
            return
        expires = int(datetime.now(timezone.utc).timestamp()) + 3600
        self._send(
            200,
            {
                "access_token": ACCESS_TOKEN,
                "expires_on": str(expires),
                "resource": query["resource"][0],
                "token_type": "Bearer",
            },
        )

    def _arm(self, path: str, query: dict[str, list[str]]) -> tuple[str, int, Any, dict[str, str]]:
        vaults, jobs = _VAULTS.match(path), _JOBS.match(path)
        route = "list_vaults" if vaults else ("get_job" if jobs and jobs["job"] else "list_jobs")
        if not vaults and not jobs:
            return "unknown", 404, _error("InvalidResourceType", f"no route for {path}"), {}
        if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return route, 401, _error("AuthenticationFailed", "The access token is invalid."), {}
        if not query.get("api-version"):
            return route, 400, _error("MissingApiVersionParameter", "api-version is required"), {}
        subscription = (vaults or jobs)["sub"]  # type: ignore[index]
        if self.server.throttle_next > 0:
            with self.server.lock:
                self.server.throttle_next -= 1
            message = "Number of read requests for subscription exceeded the limit."
            return route, 429, _error("SubscriptionRequestsThrottled", message), {"Retry-After": "1"}
        headers = {"x-ms-ratelimit-remaining-subscription-reads": str(self.server.reads_left(subscription))}
        if vaults:
            items = [
                _vault_json(v) for v in self.server.vaults if v.subscription.lower() == subscription.lower()
            ]
            return route, 200, self._page(path, query, items, self.server.listed_vaults_page_size), headers
        assert jobs is not None
        vault = self.server.find_vault(jobs["sub"], jobs["rg"], jobs["vault"])
        if vault is None:
            message = (
                f"The Resource 'Microsoft.RecoveryServices/vaults/{unquote(jobs['vault'])}' under resource "
                f"group '{unquote(jobs['rg'])}' was not found. For more details please go to "
                "https://aka.ms/ARMResourceNotFoundFix"
            )
            return route, 404, _error("ResourceNotFound", message), {"x-ms-failure-cause": "gateway"}
        if vault.answer is not None:
            status, code, message = vault.answer
            return route, status, _error(code, message), {}
        if jobs["job"]:
            return route, *self._job(vault, unquote(jobs["job"])), headers
        window = _window(query.get("$filter", [""])[0])
        if isinstance(window, str):
            return route, 400, _error("BMSUserErrorInvalidFilter", window), {}
        start, end = window
        listed = [
            j
            for j in vault.jobs
            if start <= _when(j["properties"]["startTime"]) <= end and j["name"] not in vault.unlisted
        ]
        listed.sort(key=lambda j: _when(j["properties"]["startTime"]), reverse=True)
        return route, 200, self._page(path, query, listed, vault.page_size), headers

    def _job(self, vault: FakeVault, name: str) -> tuple[int, Any]:
        job = next((j for j in vault.jobs if j["name"].lower() == name.lower()), None)
        if job is None:
            return 404, _error("BMSUserErrorJobNotFound", f"Job {name} not found")
        detailed = json.loads(json.dumps(job))
        detailed["properties"].update(vault.details.get(job["name"], {}))
        return 200, detailed

    def _page(self, path: str, query: dict[str, list[str]], items: list[Any], size: int) -> dict[str, Any]:
        token = (query.get("$skiptoken") or query.get("$skipToken") or [""])[0]
        offset = int(re.search(r"<NextRowKey>(\d+)</NextRowKey>", token)[1]) if token else 0  # type: ignore[index]
        body: dict[str, Any] = {"value": items[offset : offset + size]}
        if offset + size < len(items):
            next_token = (
                '<?xml version="1.0" encoding="utf-16"?>\r\n<ContinuationToken><Version>2.0</Version>'
                f"<Type>Table</Type><NextRowKey>{offset + size}</NextRowKey></ContinuationToken>"
            )
            link = f"{self.server.arm_endpoint}{path}?api-version={STALE_API_VERSION}"
            if "$filter" in query:
                link += f"&%24filter={quote_plus(query['$filter'][0])}"
            body["nextLink"] = f"{link}&%24skiptoken={quote_plus(next_token)}"
        return body

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", "00000000-0000-0000-0000-00000000abcd")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _vault_json(vault: FakeVault) -> dict[str, Any]:
    return {
        "id": vault.resource_id,
        "name": vault.name,
        "type": "Microsoft.RecoveryServices/vaults",
        "etag": "W/\"datetime'2026-01-01T00%3A00%3A00.000Z'\"",
        "location": "westeurope",
        "tags": {},
        "sku": {"name": "Standard"},
        "properties": {"provisioningState": "Succeeded"},
    }


def _when(text: str) -> datetime:
    return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def _window(text: str) -> tuple[datetime, datetime] | str:
    """The [startTime, endTime] window of a `$filter`, or why it is refused."""
    terms: dict[str, str] = {}
    for term in re.split(r"\s+and\s+", text.strip()) if text.strip() else []:
        match = _TERM.match(term)
        if not match:
            return f"cannot parse filter term {term!r}"
        terms[match["field"]] = match["value"]
    if "startTime" not in terms or "endTime" not in terms:
        return "this fake wants an explicit startTime and endTime window"
    try:
        start, end = (
            datetime.strptime(terms[name], "%Y-%m-%d %I:%M:%S %p").replace(tzinfo=timezone.utc)
            for name in ("startTime", "endTime")
        )
    except ValueError:
        return "dates must be written yyyy-MM-dd hh:mm:ss AM/PM"
    if end < start or end - start > MAX_WINDOW:
        return "JobAllowedDateTimeRangeExceeded: the window must be 30 days or less"
    return start, end


@contextmanager
def running(fake: FakeAzure) -> Iterator[FakeAzure]:
    thread = threading.Thread(target=fake.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.shutdown()
        fake.server_close()
