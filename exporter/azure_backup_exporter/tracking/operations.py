"""Operation URLs and operation statuses, read as a person pastes them. Pure.

An operation (trigger a backup, a restore, disable protection) answers 202 with `Location`
(`.../operationResults/{op}`) and often `Azure-AsyncOperation` (`.../operationsStatus/{op}`); azure-cli
polls the vault's `backupOperations/{op}` instead. All three name the vault and the operation id, so
any of them leads to the operation's status, whose `properties.jobId` names the job once it
`Succeeded` (recorded shapes: tests/fixtures/azure-recordings/operation-statuses.jsonl). A job's own
`backupJobs/{job}/operationResults/{op}` (a cancellation) already names its job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ..jobs import VaultRef

RESULT, STATUS, VAULT_STATUS, JOB_RESULT = "operationResults", "operationsStatus", "backupOperations", "job"
EXPECTED_URL = (
    "the Location or Azure-AsyncOperation URL an operation answered with, or a path "
    ".../vaults/<vault>/backupOperations/<id>, .../protectedItems/<item>/operationsStatus/<id> "
    "or .../operationResults/<id>"
)
_VAULT = re.compile(
    r"^(?P<vault>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+)"
    r"(?P<rest>/.*)$",
    re.IGNORECASE,
)
_JOB_RESULT = re.compile(r"^/backupjobs/(?P<job>[^/]+)/operationresults/(?P<op>[^/]+)/?$", re.IGNORECASE)
_VAULT_STATUS = re.compile(r"^/backupoperations/(?P<op>[^/]+)/?$", re.IGNORECASE)
_ITEM = re.compile(
    r"^(?P<item>/backupfabrics/[^/]+/protectioncontainers/[^/]+/protecteditems/[^/]+)"
    r"/(?P<kind>operationresults|operationsstatus)/(?P<op>[^/]+)/?$",
    re.IGNORECASE,
)
RUNNING = frozenset({"inprogress", "invalid", ""})


class OperationUrlError(ValueError):
    """Not an operation URL this command can follow; `str()` says what is expected."""


@dataclass(frozen=True)
class OperationRef:
    """What an operation URL names. `url` is as given (absolute or a path), `path` its decoded path."""

    url: str
    path: str
    vault: VaultRef
    operation_id: str
    kind: str
    job_id: str | None = None  # known from the URL itself (a job's own operationResults)

    def status_path(self) -> str:
        """Where the operation's status (with the jobId) is read: the item's operationsStatus, else the
        vault's backupOperations."""
        if self.kind in (STATUS, VAULT_STATUS):
            return self.path
        item = _ITEM.match(self.path[len(self.vault.resource_id) :])
        if item:
            return f"{self.vault.resource_id}{item['item']}/operationsStatus/{self.operation_id}"
        return f"{self.vault.resource_id}/backupOperations/{self.operation_id}"


def parse_operation_url(url: str) -> OperationRef:
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        raise OperationUrlError(f"expected {EXPECTED_URL}")
    path = unquote(parts.path)
    match = _VAULT.match(path)
    if not match:
        raise OperationUrlError(f"expected {EXPECTED_URL}")
    vault = VaultRef.parse(match["vault"])
    rest = match["rest"]
    if found := _JOB_RESULT.match(rest):
        return OperationRef(text, path, vault, found["op"], JOB_RESULT, found["job"])
    if found := _VAULT_STATUS.match(rest):
        return OperationRef(text, path, vault, found["op"], VAULT_STATUS)
    if found := _ITEM.match(rest):
        kind = RESULT if found["kind"].lower() == "operationresults" else STATUS
        return OperationRef(text, path, vault, found["op"], kind)
    raise OperationUrlError(f"expected {EXPECTED_URL}")


@dataclass(frozen=True)
class OperationStatus:
    status: str  # InProgress, Succeeded, Failed, Canceled (one l), as Azure writes it
    job_id: str | None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def running(self) -> bool:
        return self.status.lower() in RUNNING


def parse_operation_status(body: Any) -> OperationStatus:
    """An `OperationStatus` body; a body that is none is read as still in progress."""
    if not isinstance(body, Mapping):
        return OperationStatus("InProgress", None)
    status = body.get("status")
    properties = body.get("properties")
    job_id = properties.get("jobId") if isinstance(properties, Mapping) else None
    error = body.get("error")
    code = message = None
    if isinstance(error, Mapping):
        code = str(error.get("code")) if error.get("code") else None
        message = str(error.get("message")) if error.get("message") else None
    return OperationStatus(
        status if isinstance(status, str) else "InProgress",
        job_id if isinstance(job_id, str) and job_id else None,
        code,
        message,
    )
