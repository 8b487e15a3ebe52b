"""The ARM client against a small scripted server: shapes from the reference the simulator never sends."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure_backup_exporter.azure import ApiStats, ArmClient
from azure_backup_exporter.azure.client import build_session, filter_time, split_windows
from azure_backup_exporter.azure.errors import (
    ArmForbidden,
    ArmMalformedResponse,
    ArmNotFound,
    ArmServerError,
    ArmThrottled,
    ArmUnauthorized,
    CredentialError,
)
from azure_backup_exporter.jobs import VaultRef

VAULT = VaultRef("00000000-0000-0000-0000-000000000001", "rg", "v1")
JOBS = VAULT.resource_id + "/backupJobs"
TOKEN = "secret-token-value"


class Token:
    token = TOKEN


class StaticCredential:
    def get_token(self, *scopes: str) -> Token:
        return Token()


class FailingCredential:
    def get_token(self, *scopes: str) -> Token:
        raise RuntimeError("DefaultAzureCredential failed. Attempted credentials: EnvironmentCredential, ...")


Reply = tuple[int, dict[str, str], bytes]


class Scripted(ThreadingHTTPServer):
    """Answers each GET with the next scripted reply for its path, recording what it received."""

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.replies: dict[str, list[Reply]] = {}
        self.received: list[tuple[str, dict[str, list[str]], str | None]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def script(self, path: str, *replies: Reply) -> None:
        self.replies.setdefault(path, []).extend(replies)


class Handler(BaseHTTPRequestHandler):
    server: Scripted
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        self.server.received.append((parts.path, parse_qs(parts.query), self.headers.get("Authorization")))
        queue = self.server.replies.get(parts.path) or [(404, {}, b'{"error":{"code":"NoScript"}}')]
        status, headers, body = queue.pop(0) if len(queue) > 1 else queue[0]
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def ok(body: Any, **headers: str) -> Reply:
    return 200, headers, json.dumps(body).encode()


@contextmanager
def serving(scripted: Scripted) -> Iterator[Scripted]:
    thread = threading.Thread(target=scripted.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield scripted
    finally:
        scripted.shutdown()
        scripted.server_close()


@pytest.fixture
def server() -> Iterator[Scripted]:
    with serving(Scripted()) as scripted:
        yield scripted


def client_for(server: Scripted, credential: Any = None) -> ArmClient:
    scope = "https://management.azure.com/.default"
    session = build_session(backoff_factor=0.01)
    return ArmClient(credential or StaticCredential(), server.base, scope, ApiStats(), session=session)


def deadline(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


def test_next_link_followed_with_our_api_version_and_never_to_another_host(server: Scripted) -> None:
    port = server.server_address[1]
    stale = (
        f"http://localhost:{port}{JOBS}?api-version=2017-07-01&%24filter=startTime+eq+%27x%27"
        "&%24skiptoken=%3cContinuationToken%3e1%3c%2fContinuationToken%3e"
    )
    server.script(
        JOBS, ok({"value": [{"name": "a"}], "nextLink": stale}), ok({"value": [], "nextLink": None})
    )
    client = client_for(server)
    pages = list(client.iter_job_pages(VAULT, 0, 86400, deadline()))
    assert pages == [[{"name": "a"}], []]
    (_, first, auth1), (_, second, auth2) = server.received
    assert first["api-version"] == ["2025-08-01"]
    assert first["$filter"] == [
        "startTime eq '1970-01-01 12:00:00 AM' and endTime eq '1970-01-02 12:00:00 AM'"
    ]
    # the stale api-version of the nextLink is replaced by the client's own, as the Azure SDK does
    assert second["api-version"] == ["2025-08-01"] and second["$skiptoken"] == [
        "<ContinuationToken>1</ContinuationToken>"
    ]
    assert auth1 == auth2 == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        (
            (404, {}, b'{"error":{"code":"ResourceNotFound","message":"The Resource was not found."}}'),
            ArmNotFound,
            "ResourceNotFound",
        ),
        (
            (403, {}, b'{"error":{"code":"AuthorizationFailed","message":"no role"}}'),
            ArmForbidden,
            "AuthorizationFailed",
        ),
        ((502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"), ArmServerError, "HTTP502"),
        ((200, {}, b'{"value": [ {"name": "trunc'), ArmMalformedResponse, "MalformedResponse"),
        ((200, {}, b'{"value": 3}'), ArmMalformedResponse, "MalformedResponse"),
    ],
)
def test_error_replies_become_typed_errors(server: Scripted, reply: Reply, error: type, code: str) -> None:
    server.script(JOBS, reply)
    client = client_for(server)
    with pytest.raises(error) as caught:
        list(client.iter_job_pages(VAULT, 0, 60, deadline()))
    assert caught.value.code == code and caught.value.status == reply[0]
    assert TOKEN not in str(caught.value)


def test_throttling_beyond_the_budget_gives_up_in_time(server: Scripted) -> None:
    server.script(JOBS, (429, {"Retry-After": "60"}, b'{"error":{"code":"SubscriptionRequestsThrottled"}}'))
    client = client_for(server)
    with pytest.raises(ArmThrottled):
        list(client.iter_job_pages(VAULT, 0, 60, deadline(3)))
    assert client.stats.snapshot().requests == {("list_jobs", "429"): 1}


def test_rate_limit_header_and_request_counts(server: Scripted) -> None:
    server.script(
        JOBS, (503, {}, b"{}"), ok({"value": []}, **{"x-ms-ratelimit-remaining-subscription-reads": "249"})
    )
    client = client_for(server)
    list(client.iter_job_pages(VAULT, 0, 60, deadline()))
    snapshot = client.stats.snapshot()
    assert snapshot.requests == {("list_jobs", "503"): 1, ("list_jobs", "200"): 1}
    assert snapshot.ratelimit_remaining_reads == {VAULT.subscription_id: 249}


def test_missing_credential_says_what_was_tried(server: Scripted) -> None:
    client = client_for(server, FailingCredential())
    with pytest.raises(CredentialError, match="Attempted credentials"):
        client.get_job(VAULT, "j1", deadline())
    assert server.received == []


def test_vault_ids_from_listing_are_read_case_insensitively(server: Scripted) -> None:
    path = "/subscriptions/s1/providers/Microsoft.RecoveryServices/vaults"
    rg1 = "/Subscriptions/s1/resourceGroups/RG1/providers/microsoft.recoveryservices/vaults/a"
    rg2 = "/subscriptions/s1/resourceGroups/rg2/providers/Microsoft.RecoveryServices/vaults/b"
    server.script(
        path,
        ok(
            {
                "value": [
                    {"id": rg1},
                    {"id": rg2},
                    {"id": "not-an-id"},
                ]
            }
        ),
    )
    vaults = client_for(server).list_vaults("s1", deadline())
    assert [(v.resource_group, v.name) for v, _ in vaults] == [("RG1", "a"), ("rg2", "b")]
    assert [resource["id"] for _, resource in vaults] == [rg1, rg2]  # the listed resource, for its settings
    assert server.received[0][1]["api-version"] == ["2026-08-01"]


def test_windows_never_exceed_30_days_and_times_use_the_cli_format() -> None:
    windows = split_windows(0, 95 * 86400)
    assert len(windows) == 4 and all(end - start <= 30 * 86400 for start, end in windows)
    assert windows[0][0] == 0 and windows[-1][1] == 95 * 86400
    assert filter_time(13 * 3600 + 5 * 60 + 7.5) == "1970-01-01 01:05:07 PM"
    assert filter_time(0.2, round_up=True) == "1970-01-01 12:00:01 AM"


# --- nextLinks that would carry the token elsewhere -------------------------------------------------


class Recording(requests.adapters.BaseAdapter):
    """The session's own adapter, noting the URL and Authorization header of every request sent."""

    def __init__(self, inner: requests.adapters.BaseAdapter) -> None:
        super().__init__()
        self.inner = inner
        self.sent: list[tuple[str, str | None]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append((str(request.url), request.headers.get("Authorization")))
        return self.inner.send(request, **kwargs)

    def close(self) -> None:
        self.inner.close()


def recording_client(server: Scripted) -> tuple[ArmClient, Recording]:
    session = build_session(backoff_factor=0.01)
    recording = Recording(session.get_adapter("http://"))
    session.mount("http://", recording)
    scope = "https://management.azure.com/.default"
    return ArmClient(StaticCredential(), server.base, scope, ApiStats(), session=session), recording


def _bind_pair() -> tuple[Scripted, Scripted]:
    """ARM on a port P below 6554 and an attacker on port P*10+1: then `base + "1/subscriptions/..."`,
    the join that once followed such a nextLink, is the attacker's address."""
    for port in random.sample(range(1024, 6554), 300):
        try:
            arm = Scripted(port)
        except OSError:
            continue
        try:
            return arm, Scripted(port * 10 + 1)
        except OSError:
            arm.server_close()
    pytest.fail("no free pair of loopback ports P and P*10+1")


@pytest.fixture
def arm_and_attacker() -> Iterator[tuple[Scripted, Scripted]]:
    arm, attacker = _bind_pair()
    with ExitStack() as stack:
        yield stack.enter_context(serving(arm)), stack.enter_context(serving(attacker))


PAGE_2 = "?%24skiptoken=2"
HOSTILE_LINKS = {
    # relative without a leading '/': joined to the endpoint they changed its port, or its host
    "digit": ("1" + JOBS + PAGE_2, "refused"),
    "dot-host": (".attacker.example" + JOBS + PAGE_2, "refused"),
    "userinfo": ("@127.0.0.1:{attacker}" + JOBS + PAGE_2, "refused"),
    "bad-port": ("http://127.0.0.1:port" + JOBS + PAGE_2, "refused"),
    # absolute or host-relative links to another host: only their path and query are followed, on ARM
    "other-host": ("http://127.0.0.1:{attacker}" + JOBS + PAGE_2, "followed"),
    "network-path": ("//127.0.0.1:{attacker}" + JOBS + PAGE_2, "followed"),
    "path-only": (JOBS + PAGE_2, "followed"),
    "credentials-in-url": ("http://evil:pw@127.0.0.1:{arm}" + JOBS + PAGE_2, "followed"),
}


@pytest.mark.parametrize(("link", "outcome"), HOSTILE_LINKS.values(), ids=HOSTILE_LINKS.keys())
def test_a_hostile_next_link_never_takes_the_token_off_the_arm_endpoint(
    arm_and_attacker: tuple[Scripted, Scripted], link: str, outcome: str
) -> None:
    arm, attacker = arm_and_attacker
    next_link = link.format(attacker=attacker.server_address[1], arm=arm.server_address[1])
    arm.script(JOBS, ok({"value": [{"name": "a"}], "nextLink": next_link}), ok({"value": []}))
    client, recording = recording_client(arm)
    if outcome == "followed":
        assert list(client.iter_job_pages(VAULT, 0, 60, deadline())) == [[{"name": "a"}], []]
        assert arm.received[1][1]["$skiptoken"] == ["2"]
    else:
        with pytest.raises(ArmMalformedResponse, match="nextLink") as caught:
            list(client.iter_job_pages(VAULT, 0, 60, deadline()))
        assert TOKEN not in str(caught.value)
        assert len(arm.received) == 1
    assert attacker.received == []
    assert recording.sent and all(url.startswith(arm.base + "/") for url, _ in recording.sent)
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in arm.received)


