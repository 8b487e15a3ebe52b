"""HTTP calls to Azure Resource Manager for vaults and backup jobs.

One `requests.Session` with urllib3 `Retry` (429 and 5xx, GET only, honouring `Retry-After`, with
backoff) does the retrying; `BudgetRetry` adds the one thing urllib3 lacks: it never sleeps past
the deadline of the scrape that asked. Pages are followed through the absolute `nextLink`, asked
with the client's own api-version as the Azure SDK does (nextLinks carry stale ones).
Errors come out as the typed exceptions of `errors.py`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.util.retry import Retry

from ..jobs import VaultRef
from .deadline import DeadlineAdapter, deadline_scope
from .errors import (
    ArmError,
    ArmMalformedResponse,
    ArmThrottled,
    ArmUnreachable,
    error_for_status,
)
from .quota import QuotaExhausted, ReadQuota
from .stats import ApiStats
from .token import TokenCredential, TokenSource

log = logging.getLogger(__name__)

JOBS_API_VERSION = "2025-08-01"
# Protected items and policies: the same Backup RP line as jobs (azure-api-protected-items.md section 0).
INVENTORY_API_VERSION = JOBS_API_VERSION
VAULTS_API_VERSION = "2026-08-01"
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_WINDOW_SECONDS = 30 * 86400 - 60  # 30 days, less room for rounding to whole seconds
MAX_PAGES = 10_000
RATELIMIT_HEADER = "x-ms-ratelimit-remaining-subscription-reads"


class Page(NamedTuple):
    """One page of a list: its raw items, and the URL of the next page (None on the last)."""

    items: list[Any]
    next_url: str | None


class OperationReply(NamedTuple):
    """One answer of an operation URL: status (200, 202, 204), JSON body or None, and where to go on."""

    status: int
    body: Any
    retry_after: float | None
    location: str | None
    azure_async_operation: str | None


def _subscription_of(path: str) -> str:
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0].lower() == "subscriptions":
        return unquote(parts[1])
    return ""


@dataclass
class _Call:
    endpoint: str
    deadline: float
    stats: ApiStats


_current = threading.local()


class _BudgetExhausted(Exception):
    def __init__(self, status: int, wait: float) -> None:
        super().__init__(f"waiting {wait:.1f}s before retrying would exceed the scrape's time budget")
        self.status = status
        self.wait = wait


def _code(response: Any, error: Exception | None) -> str:
    """The `code` label of one attempt: its HTTP status, else `timeout` or `error`."""
    if response is not None:
        return str(response.status)
    return "timeout" if isinstance(error, TimeoutError | ReadTimeoutError | ConnectTimeoutError) else "error"


class BudgetRetry(Retry):
    """urllib3 `Retry` that counts every retried response and refuses to sleep past the deadline."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[no-untyped-def, override]
        call: _Call | None = getattr(_current, "call", None)
        # A timeout already used what was left of the budget (each request's timeout is the remaining time).
        if isinstance(error, TimeoutError | ReadTimeoutError | ConnectTimeoutError):
            raise MaxRetryError(_pool, url, error)
        if call is not None and time.monotonic() >= call.deadline - 0.05:
            raise MaxRetryError(_pool, url, error or ResponseError("the scrape's time budget ran out"))
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if call is not None:
            call.stats.record_request(call.endpoint, _code(response, error))
        return retry

    def sleep(self, response=None) -> None:  # type: ignore[no-untyped-def]
        wait = None
        if self.respect_retry_after_header and response is not None:
            wait = self.get_retry_after(response)
        if not wait:
            wait = self.get_backoff_time()
        call: _Call | None = getattr(_current, "call", None)
        if call is not None and time.monotonic() + wait >= call.deadline:
            raise _BudgetExhausted(response.status if response is not None else 0, wait)
        super().sleep(response)


