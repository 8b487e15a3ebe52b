"""What each kind of protected item looks like in the jobs API: job type, management type, durations,
sizes and the errors its jobs fail or warn with. Field names follow the BMS swagger (azure-api.md
section 3.2); where real recorded responses differ, they are followed (docs/simulator.md)."""

from __future__ import annotations

from dataclasses import dataclass

JOB_STATUSES = (
    "Invalid",
    "InProgress",
    "Completed",
    "Failed",
    "CompletedWithWarnings",
    "Cancelled",
    "Cancelling",
)
FINAL_STATUSES = ("Completed", "CompletedWithWarnings", "Failed", "Cancelled")
BACKUP_MANAGEMENT_TYPES = (
    "Invalid",
    "AzureIaasVM",
    "MAB",
    "DPM",
    "AzureBackupServer",
    "AzureSql",
    "AzureStorage",
    "AzureWorkload",
    "DefaultBackup",
)
JOB_OPERATIONS = (
    "Invalid",
    "Register",
    "UnRegister",
    "ConfigureBackup",
    "Backup",
    "Restore",
    "DisableBackup",
    "DeleteBackupData",
    "CrossRegionRestore",
    "Undelete",
    "UpdateCustomerManagedKey",
)
JOB_TYPES = (
    "AzureIaaSVMJob",
    "AzureIaaSVMJobV2",
    "AzureStorageJob",
    "AzureStorageJobV2",
    "AzureWorkloadJob",
    "AzureWorkloadJobV2",
    "DpmJob",
    "MabJob",
    "VaultJob",
)


@dataclass(frozen=True)
class ErrorSpec:
    """One way a job can fail: what the service writes in `errorDetails`."""

    code: int
    title: str
    message: str
    recommendation: str


@dataclass(frozen=True)
class EntityKind:
    """A kind of protected item and the shape of its jobs."""

    key: str
    job_type: str
    backup_management_type: str
    workload_type: str
    name_prefixes: tuple[str, ...]
    backup_minutes: tuple[float, float]
    backup_megabytes: tuple[float, float]
    errors: tuple[ErrorSpec, ...]
    has_log_backups: bool = False
    warnings: tuple[ErrorSpec, ...] = ()
    """What a CompletedWithWarnings job carries in errorDetails (real ones do)."""


_VM_ERRORS = (
    ErrorSpec(
        400002,
        "UserErrorGuestAgentStatusUnavailable",
        "VM Agent unable to communicate with Azure Backup.",
        "Ensure the VM agent is installed, running and up to date, and that the VM has network connectivity.",
    ),
    ErrorSpec(
        400019,
        "UserErrorVmNotInDesirableState",
        "The VM is in a state that does not allow backups.",
        "Make sure the VM is running or stopped (deallocated) and retry the operation.",
    ),
    ErrorSpec(
        400126,
        "ExtensionSnapshotFailedNoNetwork",
        "Snapshot operation failed due to no network connectivity on the virtual machine.",
        "Allow outbound access to Azure storage from the VM and retry the backup.",
    ),
    ErrorSpec(
        400263,
        "UserErrorRequestDisallowedByPolicy",
        "An Azure Policy assignment prevents the snapshot of the VM.",
        "Review the policy assignments on the resource group of the restore point collection.",
    ),
)
_VM_WARNINGS = (
    ErrorSpec(
        400309,
        "UserErrorGenericResourceNotFound",
        "Azure resource does not exist.",
        "Please make sure required resources exist. If the issue persists, contact Microsoft support.",
    ),
    ErrorSpec(
        320001,
        "ResourceNotFound",
        "Could not perform the operation as VM no longer exists.",
        "Stop protecting virtual machine without deleting backup data. More details at "
        "http://go.microsoft.com/fwlink/?LinkId=808124 ",
    ),
)
_WORKLOAD_WARNINGS = (
    ErrorSpec(
        520101,
        "UserErrorWorkloadBackupPartiallyCompleted",
        "The backup completed, but some of the log backups of the chain could not be moved to the vault.",
        "Check the network connectivity of the virtual machine; the next log backup retries the transfer.",
    ),
)
_SQL_ERRORS = (
    ErrorSpec(
        510008,
        "UserErrorSQLNoSysadminMembership",
        "Azure Backup service does not have sysadmin privileges on the SQL instance.",
        "Add the NT SERVICE\\AzureWLBackupPluginSvc login to the sysadmin role and retry.",
    ),
    ErrorSpec(
        510025,
        "UserErrorSQLLSNValidationFailure",
        "Log chain is broken: a log backup was taken outside Azure Backup.",
        "Trigger a full backup to start a new log chain.",
    ),
    ErrorSpec(
        510031,
        "UserErrorOpeningSQLConnection",
        "Azure Backup could not connect to the SQL instance.",
        "Check that the SQL Server instance is running and that the workload extension is healthy.",
    ),
)
_HANA_ERRORS = (
    ErrorSpec(
        570022,
        "UserErrorHANAInternalRoleNotPresent",
        "Azure Backup does not have the required role permissions to perform backup.",
        "Run the pre-registration script again on the SAP HANA virtual machine.",
    ),
    ErrorSpec(
        570026,
        "UserErrorInOpeningHanaOdbcConnectionWithDefaultPort",
        "Failed to connect to the SAP HANA system on its default port.",
        "Check that the SAP HANA instance is running and reachable.",
    ),
)
_FILES_ERRORS = (
    ErrorSpec(
        1073871825,
        "",
        "Microsoft Azure Backup encountered an internal error.",
        "Wait for a few minutes and then try the operation again. If the issue persists, please contact "
        "Microsoft support.",
    ),
    ErrorSpec(
        450018,
        "UserErrorFileShareEndpointUnreachable",
        "The storage account of the file share cannot be reached.",
        "Check the firewall settings of the storage account and allow trusted Microsoft services.",
    ),
    ErrorSpec(
        450022,
        "UserErrorShareSnapshotLimitReached",
        "The file share has reached the limit of 200 snapshots.",
        "Delete older manual snapshots or reduce the retention of the backup policy.",
    ),
)
_MAB_ERRORS = (
    ErrorSpec(
        0,
        "",
        "The Microsoft Azure Recovery Services Agent was unable to create a snapshot of the volume.",
        "Check the Volume Shadow Copy service on the server and retry the backup.",
    ),
    ErrorSpec(
        0,
        "",
        "Azure Backup agent could not connect to the OBEngine service.",
        "Restart the Microsoft Azure Recovery Services Management Agent service.",
    ),
)
_DPM_ERRORS = (
    ErrorSpec(
        0,
        "",
        "The replica of the data source is inconsistent.",
        "Run a synchronization job with consistency check on the data source.",
    ),
    ErrorSpec(
        0,
        "",
        "The online recovery point creation failed because the connection to Azure timed out.",
        "Check the internet connectivity of the server and retry the operation.",
    ),
)
VAULT_ERRORS = (
    ErrorSpec(
        100134,
        "UserErrorKeyVaultPermissionsNotConfigured",
        "The vault's managed identity has no access to the key vault.",
        "Grant the vault identity get, wrapKey and unwrapKey permissions on the key vault.",
    ),
)

