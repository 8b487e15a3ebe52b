"""The exporter as a new user meets it, against an independent fake of Azure built from azure-api.md.

The data is what a real Azure may send and the simulator does not: every job subtype of the reference
(MAB, DPM, workload, storage, IaaS VM v2), TimeSpan durations with days, ISO durations with days,
`actionsInfo` as integers, error details without `errorCode`, a `Cancelling` job, an `Invalid` status,
sizes such as "1.5 GB" and "0 KB", seven-digit fractions, `systemData`, resource group names with dots
and parentheses, lower-case providers in vault ids, paged vault lists and nextLinks with a stale
api-version. The fake refuses a missing window, a window over 30 days and dates not in the CLI format.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Iterator
from copy import deepcopy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from azure_backup_exporter.azure.client import JOBS_API_VERSION, VAULTS_API_VERSION
from azure_backup_exporter.config import load_config
from azure_backup_exporter.service import Exporter

from .harness import samples, scrape, value
from .reference_fake import ACCESS_TOKEN, IDENTITY_HEADER, FakeAzure, FakeVault, running, timestamp

SUB = "6e1c2f7a-92b4-4c1d-8f0e-3a5b7c9d1e2f"
RG_A = "RG.Prod(EU)_1"
GIB, MIB = 1024**3, 1024**2
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def job(
    name: str,
    entity: str,
    job_type: str,
    management: str,
    operation: str,
    status: str,
    started: timedelta,
    ended: timedelta | None,
    duration: str,
    vault: str = "rsv-eu-01",
    rg: str = RG_A,
    **extra: Any,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "jobType": job_type,
        "entityFriendlyName": entity,
        "backupManagementType": management,
        "operation": operation,
        "status": status,
        "startTime": timestamp(NOW - started),
        "duration": duration,
        "activityId": f"{name}-activity",
        **extra,
    }
    if ended is not None:
        properties["endTime"] = timestamp(NOW - ended)
    return {
        "id": f"/Subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.RecoveryServices/vaults/{vault}"
        f"/backupJobs/{name}",
        "name": name,
        "type": "Microsoft.RecoveryServices/vaults/backupJobs",
        "systemData": {"createdAt": timestamp(NOW - started)},
        "properties": properties,
    }


def size(text: str) -> dict[str, Any]:
    return {"extendedInfo": {"tasksList": [], "propertyBag": {"VM Name": "x", "Backup Size": text}}}


H, M = timedelta(hours=1), timedelta(minutes=1)
DPM_ENTITY = "SQL01\\ProdDB"
QUOTED = 'Content DB "Intranet" on SP01'
VM_DONE = job(
    "a1",
    "vm-web-01",
    "AzureIaaSVMJob",
    "AzureIaasVM",
    "Backup",
    "Completed",
    5 * H,
    5 * H - 20 * M,
    "00:20:23.0896697",
    actionsInfo=[],
    virtualMachineVersion="Compute",
    isUserTriggered=False,
)
VM_RUNNING = job(
    "a2",
    "vm-web-01",
    "AzureIaaSVMJob",
    "AzureIaasVM",
    "Backup",
    "InProgress",
    30 * M,
    None,
    "PT29M59.5S",
    actionsInfo=[1],
)
SQL_FAILED = job(
    "a3",
    "SALES_DB",
    "AzureWorkloadJob",
    "AzureWorkload",
    "Backup (Full)",
    "Failed",
    4 * H,
    4 * H - 3 * M,
    "00:03:13.6439467",
    workloadType="SQLDataBase",
    isUserTriggered=True,
    errorDetails=[
        {
            "errorCode": 510008,
            "errorString": "Log chain broken",
            "errorTitle": "",
            "recommendations": ["Run a full backup"],
            "additionalDetails": None,
        }
    ],
)
MAB_WARN = job(
    "a4",
    "FILESERVER01.contoso.local",
    "MabJob",
    "MAB",
    "Backup",
    "CompletedWithWarnings",
    30 * H,
    3 * H,
    "1.02:03:04.5000000",
    mabServerName="FILESERVER01",
    mabServerType="Windows",
    workloadType="FileFolder",
    errorDetails=[{"errorString": "2 files skipped", "recommendations": []}],
)
DPM_CANCELLED = job(
    "a5",
    DPM_ENTITY,
    "DpmJob",
    "DPM",
    "Backup",
    "Cancelled",
    28 * H,
    2 * H,
    "P1DT2H3M4.5S",
    dpmServerName="DPM01",
    containerType="DPMContainer",
)
SHARE_DONE = job(
    "a6",
    "payroll-share",
    "AzureStorageJob",
    "AzureStorage",
    "Backup",
    "Completed",
    2 * H,
    2 * H - 90 * timedelta(seconds=1),
    "PT1M30S",
    storageAccountName="stpayroll",
    isUserTriggered=False,
)
ODD_STATUS = job("a7", QUOTED, "DpmJob", "DPM", "Backup", "Invalid", 6 * H, 6 * H - M, "00:01:00")
VM_CANCELLING = job(
    "a8",
    "vm-db-02",
    "AzureIaaSVMJobV2",
    "AzureIaasVM",
    "Backup",
    "Cancelling",
    20 * M,
    None,
    "PT19M",
    actionsInfo=[],
)
RETIRED = job(
    "a9",
    "vm-retired",
    "AzureIaaSVMJob",
    "AzureIaasVM",
    "Backup",
    "Completed",
    10 * 24 * H,
    10 * 24 * H - M,
    "PT1M",
)
B_JOBS = [
    job(f"b{i}", f"vm-app-0{i}", "AzureIaaSVMJob", "AzureIaasVM", "Backup", "Completed", (10 + i) * H,
        (10 + i) * H - 10 * M, "00:10:00", vault="rsv-weu-02", rg="rg-backup-weu")
    for i in range(1, 6)
]  # fmt: skip


@pytest.fixture
def fake(azure_identity_env: Callable[[Any], None]) -> Iterator[FakeAzure]:
    """A fresh fake per test, with its own copy of the jobs (tests change them)."""
    azure = FakeAzure()
    azure.vaults = [
        FakeVault(SUB, RG_A, "rsv-eu-01",
                  jobs=deepcopy([VM_DONE, VM_RUNNING, SQL_FAILED, MAB_WARN, DPM_CANCELLED, SHARE_DONE,
                                 ODD_STATUS, VM_CANCELLING, RETIRED]),
                  details={"a1": size("2332 MB"), "a6": size("1.5 GB"), "a4": size("10 GB")}),
        FakeVault(SUB, "rg-backup-weu", "rsv-weu-02", jobs=deepcopy(B_JOBS), page_size=2,
                  details={"b1": size("0 KB"), **{f"b{i}": size(f"{i} GB") for i in range(2, 6)}}),
        FakeVault(SUB, "rg-locked", "rsv-locked", answer=(403, "AuthorizationFailed",
                  "The client 'abc' with object id 'abc' does not have authorization to perform action "
                  "'Microsoft.RecoveryServices/Vaults/backupJobs/read' over scope '/subscriptions/x'.")),
    ]  # fmt: skip
    with running(azure):
        azure_identity_env(azure)
        yield azure


DELETED = f"/subscriptions/{SUB}/resourceGroups/rg-old/providers/Microsoft.RecoveryServices/vaults/rsv-gone"


@pytest.fixture
def exporter(fake: FakeAzure) -> Iterator[Exporter]:
    options = {
        "web.listen-address": "127.0.0.1:0",
        "arm-endpoint": fake.arm_endpoint,
        "subscription": [SUB],
        "vault": [DELETED],
        "min-refresh-interval": "0s",
        "inventory-interval": "0s",  # the fake serves backup jobs only (azure-api.md)
    }
    with Exporter(load_config(options, {})) as running_exporter:
        yield running_exporter


def at(delta: timedelta) -> float:
    return (NOW - delta).timestamp()


def entity(text: str, name: str, entity_name: str, **labels: str) -> float | None:
    return value(text, name, entity=entity_name, **labels)


def test_every_metric_against_the_reference_fake(
    fake: FakeAzure, exporter: Exporter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="azure_backup_exporter"):
        text = scrape(exporter)
    up = {labels["vault"]: v for labels, v in samples(text)["azure_backup_vault_up"]}
    assert up == {"rsv-eu-01": 1.0, "rsv-weu-02": 1.0, "rsv-locked": 0.0, "rsv-gone": 0.0}
    assert value(text, "azure_backup_vault_up", vault="rsv-eu-01") == 1.0
    assert {labels["resource_group"] for labels, _ in samples(text)["azure_backup_vault_up"]} >= {RG_A}

    # a running job is the last job; the success and size before it stay
    vm = {"entity": "vm-web-01", "operation": "Backup", "backup_management_type": "AzureIaasVM"}
    assert value(text, "azure_backup_last_job_status", status="InProgress", **vm) == 1.0
    assert (
        len([s for s in samples(text)["azure_backup_last_job_status"] if s[0]["entity"] == "vm-web-01"]) == 1
    )
    assert value(text, "azure_backup_last_job_start_timestamp_seconds", **vm) == pytest.approx(
        at(30 * M), abs=1
    )
    assert value(text, "azure_backup_last_job_duration_seconds", **vm) >= 30 * 60 - 1
    assert value(text, "azure_backup_last_success_timestamp_seconds", **vm) == pytest.approx(
        at(5 * H - 20 * M), abs=1
    )
    assert value(text, "azure_backup_last_job_size_bytes", **vm) == 2332 * MIB
    assert value(text, "azure_backup_jobs_finished_total", status="Completed", operation="Backup",
                 backup_management_type="AzureIaasVM") >= 1  # fmt: skip

    # durations in both formats, days included; error details with and without an errorCode
    assert entity(text, "azure_backup_last_job_duration_seconds", "SALES_DB") == pytest.approx(193.6439467)
    assert entity(text, "azure_backup_last_job_error_info", "SALES_DB", error_code="510008") == 1.0
    assert entity(text, "azure_backup_last_success_timestamp_seconds", "SALES_DB") is None
    assert value(text, "azure_backup_last_job_status", entity="SALES_DB", operation="Backup (Full)",
                 status="Failed") == 1.0  # fmt: skip
    mab = "FILESERVER01.contoso.local"
    assert entity(text, "azure_backup_last_job_duration_seconds", mab) == pytest.approx(93784.5)
    assert entity(text, "azure_backup_last_success_timestamp_seconds", mab) == pytest.approx(at(3 * H), abs=1)
    assert len([s for s in samples(text)["azure_backup_last_job_error_info"] if s[0]["entity"] == mab]) == 1
    assert entity(text, "azure_backup_last_job_size_bytes", mab) == 10 * GIB
    assert entity(text, "azure_backup_last_job_duration_seconds", DPM_ENTITY) == pytest.approx(93784.5)
    assert entity(text, "azure_backup_last_job_status", DPM_ENTITY, status="Cancelled") == 1.0
    assert entity(text, "azure_backup_last_job_size_bytes", "payroll-share") == 1.5 * GIB
    assert entity(text, "azure_backup_last_job_status", QUOTED, status="Invalid") == 1.0
    assert entity(text, "azure_backup_last_job_status", "vm-db-02", status="Cancelling") == 1.0
    assert entity(text, "azure_backup_last_job_duration_seconds", "vm-db-02") > 0  # elapsed while it runs
    assert entity(text, "azure_backup_last_job_status", "vm-retired") is None  # outside the 7d lookback
    assert entity(text, "azure_backup_last_job_size_bytes", "vm-app-01") == 0.0
    assert entity(text, "azure_backup_last_job_size_bytes", "vm-app-05") == 5 * GIB
    assert value(text, "azure_backup_job_size_bytes_total", vault="rsv-weu-02") >= 5 * GIB
    assert value(text, "azure_backup_jobs", operation="Backup", status="Completed",
                 backup_management_type="AzureIaasVM") >= 1.0  # fmt: skip
    assert value(text, "azure_backup_job_duration_seconds_count", operation="Backup",
                 backup_management_type="AzureIaasVM") >= 1  # fmt: skip
    assert value(text, "azure_backup_api_ratelimit_remaining_reads", subscription_id=SUB) < 12000
    assert value(text, "azure_backup_exporter_build_info") == 1.0

    # what it asked: the reference's api-versions, a CLI-format window of 30 days at most, pages followed
    for request in fake.requests:
        assert request.authorization == f"Bearer {ACCESS_TOKEN}"
        assert request.status != 400, request
        expected = VAULTS_API_VERSION if request.route == "list_vaults" else JOBS_API_VERSION
        assert request.query["api-version"] == [expected], request
    assert fake.count("list_vaults", 200) == 3  # one vault per page
    assert fake.count("list_jobs", 200) == 1 + 3  # rsv-weu-02 has 5 jobs, 2 per page
    assert fake.count("get_job", 200) == 6 + 5  # finished jobs of operations that report sizes
    assert fake.count("list_jobs", 403) == 1 and fake.count("list_jobs", 404) == 1

    # one log line per failing vault, with its HTTP status, ARM code and message; never the token
    logged = [r.getMessage() for r in caplog.records]
    locked = [line for line in logged if "rsv-locked" in line]
    assert len(locked) == 1 and "HTTP 403" in locked[0] and "AuthorizationFailed" in locked[0]
    assert "does not have authorization" in locked[0]
    gone = [line for line in logged if "rsv-gone" in line]
    assert len(gone) == 1 and "HTTP 404" in gone[0] and "ResourceNotFound" in gone[0]
    assert not any(ACCESS_TOKEN in line or IDENTITY_HEADER in line for line in logged)

    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_warm_scrapes_ask_only_for_what_changed(fake: FakeAzure, exporter: Exporter) -> None:
    scrape(exporter)
    fake.forget_requests()
    for _ in range(2):
        text = scrape(exporter)
    assert fake.count("get_job") == 0 and fake.count("list_vaults") == 0
    assert fake.count("list_jobs", 200) == 2 * 2  # one page per healthy vault per scrape
    completed = value(text, "azure_backup_jobs_finished_total", operation="Backup", status="Completed",
                      backup_management_type="AzureIaasVM")  # fmt: skip
    sizes = value(text, "azure_backup_job_size_bytes_total", vault="rsv-eu-01")

    # the running job finishes: counted once, its size fetched once
    vault = fake.vault("rsv-eu-01")
    done = NOW - 30 * M + timedelta(minutes=25)
    vault.jobs[1]["properties"].update(status="Completed", endTime=timestamp(done), duration="PT25M")
    vault.details["a2"] = size("3 GB")
    fake.forget_requests()
    for _ in range(3):
        text = scrape(exporter)
    assert fake.count("get_job") == 1
    assert value(text, "azure_backup_jobs_finished_total", operation="Backup", status="Completed",
                 backup_management_type="AzureIaasVM") == completed + 1  # fmt: skip
    assert entity(text, "azure_backup_last_job_status", "vm-web-01", status="Completed") == 1
    assert entity(text, "azure_backup_last_job_size_bytes", "vm-web-01") == 3 * GIB
    assert value(text, "azure_backup_job_size_bytes_total", vault="rsv-eu-01") == sizes + 3 * GIB
    assert entity(text, "azure_backup_last_success_timestamp_seconds", "vm-web-01") == pytest.approx(
        done.timestamp(), abs=1
    )
    assert entity(text, "azure_backup_last_job_duration_seconds", "vm-web-01") == 25 * 60


def test_throttled_then_served(fake: FakeAzure, exporter: Exporter) -> None:
    scrape(exporter)
    fake.throttle_next = 2
    text = scrape(exporter, headers={"X-Prometheus-Scrape-Timeout-Seconds": "20"})
    assert value(text, "azure_backup_vault_up", vault="rsv-eu-01") == 1.0
    assert value(text, "azure_backup_vault_up", vault="rsv-weu-02") == 1.0
    assert value(text, "azure_backup_api_requests_total", endpoint="list_jobs", code="429") == 2


def test_a_long_lookback_is_asked_in_windows_the_fake_accepts(fake: FakeAzure) -> None:
    options = {
        "web.listen-address": "127.0.0.1:0",
        "arm-endpoint": fake.arm_endpoint,
        "vault": [fake.vault("rsv-eu-01").resource_id],
        "lookback": "45d",
        "detail-fetch-budget": "0",
        "inventory-interval": "0s",
    }
    with Exporter(load_config(options, {})) as exporter:
        text = scrape(exporter)
    assert value(text, "azure_backup_vault_up", vault="rsv-eu-01") == 1.0
    assert entity(text, "azure_backup_last_job_status", "vm-retired", status="Completed") == 1.0
    assert fake.count("list_jobs", 200) == 2 and fake.count("list_jobs") == 2


def test_a_running_job_gone_from_azure_is_forgotten_and_a_merely_unlisted_one_kept(
    fake: FakeAzure, exporter: Exporter
) -> None:
    scrape(exporter)
    vault = fake.vault("rsv-eu-01")
    vault.jobs = [j for j in vault.jobs if j["name"] != "a2"]  # deleted while running
    vault.unlisted = {"a8"}  # still there, but this listing leaves it out
    fake.forget_requests()
    text = scrape(exporter)
    assert entity(text, "azure_backup_last_job_status", "vm-web-01", status="Completed") == 1.0
    assert entity(text, "azure_backup_last_job_status", "vm-web-01", status="InProgress") is None
    assert entity(text, "azure_backup_last_job_status", "vm-db-02", status="Cancelling") == 1.0
    assert fake.count("get_job", 404) == 1 and fake.count("get_job", 200) == 1
    assert entity(text, "azure_backup_last_job_status", "vm-web-01", status="InProgress") is None

    vault.unlisted = set()
    fake.forget_requests()
    scrape(exporter)
    assert fake.count("get_job") == 0 and fake.count("list_jobs", 200) == 2
