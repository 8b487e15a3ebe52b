"""Typed errors of the ARM client. They carry status, ARM error code and message, never a token."""

from __future__ import annotations


class ArmError(Exception):
    """A failed ARM request: HTTP `status` (0 when no response came), ARM `code` and `message`."""

    def __init__(self, status: int, code: str, message: str, endpoint: str = "") -> None:
        self.status = status
        self.code = code
        self.message = message
        self.endpoint = endpoint
        super().__init__(f"HTTP {status} {code}: {message}" if status else f"{code}: {message}")

    @property
    def status_text(self) -> str:
        """`HTTP <status>`, or `no HTTP response` when none came (as log lines name it)."""
        return f"HTTP {self.status}" if self.status else "no HTTP response"


class ArmNotFound(ArmError):
    """404: the vault (or job) does not exist, or was deleted."""


class ArmForbidden(ArmError):
    """403: the identity lacks a role on the vault."""


class ArmUnauthorized(ArmError):
    """401: the token was refused."""


class ArmThrottled(ArmError):
    """429 still there after every retry the time budget allowed."""


class ArmServerError(ArmError):
    """5xx still there after every retry the time budget allowed."""


class ArmMalformedResponse(ArmError):
    """A 2xx reply whose body is not the JSON the reference describes."""


class ArmUnreachable(ArmError):
    """No usable response: connection refused or reset, timeout, or the scrape's budget ran out."""


class CredentialError(ArmError):
    """azure-identity could not get a token; the message says which credential sources were tried."""


def error_for_status(status: int, code: str, message: str, endpoint: str) -> ArmError:
    kind: type[ArmError] = ArmError
    if status == 404:
        kind = ArmNotFound
    elif status == 403:
        kind = ArmForbidden
    elif status == 401:
        kind = ArmUnauthorized
    elif status == 429:
        kind = ArmThrottled
    elif status >= 500:
        kind = ArmServerError
    return kind(status, code, message, endpoint)
