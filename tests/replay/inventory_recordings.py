"""The recorded protection inventory (protected items, policies, vaults) grouped into the vaults it names,
and what /metrics should say of each item.

The recordings (tests/fixtures/azure-recordings/) keep one line per state an object passed through,
and sanitised ids repeat across azure-cli's tests: a vault here is every item whose id names it, each
item in its latest recorded state (latest `recorded_at`, then the later line). The expectations are
written from docs/metrics.md and docs/inventory.md alone and share no code with the exporter, so the
replay test compares the documentation with the exporter's /metrics.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .recordings import seconds

FIXTURES = Path(__file__).parents[1] / "fixtures" / "azure-recordings"
_VAULT = re.compile(
    r"^/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\.recoveryservices/vaults/([^/]+)",
    re.IGNORECASE,
)
NEVER_UNTIL = seconds("2001-01-01T00:00:00Z")
# docs/inventory.md, "Newest recovery point": types whose lastBackupTime stands for the newest recovery
# point when lastRecoveryPoint is absent and the last backup succeeded
FALLBACK_TYPES = {
    "AzureFileShareProtectedItem",
    "AzureVmWorkloadSQLDatabase",
    "AzureVmWorkloadSAPHanaDatabase",
    "AzureVmWorkloadSAPAseDatabase",
    "AzureVmWorkloadSAPHanaDBInstance",
    "AzureVmWorkloadSQLInstance",
    "MabFileFolderProtectedItem",
}
SUCCESSFUL = {"completed", "completedwithwarnings", "healthy"}

VaultKey = tuple[str, str, str]  # subscription, resource group, name, lower case


@cache
def _lines(name: str) -> tuple[dict[str, Any], ...]:
    with (FIXTURES / name).open(encoding="utf-8") as lines:
        return tuple(json.loads(line) for line in lines if line.strip())


def vault_key(resource_id: str) -> VaultKey | None:
    match = _VAULT.match(resource_id)
    return (match[1].lower(), match[2].lower(), match[3].lower()) if match else None


def vault_id(resource_id: str) -> str:
    """The vault part of an id, as written."""
    match = _VAULT.match(resource_id)
    assert match, resource_id
    return match[0]


def latest_by_vault(file: str, key: str) -> tuple[dict[VaultKey, list[dict[str, Any]]], int]:
    """Each object id's latest recorded state, grouped by the vault its id names; and how many recorded
    lines name no vault (skipped)."""
    latest: dict[tuple[VaultKey, str], tuple[tuple[str, int], dict[str, Any]]] = {}
    skipped = 0
    for index, line in enumerate(_lines(file)):
        resource = line[key]
        vault = vault_key(resource.get("id", ""))
        if vault is None:
            skipped += 1
            continue
        order = (line["recorded_at"], index)
        ident = (vault, resource["id"].lower())
        if ident not in latest or order >= latest[ident][0]:
            latest[ident] = (order, resource)
    grouped: dict[VaultKey, list[dict[str, Any]]] = defaultdict(list)
    for (vault, _), (_, resource) in sorted(latest.items(), key=lambda kv: kv[1][0]):
        grouped[vault].append(resource)
    return dict(grouped), skipped


@dataclass
class RecordedVault:
    """What the fake serves for one vault: its items, its policies, its own resource (None: not recorded)."""

    id: str  # as the first item's id writes it
    items: list[dict[str, Any]]
    policies: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] | None = None


@cache
def recorded_vaults() -> tuple[dict[VaultKey, RecordedVault], int, int]:
    """Every vault that recorded items name, and how many item and policy lines named no vault."""
    items, items_skipped = latest_by_vault("protected-items.jsonl", "item")
    policies, policies_skipped = latest_by_vault("backup-policies.jsonl", "policy")
    resources: dict[VaultKey, tuple[tuple[str, int], dict[str, Any]]] = {}
    for index, line in enumerate(_lines("vaults.jsonl")):
        if line.get("kind") != "vault":
            continue
        key = vault_key(line["vault"].get("id", "") + "/")
        order = (line["recorded_at"], index)
        if key in items and (key not in resources or order >= resources[key][0]):
            resources[key] = (order, line["vault"])
    vaults = {
        key: RecordedVault(
            id=vault_id(listed[0]["id"]),
            items=listed,
            policies=policies.get(key, []),
            resource=resources[key][1] if key in resources else None,
        )
        for key, listed in items.items()
    }
    return vaults, items_skipped, policies_skipped


# --- what /metrics should say ----------------------------------------------------------------------


def moment(properties: dict[str, Any], key: str) -> float | None:
    """A recorded time, None for Azure's "never" (absent, empty, before 2001, 2001-01-01T00:00:00Z)."""
    text = properties.get(key)
    if not text or int(text[:4]) < 2001:
        return None
    value = seconds(text)
    return None if value <= NEVER_UNTIL else value


