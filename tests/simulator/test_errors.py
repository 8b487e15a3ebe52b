"""Every error a client can meet comes back with ARM's status, error code and JSON body, never a traceback."""

from __future__ import annotations

import pytest
import requests

from .clients import ArmClient, Control


def assert_arm_error(answer: requests.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["x-ms-request-id"]
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    assert "Traceback" not in answer.text
    return error


def jobs_url(sim, vault_id: str) -> str:
    return sim.arm_endpoint + vault_id + "/backupJobs"


def test_a_missing_authorization_header_is_401_authentication_failed(sim, control) -> None:
    answer = requests.get(jobs_url(sim, control.estate()["vaults"][0]), params={"api-version": "2026-10-01"})
    assert_arm_error(answer, 401, "AuthenticationFailed")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Bearer not-a-token", "InvalidAuthenticationToken"),
        ("Basic dXNlcjpwYXNz", "AuthenticationFailedInvalidHeader"),
    ],
)
def test_an_invalid_token_is_401(sim, control, header: str, code: str) -> None:
    answer = requests.get(
        jobs_url(sim, control.estate()["vaults"][0]),
        params={"api-version": "2026-10-01"},
        headers={"Authorization": header},
    )
    assert_arm_error(answer, 401, code)


def test_an_expired_token_is_401_expired_authentication_token(sim, arm, control) -> None:
    vault_id = control.estate()["vaults"][0]
    assert arm.get(vault_id + "/backupJobs").status_code == 200
    control.advance(3601)  # tokens live 3600 s by default
    error = assert_arm_error(arm.get(vault_id + "/backupJobs"), 401, "ExpiredAuthenticationToken")
    assert arm.token not in error["message"], "tokens never appear in error messages"
    arm.session.headers["Authorization"] = f"Bearer {arm.fetch_token()}"
    assert arm.get(vault_id + "/backupJobs").status_code == 200, "a fresh token works again"


def test_a_token_for_another_audience_is_401(sim, arm, control) -> None:
    arm.session.headers["Authorization"] = f"Bearer {arm.fetch_token('https://vault.azure.net')}"
    assert_arm_error(
        arm.get(control.estate()["vaults"][0] + "/backupJobs"), 401, "InvalidAuthenticationTokenAudience"
    )


def test_a_token_request_without_the_identity_header_is_refused(sim) -> None:
    answer = requests.get(
        sim.identity_endpoint,
        params={"api-version": "2019-08-01", "resource": "https://management.azure.com"},
    )
    assert answer.status_code == 401 and "access_token" not in answer.json()


def test_missing_api_version_is_400(arm, control) -> None:
    answer = arm.get(control.estate()["vaults"][0] + "/backupJobs", api_version=None)
    assert_arm_error(answer, 400, "MissingApiVersionParameter")


def test_malformed_api_version_is_400(arm, control) -> None:
    answer = arm.get(control.estate()["vaults"][0] + "/backupJobs", api_version="latest")
    assert_arm_error(answer, 400, "InvalidApiVersionParameter")


def test_unknown_vault_resource_group_and_subscription_are_404(arm, control) -> None:
    vault_id = control.estate()["vaults"][0]
    parts = vault_id.split("/")
    assert_arm_error(
        arm.get("/".join(parts[:-1] + ["no-such-vault"]) + "/backupJobs"), 404, "ResourceNotFound"
    )
    missing_group = "/".join(parts[:4] + ["rg-missing"] + parts[5:])
    assert_arm_error(arm.get(missing_group + "/backupJobs"), 404, "ResourceGroupNotFound")
    assert_arm_error(arm.get("/".join(parts[:4] + ["rg-missing"] + parts[5:8])), 404, "ResourceGroupNotFound")
    missing_subscription = (
        "/subscriptions/00000000-0000-0000-0000-00000000abcd/providers/Microsoft.RecoveryServices/vaults"
    )
    assert_arm_error(arm.get(missing_subscription), 404, "SubscriptionNotFound")


def test_unknown_job_is_404(arm, control) -> None:
    vault_id = control.estate()["vaults"][0]
    assert_arm_error(
        arm.get(vault_id + "/backupJobs/00000000-0000-0000-0000-000000000001"), 404, "ResourceNotFound"
    )
    assert_arm_error(arm.get(vault_id + "/backupJobs/not-a-guid"), 404, "ResourceNotFound")


def test_a_job_of_another_vault_is_not_found(arm, control) -> None:
    first, second = control.estate()["vaults"][:2]
    job = arm.get(first + "/backupJobs").json()["value"][0]
    assert_arm_error(arm.get(second + "/backupJobs/" + job["name"]), 404, "ResourceNotFound")


@pytest.mark.parametrize(
    "bad_filter",
    [
        "status eq Completed",
        "status = 'Completed'",
        "status eq 'Completed' or operation eq 'Backup'",
        "colour eq 'blue'",
        "status eq 'Done'",
        "operation eq 'Snapshot'",
        "backupManagementType eq 'Tape'",
        "startTime eq '2026-11-25T00:00:00Z' and endTime eq '2026-11-26T00:00:00Z'",
        "startTime eq '2026-11-25 13:00:00 PM' and endTime eq '2026-11-26 01:00:00 AM'",
        "startTime eq '2026-02-30 01:00:00 AM'",
        "startTime eq '2026-11-26 01:00:00 AM' and endTime eq '2026-11-25 01:00:00 AM'",
        "status eq 'Completed' and status eq 'Failed'",
    ],
)
def test_a_malformed_filter_is_400(arm, control, bad_filter: str) -> None:
    answer = arm.get(control.estate()["vaults"][0] + "/backupJobs", **{"$filter": bad_filter})
    assert_arm_error(answer, 400, "BMSUserErrorInvalidFilter")