def test_a_listing_resumed_from_another_host_is_refused_before_any_request(
    arm_and_attacker: tuple[Scripted, Scripted],
) -> None:
    arm, attacker = arm_and_attacker
    client, recording = recording_client(arm)
    with pytest.raises(ArmMalformedResponse, match="not on the ARM endpoint"):
        list(client.job_pages(VAULT, 0, 60, deadline(), resume=attacker.base + JOBS + PAGE_2))
    assert attacker.received == [] and recording.sent == []


class CountingCredential:
    """Tokens that expire in an hour, as azure-identity gives them; counts how often it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def get_token(self, *scopes: str) -> Any:
        self.asked += 1
        return type("AccessToken", (), {"token": TOKEN, "expires_on": int(time.time()) + 3600})()


def test_a_token_is_kept_until_near_expiry_and_fetched_again_after_a_401(server: Scripted) -> None:
    credential = CountingCredential()
    server.script(
        JOBS,
        ok({"value": []}),
        ok({"value": []}),
        (401, {}, b'{"error":{"code":"ExpiredAuthenticationToken","message":"expired"}}'),
        ok({"value": []}),
    )
    client = client_for(server, credential)
    for _ in range(2):
        list(client.iter_job_pages(VAULT, 0, 60, deadline()))
    assert credential.asked == 1  # kept, not asked at every request
    with pytest.raises(ArmUnauthorized):
        list(client.iter_job_pages(VAULT, 0, 60, deadline()))
    list(client.iter_job_pages(VAULT, 0, 60, deadline()))
    assert credential.asked == 2  # refused by ARM: a new one