def entity(item: dict[str, Any]) -> str:
    """docs/metrics.md, "Item labels" (no jobs here to carry an older form of a database's name)."""
    p = item["properties"]
    name = p.get("friendlyName") or item["name"].rsplit(";", 1)[-1]
    if p.get("backupManagementType") == "AzureWorkload" and p.get("serverName"):
        if p["protectedItemType"] == "AzureVmWorkloadSAPHanaDatabase":
            name = name.upper()
        return f"{name} [{p['serverName']}]"
    return name


@dataclass(frozen=True)
class ItemExpectation:
    backup_management_type: str
    entity: str
    info: dict[str, str]  # item_type, workload_type, policy, source_resource_id
    state: str
    health: str | None
    last_backup_status: str | None
    last_backup: float | None
    last_recovery_point: float | None
    policy_key: str  # lower case; "" without a policy


def expect_item(item: dict[str, Any]) -> ItemExpectation:
    p = item["properties"]
    policy_id = p.get("policyId") or ""
    shown = policy_id.rstrip("/").rsplit("/", 1)[-1] if policy_id else p.get("policyName") or ""
    last_backup = moment(p, "lastBackupTime")
    point = moment(p, "lastRecoveryPoint")
    if (
        point is None
        and p["protectedItemType"] in FALLBACK_TYPES
        and (p.get("lastBackupStatus") or "").lower() in SUCCESSFUL
    ):
        point = last_backup
    return ItemExpectation(
        backup_management_type=p.get("backupManagementType") or "",
        entity=entity(item),
        info={
            "item_type": p["protectedItemType"],
            "workload_type": p.get("workloadType") or "",
            "policy": shown,
            "source_resource_id": p.get("sourceResourceId") or p.get("virtualMachineId") or "",
        },
        state=p.get("protectionState") or "",
        health=p.get("healthStatus") or p.get("protectedItemHealthStatus") or None,
        last_backup_status=p.get("lastBackupStatus") or None,
        last_backup=last_backup,
        last_recovery_point=point,
        policy_key=(p.get("policyName") or shown).lower(),
    )


def soft_deleted(item: dict[str, Any]) -> bool:
    return item["properties"].get("isScheduledForDeferredDelete") in (True, "true", "True")


def expect_vault_settings(resource: dict[str, Any] | None) -> dict[str, str]:
    """docs/inventory.md, "Vaults": the vault's own properties, "" when absent (no Backup RP configs here)."""
    resource = resource or {}
    p = resource.get("properties") or {}
    redundancy = p.get("redundancySettings") or {}
    security = p.get("securitySettings") or {}
    soft = security.get("softDeleteSettings") or {}
    return {
        "location": resource.get("location") or "",
        "storage_redundancy": redundancy.get("standardTierStorageRedundancy") or "",
        "cross_region_restore": redundancy.get("crossRegionRestore") or "",
        "soft_delete": soft.get("softDeleteState") or "",
        "enhanced_security": soft.get("enhancedSecurityState") or "",
        "immutability": (security.get("immutabilitySettings") or {}).get("state") or "",
        "multi_user_authorization": security.get("multiUserAuthorization") or "",
        "public_network_access": p.get("publicNetworkAccess") or "",
    }
