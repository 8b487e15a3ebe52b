"""The official Azure libraries run unchanged against the simulator: azure-identity gets a token from
environment variables alone, and azure-mgmt-recoveryservicesbackup lists and gets jobs of all seven
job types and deserialises them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient
from azure.mgmt.recoveryservicesbackup import models as backup_models

from .clients import AZURE_ENV_VARS, Control

ARM_SCOPE = "https://management.azure.com/.default"
SEVEN_JOB_TYPES = {
    "AzureIaaSVMJob": ("AzureIaasVM", "vm-01", "Backup"),
    "AzureIaaSVMJobV2": ("AzureIaasVM", "vm-02", "Backup"),
    "AzureStorageJob": ("AzureStorage", "share-01", "Backup"),
    "AzureWorkloadJob": ("AzureWorkload", "salesdb", "Backup (Full)"),
    "DpmJob": ("DPM", "dpm-sql-01", "Backup"),
    "MabJob": ("MAB", "fs-01", "Backup"),
    "VaultJob": ("", "vault", "UpdateCustomerManagedKey"),
}
# The SDK refuses bearer tokens over plain http unless a call passes `enforce_https=False`
# (azure-core BearerTokenCredentialPolicy, azure-api.md section 6). The SDK forwards call keywords to
# every request of a paged listing, so passing it per call is the clean, documented escape.
PLAIN_HTTP = {"enforce_https": False}


def test_default_azure_credential_gets_a_token_from_environment_variables_only(azure_env) -> None:
    token = DefaultAzureCredential().get_token(ARM_SCOPE)
    assert token.token and token.expires_on > 0
    vault_id = Control(azure_env).estate()["vaults"][0]
    answer = requests.get(
        azure_env.arm_endpoint + vault_id + "/backupJobs",
        params={"api-version": "2026-10-01"},
        headers={"Authorization": f"Bearer {token.token}"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["value"]
    counts = Control(azure_env).get("requests").json()["by_route"]
    assert counts["token"] == {"200": 1}


def test_managed_identity_credential_is_refused_with_a_wrong_identity_header(azure_env, monkeypatch) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")
    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential().get_token(ARM_SCOPE)


@pytest.fixture
def sdk_env(make_sim, monkeypatch):
    """An estate in the current wire format (ISO durations, which the SDK parses with isodate)."""
    sim = make_sim(
        seed=11,
        subscriptions=1,
        vaults=1,
        entities_per_vault=25,
        history_days=2,
        page_size=25,
        legacy_format_share=0.0,
    )
    for name in AZURE_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", sim.identity_header)
    return sim


def sdk_client(sim, subscription: str) -> RecoveryServicesBackupClient:
    return RecoveryServicesBackupClient(DefaultAzureCredential(), subscription, base_url=sim.arm_endpoint)


def read_every_field(job: backup_models.JobResource) -> None:
    """Touch every attribute: the SDK deserialises lazily, so errors only show on access."""
    properties = job.properties
    for name in dir(properties):
        if not name.startswith("_"):
            getattr(properties, name)
    extended = getattr(properties, "extended_info", None)
    if extended is not None:
        for name in dir(extended):
            if not name.startswith("_"):
                getattr(extended, name)


def test_the_official_sdk_lists_and_gets_jobs_of_all_seven_types(sdk_env) -> None:
    control = Control(sdk_env)
    subscription = control.estate()["subscriptions"][0]
    vault_id = control.add_vault(subscription, "rg-sdk", "rsv-sdk")
    for job_type, (management_type, entity, operation) in SEVEN_JOB_TYPES.items():
        fields = {
            "vault": vault_id,
            "entity": entity,
            "operation": operation,
            "status": "Failed",
            "job_type": job_type,
            "start_time": "2026-11-26T01:00:00Z",
            "end_time": "2026-11-26T01:20:00Z",
            "error_code": 400002,
        }
        if management_type:
            fields["backup_management_type"] = management_type
        control.add_job(**fields)
    client = sdk_client(sdk_env, subscription)
    listed = list(client.backup_jobs.list("rsv-sdk", "rg-sdk", **PLAIN_HTTP))
    assert {type(job.properties).__name__ for job in listed} == set(SEVEN_JOB_TYPES)
    for job in listed:
        read_every_field(job)
        assert job.properties.duration == timedelta(minutes=20)
        assert job.properties.status == "Failed"
        detail = client.job_details.get("rsv-sdk", "rg-sdk", job.name, **PLAIN_HTTP)
        read_every_field(detail)
        assert type(detail.properties) is type(job.properties)
        assert detail.properties.extended_info is not None


def test_the_official_sdk_pages_through_a_generated_vault(sdk_env) -> None:
    control = Control(sdk_env)
    subscription = control.estate()["subscriptions"][0]
    vault_id = control.estate()["vaults"][0]
    resource_group, vault_name = vault_id.split("/")[4], vault_id.split("/")[8]
    client = sdk_client(sdk_env, subscription)
    jobs = list(client.backup_jobs.list(vault_name, resource_group, **PLAIN_HTTP))
    pages = control.get("requests").json()["by_route"]["list_jobs"]["200"]
    assert len(jobs) > 50 and pages == -(-len(jobs) // 25), "the SDK followed every nextLink"
    assert len({job.name for job in jobs}) == len(jobs)
    for job in jobs:
        read_every_field(job)
    starts = [job.properties.start_time for job in jobs]
    assert starts == sorted(starts, reverse=True), "newest first"
    window = client.backup_jobs.list(vault_name, resource_group, filter="status eq 'Failed'", **PLAIN_HTTP)
    assert {job.properties.status for job in window} <= {"Failed"}
    vaults = list(
        client.backup_jobs.list(vault_name, resource_group, filter="operation eq 'Restore'", **PLAIN_HTTP)
    )
    assert all(job.properties.operation == "Restore" for job in vaults)


@pytest.mark.parametrize("offset", [timedelta(days=-3), timedelta(days=3)])
def test_token_lifetime_is_on_the_clients_clock_whatever_the_simulated_time(
    make_sim, monkeypatch, offset: timedelta
) -> None:
    """A simulated clock days away from the real one (a fixed --start-time) must neither hand clients
    tokens already expired by their clock (they would fetch one per request) nor valid for days (they
    would never refresh before the simulator refuses them)."""
    sim = make_sim(vaults=1, start_time=datetime.now(timezone.utc) + offset)
    for name in AZURE_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", sim.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", sim.identity_header)
    credential = DefaultAzureCredential()
    tokens = [credential.get_token(ARM_SCOPE) for _ in range(3)]
    assert 3000 < tokens[0].expires_on - time.time() <= 3600
    assert Control(sim).get("requests").json()["by_route"]["token"] == {"200": 1}, "the token was cached"
    assert len({token.token for token in tokens}) == 1
