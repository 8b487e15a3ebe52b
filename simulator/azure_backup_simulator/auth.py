"""The managed-identity token endpoint (App Service style) and the bearer-token check of ARM routes.

Tokens are random opaque strings; the simulator remembers each one's audience and expiry (on the
simulated clock), so expired and wrong-audience tokens get the 401 codes ARM uses (azure-api.md section 5).
The `expires_on` a client reads is on the client's own (wall) clock: a simulated clock set in the past
or the future must not make a client see its tokens as long expired, or as valid for days.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from .estate import EstateError

ARM_AUDIENCES = frozenset(
    {
        "https://management.azure.com",
        "https://management.azure.com/",
        "https://management.core.windows.net",
        "https://management.core.windows.net/",
    }
)
SIMULATED_CLIENT_ID = "5e29463d-71df-4e8a-9f3b-6a8a2a0c1f2e"


@dataclass(frozen=True)
class IssuedToken:
    audience: str
    expires_on: int


class TokenIssuer:
    """Issues tokens to callers presenting the IDENTITY_HEADER secret, and validates them on ARM routes."""

    def __init__(
        self,
        identity_header: str,
        lifetime_seconds: int,
        now: Callable[[], float],
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.identity_header = identity_header
        self.lifetime_seconds = lifetime_seconds
        self._now = now
        self._wall_clock = wall_clock
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(self, presented_secret: str | None, resource: str | None) -> dict:
        """The token response azure-identity expects: `access_token` and `expires_on` in epoch seconds."""
        if not presented_secret or not secrets.compare_digest(presented_secret, self.identity_header):
            raise EstateError(401, "invalid_request", "The X-IDENTITY-HEADER header is missing or wrong.")
        if not resource:
            raise EstateError(400, "invalid_request", "The 'resource' query parameter is required.")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = IssuedToken(resource, int(self._now()) + self.lifetime_seconds)
        return {
            "access_token": token,
            "expires_on": str(int(self._wall_clock()) + self.lifetime_seconds),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": SIMULATED_CLIENT_ID,
        }

    def check(self, authorization: str | None) -> None:
        """Raise the ARM 401 error for a missing, malformed, unknown, expired or misdirected token."""
        if not authorization:
            raise EstateError(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
            )
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise EstateError(
                401,
                "AuthenticationFailedInvalidHeader",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            )
        with self._lock:
            issued = self._tokens.get(token.strip())
        if issued is None:
            raise EstateError(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if issued.audience not in ARM_AUDIENCES:
            raise EstateError(
                401,
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource "
                f"'{issued.audience}'. It should exactly match with one of the allowed audiences "
                "'https://management.core.windows.net/','https://management.core.windows.net',"
                "'https://management.azure.com/','https://management.azure.com'.",
            )
        now = self._now()
        if issued.expires_on <= now:
            raise EstateError(
                401,
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{_utc(issued.expires_on)}' is earlier than "
                f"current UTC time '{_utc(now)}'.",
            )


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%m/%d/%Y %I:%M:%S %p")
