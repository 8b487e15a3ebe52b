"""Bearer tokens for ARM within a deadline: the credential is asked by one thread at a time, off the
caller's thread, and a caller waits no longer than its own deadline.

azure-identity's `get_token()` takes no timeout: a managed-identity endpoint that hangs would hold every
refresh that needs a token for as long as it hangs. Here one background fetch runs at a time (callers
share it), each caller gives up at its deadline with a `CredentialError`, and the token is kept until
five minutes before it expires, so that a fetch happens about once an hour.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from .errors import CredentialError

REFRESH_BEFORE_EXPIRY_SECONDS = 300.0
# A fetch still running after this long is given up on (left to end by itself) and another one started:
# a token endpoint that hung once must not hold every refresh until azure-identity's own 5-minute timeout.
STALE_FETCH_SECONDS = 30.0


class TokenCredential(Protocol):
    def get_token(self, *scopes: str) -> Any: ...


_ATTEMPT = re.compile(r"^\t(?P<name>\w+): (?P<reason>.*)$")


def credential_message(text: str) -> str:
    """azure-identity's multi-line report, on one line: each credential source tried and why it failed."""
    attempts = []
    for line in text.splitlines():
        match = _ATTEMPT.match(line)
        if match:
            reason = match["reason"].removeprefix(f"{match['name']} authentication unavailable.").strip()
            reason = reason.split(". ")[0].rstrip(".")[:100] or "unavailable"
            attempts.append(f"{match['name']} ({reason})")
    if not attempts:
        return " ".join(text.split())[:1000]
    return "no Azure credential found; tried " + ", ".join(attempts)


class TokenSource:
    """The current token for one scope, fetched in the background, waited for until a deadline."""

    def __init__(self, credential: TokenCredential, scope: str) -> None:
        self._credential = credential
        self._scope = scope
        self._lock = threading.Lock()
        self._token: Any = None
        self._fetching: Future[Any] | None = None
        self._fetch_started = 0.0

    def get(self, deadline: float) -> str:
        with self._lock:
            if (
                self._token is not None
                and getattr(self._token, "expires_on", float("inf")) - REFRESH_BEFORE_EXPIRY_SECONDS
                > time.time()
            ):
                return str(self._token.token)
            stale = time.monotonic() - self._fetch_started > STALE_FETCH_SECONDS
            if self._fetching is None or self._fetching.done() or stale:
                self._fetching = Future()
                self._fetch_started = time.monotonic()
                threading.Thread(
                    target=self._fetch, args=(self._fetching,), name="azure-token", daemon=True
                ).start()
            fetching = self._fetching
        try:
            token = fetching.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise CredentialError(
                0, "TokenTimeout", "no token from the credential within the scrape's time budget", "token"
            ) from None
        except Exception as error:  # azure-identity raises several types; all mean "no token"
            raise CredentialError(
                0, "CredentialUnavailable", credential_message(str(error)), "token"
            ) from None
        return str(token.token)

    def forget(self) -> None:
        """Drop the kept token (ARM refused it: expired early, or revoked); the next call fetches one."""
        with self._lock:
            self._token = None

    def _fetch(self, result: Future[Any]) -> None:
        try:
            token = self._credential.get_token(self._scope)
        except BaseException as error:  # handed to the callers waiting
            result.set_exception(error)
            return
        with self._lock:
            self._token = token
        result.set_result(token)
