"""Operations a person starts and then tracks: an on-demand backup or a restore, as Azure runs them.

What the recordings show (`../shared/azure-recordings/operation-statuses.jsonl`): the trigger answers
202 with `Location: .../protectedItems/{i}/operationResults/{op}`, `Azure-AsyncOperation:
.../protectedItems/{i}/operationsStatus/{op}` and sometimes `Retry-After`; the operation result
answers 202 (with the same headers) while the request is being taken, then 204; the operation
status says `InProgress` (no `properties`, the zero `endTime`) and then `Succeeded` with
`properties: {objectType: OperationStatusJobExtendedInfo, jobId}`. The job itself then runs on, its
tasks and `progressPercentage` moving with the simulated clock, until it ends.

The ARM trigger route (`trigger_backup`) hands the job id back at once; operations started here
through the control API (`POST /_simulator/operations`) keep the InProgress phase, so a client that
follows the whole chain (the exporter's `jobs watch --operation`) has something to follow. Status
pages of an operation older than `EXPIRY_SECONDS` answer 404, as an expired operation does.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from .estate import Clock, Estate, EstateError, Operation
from .generator import operation_for, restore_operation
from .model import Entity, Vault, as_uuid4, format_guid
from .responses import Response
from .state import SimulatorState

OPERATION_SECONDS = 4.0
"""How long (simulated) an operation stays InProgress before its status carries the job id."""
EXPIRY_SECONDS = 24 * 3600.0
"""After this long (simulated) an operation's status and result are gone (404)."""
DEFAULT_RETRY_AFTER = 1
API_VERSION = "2025-08-01"
KINDS = ("backup", "restore")


@dataclass
class TrackedOperation(Operation):
    """An operation with an InProgress phase and an expiry, on the estate's clock."""

    clock: Clock | None = None
    ready_at: float = 0.0
    retry_after: int = DEFAULT_RETRY_AFTER
    item_path: str = ""

    @property
    def done(self) -> bool:
        return self.clock is None or self.clock.now() >= self.ready_at

    @property
    def expired(self) -> bool:
        return self.clock is not None and self.clock.now() >= self.started + EXPIRY_SECONDS


def item_path(entity: Entity) -> str:
    """`backupFabrics/Azure/protectionContainers/{c}/protectedItems/{i}`, named as Azure names the kind.

    The simulator's routes find the item by the last `;`-separated part of its name, the entity's name.
    """
    group, name, host = entity.vault.resource_group, entity.name, entity.host
    key = entity.kind.key
    if key == "vm":
        container = f"IaasVMContainer;iaasvmcontainerv2;{group};{name}"
        item = f"VM;iaasvmcontainerv2;{group};{name}"
    elif key in ("sql", "hana"):
        database = name.split(" [")[0]
        workload = "SQLDataBase;mssqlserver" if key == "sql" else "SAPHanaDatabase;hxe"
        container, item = f"VMAppContainer;Compute;{group};{host}", f"{workload};{database}"
    elif key == "files":
        container, item = f"StorageContainer;Storage;{group};{host}", f"AzureFileShare;{name}"
    else:
        container, item = f"{key};{host}", f"{key};{name}"
    container, item = quote(container, safe=";"), quote(item, safe=";")
    return f"backupFabrics/Azure/protectionContainers/{container}/protectedItems/{item}"


def start_operation(
    estate: Estate, base_url: str, vault: Vault, entity_name: str, kind: str, retry_after: int
) -> dict:
    """Start a backup or restore of `entity_name` as Azure's trigger would; what its 202 would carry.

    Call with the estate's lock held. The job exists from now (Azure creates it while the operation
    runs); the operation's status hands its id over once the InProgress phase is over.
    """
    if kind not in KINDS:
        raise ValueError(f"'kind' must be one of {', '.join(KINDS)}")
    entity = vault.entities.get(entity_name.lower())
    if entity is None:
        message = f"The protected item '{entity_name}' was not found in vault '{vault.name}'."
        raise EstateError(404, "ResourceNotFound", message)
    now = estate.clock.now()
    operation = operation_for(entity, now, False) if kind == "backup" else restore_operation(entity)
    rng = estate._live_rng  # the estate's own generator of live jobs, so runs stay reproducible per seed
    job = estate.builder.create(entity, operation, now, True, rng, now)
    vault.add_job(job)
    estate._track_running(job)
    operation_id = as_uuid4(rng.getrandbits(128))
    path = item_path(entity)
    estate.operations[operation_id] = TrackedOperation(
        job, vault, now, kind, estate.clock, now + OPERATION_SECONDS, retry_after, path
    )
    headers = pending_headers(base_url, vault, path, format_guid(operation_id), API_VERSION, retry_after)
    return {
        "operation_id": format_guid(operation_id),
        "job_id": format_guid(job.guid),
        "status": 202,
        "headers": headers,
    }


def pending_headers(
    base_url: str, vault: Vault, path: str, operation_id: str, api_version: str | None, retry_after: int
) -> dict[str, str]:
    """`Location`, `Azure-AsyncOperation` and `Retry-After` of a trigger's 202 (and of each 202 after)."""
    item_url = f"{base_url}{vault.resource_id}/{path}"
    query = urlencode({"api-version": api_version or API_VERSION})
    return {
        "Location": f"{item_url}/operationResults/{operation_id}?{query}",
        "Azure-AsyncOperation": f"{item_url}/operationsStatus/{operation_id}?{query}",
        "Retry-After": str(retry_after),
    }


def check_not_expired(operation: Operation, operation_name: str) -> None:
    if isinstance(operation, TrackedOperation) and operation.expired:
        raise EstateError(404, "ResourceNotFound", f"The operation '{operation_name}' was not found.")


def control_start(state: SimulatorState, body: object) -> Response:
    """`POST /_simulator/operations` `{"vault", "entity", "kind": "backup"|"restore", "retry_after"?}`:
    starts the operation and answers what Azure's trigger would have (status 202 and its headers),
    plus the operation and job ids for tests."""
    if not isinstance(body, dict):
        raise ValueError('the body must be {"vault": <id>, "entity": <name>, "kind": "backup" or "restore"}')
    unknown = set(body) - {"vault", "entity", "kind", "retry_after"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    for key in ("vault", "entity"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise ValueError(f"'{key}' must be a non-empty string")
    retry_after = body.get("retry_after", DEFAULT_RETRY_AFTER)
    if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
        raise ValueError("'retry_after' must be an integer >= 0")
    vault = state.estate.vault_by_id(body["vault"])
    started = start_operation(
        state.estate, state.base_url, vault, body["entity"], str(body.get("kind", "backup")), retry_after
    )
    return Response(201, started)
