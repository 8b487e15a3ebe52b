"""Protected items and vault settings as plain values: the protection inventory's parsers.

Pure parsing, no I/O, no clock, stdlib only, in the style of `jobs.py`: `parse_protected_item` turns
one ProtectedItemResource into a frozen `ProtectedItem`, `parse_vault` a vault (optionally with its
`vaultstorageconfig` and `vaultconfig`) into `VaultSettings`; garbage raises `MalformedItem` with a
short reason. Text fields are as Azure writes them, "" when absent (docs/inventory.md, per item type).
`item_entity` gives the value the item's Backup jobs carry as `entityFriendlyName`, so that inventory
series and job series of one database or VM share their `entity` label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .entities import entity_for_item
from .jobs import VaultRef, parse_timestamp, utf8_text
from .policies import policy_key

# lastBackupTime at or before this moment means "never" (IaaS VMs say 2001-01-01T00:00:00Z, .NET 0001-...).
NEVER_BEFORE = 978307200.0  # 2001-01-01T00:00:00Z
STOPPED_STATES = frozenset({"protectionstopped", "protectionpaused", "backupsuspended", "backupssuspended"})
# lastBackupStatus values that mean the last backup made a recovery point (case-insensitive).
SUCCESS_STATUSES = frozenset({"completed", "completedwithwarnings", "healthy"})
# Item types whose newest recovery point falls back to a successful lastBackupTime when lastRecoveryPoint
# is absent (file shares practically never carry it; workloads only sometimes; MAB per the reference).
FALLBACK_TO_LAST_BACKUP = frozenset(
    {
        "azurefileshareprotecteditem",
        "azurevmworkloadsqldatabase",
        "azurevmworkloadsaphanadatabase",
        "azurevmworkloadsapasedatabase",
        "azurevmworkloadsaphanadbinstance",
        "azurevmworkloadsqlinstance",
        "azurevmworkloadprotecteditem",
        "mabfilefolderprotecteditem",
    }
)
_VAULT_PREFIX = re.compile(
    r"^(?P<vault>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.recoveryservices/vaults/[^/]+)/",
    re.IGNORECASE,
)
_YEAR = re.compile(r"^\s*(\d{4})-")


class MalformedItem(ValueError):
    """A protected item or vault that cannot be understood; `reason` is a short, bounded label value."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class ProtectedItem:
    """One protected item (VM, file share, database...). Times are Unix seconds (UTC) or None."""

    id: str
    name: str
    vault: VaultRef | None  # from the id; None when the id does not name a vault
    backup_management_type: str
    item_type: str  # protectedItemType
    workload_type: str
    friendly_name: str
    server_name: str  # workload items: the VM hosting the database
    parent_name: str  # workload items: the SQL instance or HANA system
    container_name: str
    source_resource_id: str
    policy_id: str
    policy_name: str  # lower-case key (policies.policy_key) from policyName, else policyId; "" if none
    policy_shown: str  # as Azure writes it: the last segment of policyId, else policyName
    protection_state: str
    protection_status: str
    health: str  # healthStatus (VMs) or protectedItemHealthStatus (workloads)
    last_backup_status: str
    last_backup_time: float | None  # None: never backed up (absent, 0001-..., 2001-01-01 or before)
    last_recovery_point: float | None
    scheduled_for_deferred_delete: bool  # soft-deleted, waiting for deletion
    deferred_delete_time: float | None

    @property
    def is_stopped(self) -> bool:
        """Protection stopped, paused or suspended: no backups are expected."""
        return self.protection_state.lower() in STOPPED_STATES

    @property
    def expects_backups(self) -> bool:
        """Whether the policy's schedule applies (§2.2: not stopped, not waiting for deletion)."""
        return not self.is_stopped and not self.scheduled_for_deferred_delete


@dataclass(frozen=True)
class VaultSettings:
    """A vault's defences and redundancy, values as Azure writes them, "" when absent."""

    id: str
    vault: VaultRef | None
    location: str
    storage_redundancy: str
    cross_region_restore: str
    soft_delete: str
    soft_delete_retention_days: int | None
    enhanced_security: str
    immutability: str
    multi_user_authorization: str
    public_network_access: str