def build_session(backoff_factor: float = 0.5) -> requests.Session:
    """Retries GETs on 429/5xx (3 times: after Retry-After, else 0s, 1s, 2s) and on lost connections."""
    retry = BudgetRetry(
        total=4,
        connect=2,
        read=2,
        status=3,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=8.0,
        backoff_jitter=0.25,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = DeadlineAdapter(max_retries=retry, pool_connections=4, pool_maxsize=64)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "azure-backup-exporter"
    return session


def filter_time(moment: float, round_up: bool = False) -> str:
    """A `$filter` time as azure-cli writes it: `yyyy-MM-dd hh:mm:ss AM/PM`, UTC, to the whole second."""
    at = datetime.fromtimestamp(math.ceil(moment) if round_up else math.floor(moment), tz=timezone.utc)
    hour12 = at.hour % 12 or 12
    return f"{at:%Y-%m-%d} {hour12:02d}:{at:%M:%S} {'AM' if at.hour < 12 else 'PM'}"


def jobs_filter(start: float, end: float) -> str:
    return f"startTime eq '{filter_time(start)}' and endTime eq '{filter_time(end, round_up=True)}'"


def split_windows(start: float, end: float, size: float = MAX_WINDOW_SECONDS) -> list[tuple[float, float]]:
    """[start, end] cut into consecutive windows of at most `size` seconds, oldest first."""
    windows, cursor = [], start
    while cursor < end:
        windows.append((cursor, min(end, cursor + size)))
        cursor += size
    return windows or [(start, end)]


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port defaulted; ValueError for an unreadable authority."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


def _without_api_version(link: str) -> str:
    """The link minus its `api-version`, other parameters left byte for byte (the skiptoken is opaque).

    Azure's nextLinks carry stale api-versions (2017-07-01 in the examples); like the Azure SDK, the
    client asks every page with its own.
    """
    parts = urlsplit(link)
    kept = [p for p in parts.query.split("&") if p and unquote(p.split("=", 1)[0]).lower() != "api-version"]
    return parts._replace(query="&".join(kept)).geturl()


def _arm_error(response: requests.Response, endpoint: str) -> ArmError:
    code, message = f"HTTP{response.status_code}", response.reason or ""
    try:
        body = response.json()
        error = body.get("error", body) if isinstance(body, dict) else {}
        if isinstance(error, dict):
            code = str(error.get("code") or code)
            message = str(error.get("message") or message)
    except ValueError:
        text = response.text.strip()
        if text:
            message = text
    message = " ".join(message.split())[:400]
    return error_for_status(response.status_code, code, message, endpoint)


class ArmClient:
    """Reads vaults and backup jobs from ARM. Thread-safe; one instance serves every vault."""

    def __init__(
        self,
        credential: TokenCredential,
        arm_endpoint: str,
        token_scope: str,
        stats: ApiStats,
        session: requests.Session | None = None,
        request_timeout: float = 30.0,
        quota: ReadQuota | None = None,
    ) -> None:
        """`quota`: the estimate of each subscription's ARM reads; a request waits for a read token."""
        self._tokens = TokenSource(credential, token_scope)
        self._base = arm_endpoint.rstrip("/")
        self._endpoint = urlsplit(self._base)
        self._origin = _origin(self._base)
        self.stats = stats
        self._session = session or build_session()
        self._timeout = request_timeout
        self.quota = quota or ReadQuota()
        self._throttled_until: dict[str, float] = {}  # subscription id -> monotonic time Azure asked for

    # --- public calls -------------------------------------------------------------------------

    def list_vaults(self, subscription_id: str, deadline: float) -> list[tuple[VaultRef, Any]]:
        """Every vault of the subscription: its reference and its resource as listed (properties included)."""
        url = (
            f"{self._base}/subscriptions/{quote(subscription_id, safe='')}"
            "/providers/Microsoft.RecoveryServices/vaults"
        )
        vaults = []
        for page in self._pages(
            url, {"api-version": VAULTS_API_VERSION}, "list_vaults", subscription_id, deadline
        ):
            for item in page.items:
                try:
                    vaults.append((VaultRef.parse(str(item.get("id", ""))), item))
                except (ValueError, AttributeError):
                    log.warning("skipping a vault with an unexpected id in subscription %s", subscription_id)
        return vaults

    def get_vault(self, vault: VaultRef, deadline: float) -> Any:
        """The vault's own resource (location, redundancy, security settings)."""
        params = {"api-version": VAULTS_API_VERSION}
        return self._get(self._vault_url(vault), params, "get_vault", vault.subscription_id, deadline)

    def list_protected_items(self, vault: VaultRef, deadline: float) -> list[Any]:
        """Every protected item of the vault, all pages, as raw ProtectedItemResource dicts."""
        return self._list_all(vault, "backupProtectedItems", "list_protected_items", deadline)

    def list_policies(self, vault: VaultRef, deadline: float) -> list[Any]:
        """Every backup policy of the vault, all pages, as raw ProtectionPolicyResource dicts."""
        return self._list_all(vault, "backupPolicies", "list_policies", deadline)

    def _list_all(self, vault: VaultRef, collection: str, endpoint: str, deadline: float) -> list[Any]:
        url = f"{self._vault_url(vault)}/{collection}"
        params = {"api-version": INVENTORY_API_VERSION}
        items: list[Any] = []
        for page in self._pages(url, params, endpoint, vault.subscription_id, deadline):
            items.extend(page.items)
        return items

    def iter_job_pages(
        self, vault: VaultRef, start: float, end: float, deadline: float
    ) -> Iterator[list[Any]]:
        """Pages of raw JobResource dicts started within [start, end] (at most 30 days)."""
        for page in self.job_pages(vault, start, end, deadline):
            yield page.items

    def job_pages(
        self,
        vault: VaultRef,
        start: float,
        end: float,
        deadline: float,
        resume: str | None = None,
        terms: dict[str, str] | None = None,
    ) -> Iterator[Page]:
        """Like `iter_job_pages`, each page with the URL of the next, and able to go on from such a URL.

        `terms` adds `field eq 'value'` terms to the window (status, operation, backupManagementType).
        """
        extra = "".join(f" and {name} eq '{value}'" for name, value in sorted((terms or {}).items()))
        params = {"api-version": JOBS_API_VERSION, "$filter": jobs_filter(start, end) + extra}
        url = self._vault_url(vault) + "/backupJobs"
        yield from self._pages(url, params, "list_jobs", vault.subscription_id, deadline, resume)

    def get_job(self, vault: VaultRef, job_id: str, deadline: float) -> Any:
        url = f"{self._vault_url(vault)}/backupJobs/{quote(job_id, safe='')}"
        return self._get(url, {"api-version": JOBS_API_VERSION}, "get_job", vault.subscription_id, deadline)

    def get_operation(self, url: str, deadline: float) -> OperationReply:
        """One GET of an operation URL (a `Location`, an `Azure-AsyncOperation`, or such a path).

        The URL is asked as given (its own api-version and signature parameters kept; ours added when it
        has none), but only on the ARM endpoint: an absolute URL naming another host is refused before a
        token is asked for, since the token would travel with it. 202 and 204 come back as they are.
        """
        endpoint = "get_operation"
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            self._require_on_endpoint(url, endpoint)
            absolute = url
        else:
            absolute = self._base + ("" if url.startswith("/") else "/") + url
        names = [unquote(p.split("=", 1)[0]).lower() for p in urlsplit(absolute).query.split("&") if p]
        has_version = "api-version" in names
        params = None if has_version else {"api-version": JOBS_API_VERSION}
        subscription = _subscription_of(urlsplit(absolute).path)
        response = self._send(absolute, params, endpoint, subscription, deadline)
        body: Any = None
        if response.content.strip():
            try:
                body = response.json()
            except (ValueError, RecursionError):
                raise ArmMalformedResponse(
                    response.status_code, "MalformedResponse", "the body is not valid JSON", endpoint
                ) from None
        return OperationReply(
            response.status_code,
            body,
            _retry_after_seconds(response.headers.get("Retry-After")),
            response.headers.get("Location"),
            response.headers.get("Azure-AsyncOperation"),
        )

    # --- plumbing ------------------------------------------------------------------------------

    def _vault_url(self, vault: VaultRef) -> str:
        return (
            f"{self._base}/subscriptions/{quote(vault.subscription_id, safe='')}"
            f"/resourceGroups/{quote(vault.resource_group, safe='')}"
            f"/providers/Microsoft.RecoveryServices/vaults/{quote(vault.name, safe='')}"
        )

    def _pages(
        self,
        url: str,
        params: dict[str, str],
        endpoint: str,
        subscription_id: str,
        deadline: float,
        resume: str | None = None,
    ) -> Iterator[Page]:
        """Each page with the URL of the next one (None on the last), from `url` or from `resume`."""
        seen: set[str] = set()
        ours = {"api-version": params["api-version"]}
        url, next_params = (resume, ours) if resume else (url, params)
        for _ in range(MAX_PAGES):
            body = self._get(url, next_params, endpoint, subscription_id, deadline)
            if not isinstance(body, dict) or not isinstance(body.get("value", []), list):
                raise ArmMalformedResponse(
                    200, "MalformedResponse", "list body has no 'value' array", endpoint
                )
            next_url = self._next_url(body.get("nextLink"), endpoint)
            if next_url is not None and next_url in seen:
                raise ArmMalformedResponse(200, "MalformedResponse", "nextLink repeats itself", endpoint)
            yield Page(body.get("value") or [], next_url)
            if next_url is None:
                return
            seen.add(next_url)
            url, next_params = next_url, ours
        raise ArmMalformedResponse(200, "MalformedResponse", f"more than {MAX_PAGES} pages", endpoint)

    def _next_url(self, next_link: Any, endpoint: str) -> str | None:
        """The nextLink as it will be asked: on the ARM endpoint, without its (stale) api-version."""
        if not next_link:
            return None
        if not isinstance(next_link, str):
            raise ArmMalformedResponse(200, "MalformedResponse", "nextLink is not a URL", endpoint)
        return _without_api_version(self._on_arm_endpoint(next_link, endpoint))

    def _on_arm_endpoint(self, link: str, endpoint: str) -> str:
        """The link's path and query on the configured endpoint, whatever host the link names.

        The bearer token goes with every request, so it must never follow a link to another host
        (a proxy in front of ARM, or `localhost` written for `127.0.0.1`, also land here): the URL is
        rebuilt from the endpoint's own scheme and authority, never by joining text to it.
        """
        try:
            parts = urlsplit(link)
            same_origin = _origin(link) == self._origin
        except ValueError:
            raise ArmMalformedResponse(200, "MalformedResponse", "nextLink is not a URL", endpoint) from None
        # ARM's nextLinks are absolute. A link whose path does not start with '/' ("1/subscriptions/..."
        # or "@host/...") is refused rather than resolved: joined to the endpoint it changed the host,
        # and resolved against the root it would name a resource ARM never meant (a 404 at best).
        if not parts.path.startswith("/"):
            raise ArmMalformedResponse(
                200, "MalformedResponse", "nextLink is neither an absolute URL nor an absolute path", endpoint
            )
        if not same_origin:
            log.debug("nextLink host %s is not the ARM endpoint's; following its path there", parts.hostname)
        path = parts.path if same_origin else self._endpoint.path.rstrip("/") + parts.path
        rebased = urlunsplit((self._endpoint.scheme, self._endpoint.netloc, path, parts.query, ""))
        self._require_on_endpoint(rebased, endpoint)
        return rebased

    def _require_on_endpoint(self, url: str, endpoint: str) -> None:
        """Refuse, before a token is asked for, any URL whose scheme, host or port is not the endpoint's."""
        try:
            on_endpoint = _origin(url) == self._origin and urlsplit(url).netloc == self._endpoint.netloc
        except ValueError:
            on_endpoint = False
        if not on_endpoint:
            raise ArmMalformedResponse(
                0, "MalformedResponse", "refusing a URL that is not on the ARM endpoint", endpoint
            )

    @contextmanager
    def _call(self, endpoint: str, deadline: float) -> Iterator[None]:
        _current.call = _Call(endpoint, deadline, self.stats)
        try:
            yield
        finally:
            _current.call = None

    def _get(
        self, url: str, params: dict[str, str] | None, endpoint: str, subscription_id: str, deadline: float
    ) -> Any:
        """One GET, retried as `build_session` says, answered whole by `deadline` or not at all."""
        response = self._send(url, params, endpoint, subscription_id, deadline)
        try:
            return response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
            raise ArmMalformedResponse(
                response.status_code, "MalformedResponse", "the body is not valid JSON", endpoint
            ) from None

    def _send(
        self, url: str, params: dict[str, str] | None, endpoint: str, subscription_id: str, deadline: float
    ) -> requests.Response:
        """The 2xx response of one GET (any other status raised as its typed error)."""
        self._require_on_endpoint(url, endpoint)
        if time.monotonic() >= deadline:
            raise ArmUnreachable(0, "DeadlineExceeded", "the scrape's time budget ran out", endpoint)
        self._respect_retry_after(subscription_id, endpoint)
        try:
            self.quota.acquire(subscription_id, deadline)
        except QuotaExhausted as error:
            raise ArmThrottled(0, "ReadQuotaSpent", str(error), endpoint) from None
        try:
            return self._get_with_read(url, params, endpoint, subscription_id, deadline)
        finally:
            self.quota.done(subscription_id)

    def _get_with_read(
        self, url: str, params: dict[str, str] | None, endpoint: str, subscription_id: str, deadline: float
    ) -> requests.Response:
        """`_send` once its read is taken."""
        headers = {"Authorization": f"Bearer {self._tokens.get(deadline)}", "Accept": "application/json"}
        # The wait for a read token may end past the deadline (a sleep overruns on a busy machine), and
        # urllib3 refuses a timeout of 0 with a ValueError, which no caller expects.
        left = deadline - time.monotonic()
        if left <= 0:
            raise ArmUnreachable(0, "DeadlineExceeded", "the scrape's time budget ran out", endpoint)
        timeout = min(left, self._timeout)
        try:
            with self._call(endpoint, deadline), deadline_scope(deadline):
                response = self._session.get(
                    url, params=params, headers=headers, timeout=timeout, allow_redirects=False
                )
        except _BudgetExhausted as error:
            if error.status == 429:
                self._throttled_until[subscription_id] = time.monotonic() + error.wait
            raise error_for_status(error.status, "RetryBudgetExhausted", str(error), endpoint) from None
        except requests.RequestException as error:
            reason = getattr(error.args[0], "reason", None) if error.args else None
            timed_out = isinstance(error, requests.Timeout) or isinstance(
                reason, ReadTimeoutError | ConnectTimeoutError
            )
            if timed_out or time.monotonic() >= deadline:  # a cut at the deadline reads as a reset connection
                self.stats.record_request(endpoint, "timeout")
                raise ArmUnreachable(
                    0, "Timeout", "no complete answer within the scrape's time budget", endpoint
                ) from None
            self.stats.record_request(endpoint, "error")
            raise ArmUnreachable(0, "ConnectionError", type(error).__name__, endpoint) from None
        self.stats.record_request(endpoint, str(response.status_code))
        remaining_reads = response.headers.get(RATELIMIT_HEADER)
        if remaining_reads and remaining_reads.strip().isdigit():
            self.stats.record_remaining_reads(subscription_id, int(remaining_reads))
            self.quota.observe(subscription_id, int(remaining_reads))
        if response.status_code == 429:
            wait = _retry_after_seconds(response.headers.get("Retry-After"))
            if wait:
                self._throttled_until[subscription_id] = time.monotonic() + wait
        if response.status_code == 401:
            self._tokens.forget()  # refused before its time (clock skew, revoked): fetch a new one next time
        if not 200 <= response.status_code < 300:
            raise _arm_error(response, endpoint)
        return response

    def _respect_retry_after(self, subscription_id: str, endpoint: str) -> None:
        """Send nothing for a subscription while Azure's last Retry-After for it runs, across scrapes."""
        until = self._throttled_until.get(subscription_id)
        if until is None:
            return
        left = until - time.monotonic()
        if left <= 0:
            self._throttled_until.pop(subscription_id, None)
            return
        raise ArmThrottled(
            429, "RetryAfter", f"Azure asked to wait; {left:.0f}s left before the next request", endpoint
        )


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds in a Retry-After header (a number of seconds, or an HTTP date), None if unreadable."""
    if not value or not value.strip():
        return None
    try:
        return Retry().parse_retry_after(value)
    except InvalidHeader:
        return None