KINDS: dict[str, EntityKind] = {
    kind.key: kind
    for kind in (
        EntityKind(
            "vm",
            "AzureIaaSVMJob",
            "AzureIaasVM",
            "VM",
            ("vm-web", "vm-app", "vm-dc", "vm-build", "vm-jump"),
            (6, 75),
            (300, 40000),
            _VM_ERRORS,
            warnings=_VM_WARNINGS,
        ),
        EntityKind(
            "vm-enhanced",
            "AzureIaaSVMJobV2",
            "AzureIaasVM",
            "VM",
            ("vm-k8s", "vm-api", "vm-etl"),
            (4, 50),
            (300, 30000),
            _VM_ERRORS,
            warnings=_VM_WARNINGS,
        ),
        EntityKind(
            "sql",
            "AzureWorkloadJob",
            "AzureWorkload",
            "SQLDataBase",
            ("salesdb", "hrdb", "erpdb", "crmdb"),
            (4, 60),
            (2000, 150000),
            _SQL_ERRORS,
            has_log_backups=True,
            warnings=_WORKLOAD_WARNINGS,
        ),
        EntityKind(
            "hana",
            "AzureWorkloadJob",
            "AzureWorkload",
            "SAPHanaDatabase",
            ("hxe", "s4p", "bwp"),
            (8, 90),
            (5000, 250000),
            _HANA_ERRORS,
            has_log_backups=True,
            warnings=_WORKLOAD_WARNINGS,
        ),
        EntityKind(
            "files",
            "AzureStorageJob",
            "AzureStorage",
            "AzureFileShare",
            ("share-profiles", "share-data"),
            (1, 8),
            (1, 5000),
            _FILES_ERRORS,
        ),
        EntityKind(
            "mars",
            "MabJob",
            "MAB",
            "FileFolder",
            ("fs", "laptop", "branch"),
            (10, 120),
            (50, 20000),
            _MAB_ERRORS,
        ),
        EntityKind(
            "dpm", "DpmJob", "DPM", "SQLDB", ("dpm-sql", "dpm-exch"), (5, 60), (500, 60000), _DPM_ERRORS
        ),
        EntityKind(
            "mabs",
            "DpmJob",
            "AzureBackupServer",
            "VM",
            ("mabs-hv", "mabs-files"),
            (5, 60),
            (500, 60000),
            _DPM_ERRORS,
        ),
        EntityKind("vault", "VaultJob", "", "", ("vault",), (0.5, 3), (0, 0), VAULT_ERRORS),
    )
}

KIND_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("vm", 40),
    ("vm-enhanced", 14),
    ("sql", 4),
    ("hana", 2),
    ("files", 20),
    ("mars", 10),
    ("dpm", 5),
    ("mabs", 5),
)
"""Relative frequency of entity kinds in a generated vault.

SQL/HANA are kept rare: their log backups multiply the number of jobs."""

JOB_TYPE_KIND: dict[str, str] = {
    "AzureIaaSVMJob": "vm",
    "AzureIaaSVMJobV2": "vm-enhanced",
    "AzureWorkloadJob": "sql",
    "AzureWorkloadJobV2": "sql",
    "AzureStorageJob": "files",
    "AzureStorageJobV2": "files",
    "MabJob": "mars",
    "DpmJob": "dpm",
}
MANAGEMENT_TYPE_KIND: dict[str, str] = {
    "AzureIaasVM": "vm",
    "AzureWorkload": "sql",
    "AzureStorage": "files",
    "MAB": "mars",
    "DPM": "dpm",
    "AzureBackupServer": "mabs",
}

REGIONS = (
    "westeurope",
    "northeurope",
    "eastus",
    "eastus2",
    "westus2",
    "southeastasia",
    "uksouth",
    "centralindia",
)