def test_a_window_over_30_days_is_400(arm, control) -> None:
    window = "startTime eq '2026-10-01 00:00:00 AM' and endTime eq '2026-11-01 12:00:00 AM'"
    answer = arm.get(control.estate()["vaults"][0] + "/backupJobs", **{"$filter": window})
    assert_arm_error(answer, 400, "JobAllowedDateTimeRangeExceeded")
    exactly_30_days = "startTime eq '2026-10-02 00:00:00 AM' and endTime eq '2026-11-01 12:00:00 AM'"
    assert (
        arm.get(control.estate()["vaults"][0] + "/backupJobs", **{"$filter": exactly_30_days}).status_code
        == 200
    )


def test_a_bad_skiptoken_is_400(arm, control) -> None:
    answer = arm.get(control.estate()["vaults"][0] + "/backupJobs", **{"$skiptoken": "%%%garbage"})
    assert_arm_error(answer, 400, "InvalidSkipToken")


def test_unknown_routes_and_methods_get_arm_errors(sim, arm, control) -> None:
    assert_arm_error(
        arm.get("/subscriptions/x/providers/Microsoft.Compute/virtualMachines"), 404, "InvalidResourceType"
    )
    assert_arm_error(arm.get("/favicon.ico"), 404, "InvalidResourceType")
    vault_id = control.estate()["vaults"][0]
    answer = arm.session.delete(
        sim.arm_endpoint + vault_id + "/backupJobs", params={"api-version": "2026-10-01"}
    )
    assert_arm_error(answer, 405, "MethodNotAllowed")


def test_cancelling_a_finished_job_is_400(arm, control) -> None:
    vault_id = control.estate()["vaults"][0]
    finished = next(job for job in arm.list_all_jobs(vault_id) if "endTime" in job["properties"])
    assert_arm_error(
        arm.post(vault_id + f"/backupJobs/{finished['name']}/cancel"), 400, "BMSUserErrorJobNotCancellable"
    )


def test_vault_routes_answer_case_insensitively(arm, control) -> None:
    vault_id = control.estate()["vaults"][0]
    shouted = vault_id.replace("/subscriptions/", "/Subscriptions/").replace(
        "resourceGroups", "resourcegroups"
    )
    shouted = shouted.replace("Microsoft.RecoveryServices", "microsoft.recoveryservices").upper()
    shouted = shouted.replace("/SUBSCRIPTIONS/", "/subscriptions/")
    assert arm.get(shouted + "/BACKUPJOBS").status_code == 200


def test_every_arm_answer_carries_the_usual_headers(arm, control) -> None:
    answer = arm.session.get(
        arm.sim.arm_endpoint + control.estate()["vaults"][0] + "/backupJobs",
        params={"api-version": "2026-10-01"},
        headers={"x-ms-client-request-id": "abc", "x-ms-correlation-request-id": "corr-1"},
    )
    assert answer.headers["x-ms-client-request-id"] == "abc"
    assert answer.headers["x-ms-correlation-request-id"] == "corr-1"
    assert int(answer.headers["x-ms-ratelimit-remaining-subscription-reads"]) < 250
    assert answer.headers["x-ms-routing-request-id"].endswith(answer.headers["x-ms-request-id"])


def test_control_api_errors_are_arm_shaped(sim) -> None:
    control = Control(sim)
    assert_arm_error(control.get("nothing-here"), 404, "NotFound")
    assert_arm_error(control.get("jobs"), 405, "MethodNotAllowed")
    bad_json = requests.post(control.url + "/faults", data="{not json", timeout=10)
    assert_arm_error(bad_json, 400, "InvalidRequestContent")
    assert_arm_error(
        control.post("jobs", {"vault": control.estate()["vaults"][0]}), 400, "InvalidRequestContent"
    )
    assert_arm_error(control.post("jobs", [1, 2]), 400, "InvalidRequestContent")
    assert_arm_error(control.post("vaults", {"subscription": "s"}), 400, "InvalidRequestContent")
    assert_arm_error(control.post("faults", {"latency_ms": -1}), 400, "InvalidRequestContent")
    assert_arm_error(control.post("faults", {"earthquake": True}), 400, "InvalidRequestContent")
    assert_arm_error(control.post("clock", {"advance_seconds": "soon"}), 400, "InvalidRequestContent")
    unknown_vault = (
        "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/rg/providers/"
        "Microsoft.RecoveryServices/vaults/v"
    )
    assert_arm_error(
        control.post(
            "jobs", {"vault": unknown_vault, "entity": "vm", "operation": "Backup", "status": "Completed"}
        ),
        404,
        "SubscriptionNotFound",
    )
    assert_arm_error(
        control.post(
            "jobs", {"vault": "not/an/id", "entity": "vm", "operation": "Backup", "status": "Completed"}
        ),
        400,
        "InvalidResourceId",
    )


def test_an_arm_client_is_not_counted_for_control_requests(sim) -> None:
    control = Control(sim)
    ArmClient(sim)
    control.estate()
    assert control.get("requests").json() == {"total": 1, "by_route": {"token": {"200": 1}}}


def test_other_http_methods_get_arm_errors_not_html(sim, arm, control) -> None:
    jobs = jobs_url(sim, control.estate()["vaults"][0])
    assert_arm_error(arm.session.options(jobs, params={"api-version": "2026-10-01"}), 405, "MethodNotAllowed")
    assert_arm_error(arm.session.request("PROPFIND", jobs), 501, "NotImplemented")
    head = arm.session.head(jobs, params={"api-version": "2026-10-01"})
    assert head.status_code == 405 and head.content == b""
    assert arm.get(control.estate()["vaults"][0] + "/backupJobs").status_code == 200, (
        "the connection is sound"
    )