# --- helpers ---------------------------------------------------------------------------------------


def _text(properties: Mapping[str, Any], key: str) -> str:
    value = properties.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MalformedItem("bad_field", key)
    return utf8_text(value if isinstance(value, str) else str(value))


def _section(properties: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = properties.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedItem("bad_field", key)
    return value


def _moment(properties: Mapping[str, Any], key: str) -> float | None:
    """Unix seconds of a date-time field; None when absent, empty or one of Azure's "never" values."""
    value = properties.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedItem("bad_time", key)
    year = _YEAR.match(value)
    if year and int(year[1]) < 2001:  # 0001-01-01 (.NET), 1601 (FILETIME) and the like: never
        return None
    try:
        seconds = parse_timestamp(value)
    except ValueError as error:
        raise MalformedItem("bad_time", f"{key}: {error}") from None
    return None if seconds is None or seconds <= NEVER_BEFORE else seconds


def _flag(properties: Mapping[str, Any], key: str) -> bool:
    value = properties.get(key)
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _vault_of(resource_id: str) -> VaultRef | None:
    match = _VAULT_PREFIX.match(resource_id.strip())
    if not match:
        return None
    try:
        return VaultRef.parse(match["vault"])
    except ValueError:
        return None


# --- protected items -------------------------------------------------------------------------------


def parse_protected_item(resource: Any) -> ProtectedItem:
    """A `ProtectedItem` from one ProtectedItemResource dict (list item or GET); raises `MalformedItem`.

    The newest recovery point is `lastRecoveryPoint` for every type. When it is absent, file shares,
    workload databases and MAB items fall back to `lastBackupTime` if `lastBackupStatus` says that
    backup succeeded (Completed, CompletedWithWarnings, Healthy); VMs do not (their lastBackupTime is
    the last operation, which may have failed, and lastRecoveryPoint is always there once one exists);
    DPM, Generic and AzureSql items have `lastRecoveryPoint` only (azure-api-protected-items.md §1.5).
    """
    if not isinstance(resource, Mapping):
        raise MalformedItem("not_an_object")
    properties = resource.get("properties")
    if not isinstance(properties, Mapping):
        raise MalformedItem("no_properties")
    resource_id = _text(resource, "id")
    name = _text(resource, "name") or resource_id.rstrip("/").rsplit("/", 1)[-1]
    if not name:
        raise MalformedItem("no_name")
    item_type = _text(properties, "protectedItemType")
    if not item_type:
        raise MalformedItem("no_item_type")
    policy_id = _text(properties, "policyId")
    status = _text(properties, "lastBackupStatus")
    last_backup = _moment(properties, "lastBackupTime")
    recovery_point = _moment(properties, "lastRecoveryPoint")
    if (
        recovery_point is None
        and item_type.lower() in FALLBACK_TO_LAST_BACKUP
        and status.lower() in SUCCESS_STATUSES
    ):
        recovery_point = last_backup
    return ProtectedItem(
        id=resource_id,
        name=name,
        vault=_vault_of(resource_id),
        backup_management_type=_text(properties, "backupManagementType"),
        item_type=item_type,
        workload_type=_text(properties, "workloadType"),
        friendly_name=_text(properties, "friendlyName"),
        server_name=_text(properties, "serverName") or _text(properties, "computerName"),
        parent_name=_text(properties, "parentName"),
        container_name=_text(properties, "containerName"),
        source_resource_id=_text(properties, "sourceResourceId") or _text(properties, "virtualMachineId"),
        policy_id=policy_id,
        policy_name=policy_key(_text(properties, "policyName") or policy_id),
        policy_shown=policy_id.rstrip("/").rsplit("/", 1)[-1] or _text(properties, "policyName"),
        protection_state=_text(properties, "protectionState"),
        protection_status=_text(properties, "protectionStatus"),
        health=_text(properties, "healthStatus") or _text(properties, "protectedItemHealthStatus"),
        last_backup_status=status,
        last_backup_time=last_backup,
        last_recovery_point=recovery_point,
        scheduled_for_deferred_delete=_flag(properties, "isScheduledForDeferredDelete"),
        deferred_delete_time=_moment(properties, "deferredDeleteTimeInUTC"),
    )


def item_entity(item: ProtectedItem, known_entities: Iterable[str] = ()) -> str:
    """What the item's Backup jobs carry as `entityFriendlyName` (checked on the recordings, 2019-2024).

    VMs, file shares and the rest: the friendly name. Workload databases, by `entities.entity_for_item`:
    the vault's job label of the same database and server when `known_entities` has one (so the old
    `MSSQLSERVER/db [server]` form of a database's jobs is kept), else `db [server]`; for SAP HANA the
    database name in capitals, as HANA writes it (the item's friendlyName is lower case). Other workload
    types (ASE, HANA instance, SQL instance) are UNVERIFIED and get `name [server]` as the likeliest form.
    """
    name = item.friendly_name or item.name.rsplit(";", 1)[-1]
    if item.backup_management_type.lower() != "azureworkload" or not item.server_name:
        return name
    if item.item_type.lower() == "azurevmworkloadsaphanadatabase":
        name = name.upper()
    return entity_for_item(name, item.server_name, known_entities)


# --- vaults ----------------------------------------------------------------------------------------


def _retention_days(section: Mapping[str, Any], key: str) -> int | None:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
        return None
    return value


def parse_vault(
    resource: Any,
    storage_config: Any = None,
    vault_config: Any = None,
) -> VaultSettings:
    """`VaultSettings` from a vault resource (GET or list), raising `MalformedItem` for garbage.

    The vault's own properties win (`redundancySettings`, `securitySettings`: the reference prefers the
    vault GET). Most vaults, and every vault listed without its properties, lack them: then the Backup
    RP's `backupstorageconfig/vaultstorageconfig` (`storageModelType`/`storageType`,
    `crossRegionRestoreFlag`) and `backupconfig/vaultconfig` (`softDeleteFeatureState`,
    `enhancedSecurityState`) fill in, when given.
    """
    if not isinstance(resource, Mapping):
        raise MalformedItem("not_an_object")
    properties = resource.get("properties")
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        raise MalformedItem("no_properties")
    storage = _config_properties(storage_config)
    config = _config_properties(vault_config)
    redundancy = _section(properties, "redundancySettings")
    security = _section(properties, "securitySettings")
    soft_delete = _section(security, "softDeleteSettings")
    immutability = _section(security, "immutabilitySettings")
    cross_region = _text(redundancy, "crossRegionRestore")
    if not cross_region and isinstance(storage.get("crossRegionRestoreFlag"), bool):
        cross_region = "Enabled" if storage["crossRegionRestoreFlag"] else "Disabled"
    resource_id = _text(resource, "id")
    return VaultSettings(
        id=resource_id,
        vault=_vault_of(resource_id + "/"),
        location=_text(resource, "location"),
        storage_redundancy=_text(redundancy, "standardTierStorageRedundancy")
        or _text(storage, "storageModelType")
        or _text(storage, "storageType"),
        cross_region_restore=cross_region,
        soft_delete=_text(soft_delete, "softDeleteState") or _text(config, "softDeleteFeatureState"),
        soft_delete_retention_days=_retention_days(soft_delete, "softDeleteRetentionPeriodInDays")
        if soft_delete
        else _retention_days(config, "softDeleteRetentionPeriodInDays"),
        enhanced_security=_text(soft_delete, "enhancedSecurityState")
        or _text(config, "enhancedSecurityState"),
        immutability=_text(immutability, "state"),
        multi_user_authorization=_text(security, "multiUserAuthorization"),
        public_network_access=_text(properties, "publicNetworkAccess"),
    )


def _config_properties(resource: Any) -> Mapping[str, Any]:
    if resource is None:
        return {}
    if not isinstance(resource, Mapping):
        raise MalformedItem("bad_config")
    return _section(resource, "properties")
