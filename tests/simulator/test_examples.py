"""For each official example, the simulator answers the same request with the same shape: keys, value
types, id format and paging fields (examples copied in tests/fixtures/azure-examples, see SOURCES.txt)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .clients import API_VERSION, EXAMPLES, VAULTS_API_VERSION, ArmClient, Control, load_example

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
ISO_DURATION = re.compile(r"P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
IAAS_JOB_FIELDS = {
    "jobType",
    "duration",
    "actionsInfo",
    "errorDetails",
    "virtualMachineVersion",
    "extendedInfo",
    "containerName",
    "isUserTriggered",
    "entityFriendlyName",
    "backupManagementType",
    "operation",
    "status",
    "startTime",
    "endTime",
    "activityId",
}
"""AzureIaaSVMJob and its base Job in the 2025-08-01 swagger (azure-api.md section 3.2)."""
IAAS_EXTENDED_INFO_FIELDS = {
    "tasksList",
    "propertyBag",
    "internalPropertyBag",
    "progressPercentage",
    "estimatedRemainingDuration",
    "dynamicErrorMessage",
}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        for name, pattern in (("timestamp", TIMESTAMP), ("duration", ISO_DURATION), ("guid", GUID)):
            if pattern.fullmatch(value):
                return name
        return "string"
    return type(value).__name__


def assert_same_shape(example: object, actual: object, where: str = "$", extras: dict | None = None) -> None:
    """Every key of the example is in the answer with a value of the same kind; extra keys must be in
    `extras[where]` (fields the schema defines that the example happens not to show)."""
    extras = extras or {}
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        if where.endswith((".tags", ".propertyBag")):  # free-form string maps
            assert all(isinstance(value, str) for value in actual.values()), where
            return
        missing = set(example) - set(actual)
        assert not missing, f"{where}: missing keys {missing}"
        unexpected = set(actual) - set(example) - extras.get(where, set())
        assert not unexpected, f"{where}: keys the schema does not define here: {unexpected}"
        for key in example:
            assert_same_shape(example[key], actual[key], f"{where}.{key}", extras)
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        if example and actual:
            for item in actual:
                assert_same_shape(example[0], item, f"{where}[]", extras)
    else:
        assert kind_of(actual) == kind_of(example), f"{where}: {actual!r} is not like {example!r}"


def example_request(relative: str) -> tuple[dict, dict]:
    example = load_example(relative)
    return example["parameters"], example["responses"]


def build_example_vault(make_sim, page_size: int = 200) -> tuple[ArmClient, Control, str]:
    """An empty estate plus the examples' vault, holding the examples' two jobs. The examples' time
    window spans two years, hence no window limit here."""
    sim = make_sim(vaults=0, max_window_days=0, page_size=page_size)
    control = Control(sim)
    parameters, _ = example_request("2025-08-01/ListJobs.json")
    vault_id = control.add_vault(
        parameters["subscriptionId"], parameters["resourceGroupName"], parameters["vaultName"]
    )
    control.add_job(
        vault=vault_id,
        entity="testvm",
        operation="ConfigureBackup",
        status="Completed",
        start_time="2017-08-03T05:30:32.4487085Z",
        end_time="2017-08-03T05:31:03.7553376Z",
    )
    control.add_job(
        vault=vault_id,
        entity="testvm",
        operation="Backup",
        status="InProgress",
        start_time="2017-08-03T05:31:07.014604Z",
    )
    return ArmClient(sim), control, vault_id


@pytest.fixture
def example_vault(make_sim) -> tuple[ArmClient, Control, str]:
    return build_example_vault(make_sim)


def jobs_path(parameters: dict) -> str:
    return (
        f"/subscriptions/{parameters['subscriptionId']}/resourceGroups/{parameters['resourceGroupName']}"
        f"/providers/Microsoft.RecoveryServices/vaults/{parameters['vaultName']}/backupJobs"
    )


JOB_EXTRAS = {"$.value[].properties": IAAS_JOB_FIELDS}


def assert_job_ids_like_example(example_job: dict, job: dict) -> None:
    assert GUID.fullmatch(job["name"])
    assert job["id"].replace(job["name"], example_job["name"]) == example_job["id"]


@pytest.mark.parametrize(
    "relative", ["2025-08-01/ListJobs.json", "2026-10-01/ListJobs.json", "2026-02-01/ListJobs.json"]
)
def test_list_jobs_answers_like_the_example(example_vault, relative: str) -> None:
    arm, _, _ = example_vault
    parameters, responses = example_request(relative)
    answer = arm.get(jobs_path(parameters), api_version=parameters["api-version"])
    assert answer.status_code == 200
    expected = responses["200"]["body"]
    body = answer.json()
    assert_same_shape(expected, body, extras=JOB_EXTRAS)
    assert "nextLink" not in body, "a single page carries no nextLink"
    for example_job, job in zip(expected["value"], body["value"], strict=True):
        assert_job_ids_like_example(example_job, job)
        for key in (
            "jobType",
            "entityFriendlyName",
            "backupManagementType",
            "operation",
            "status",
            "virtualMachineVersion",
        ):
            assert job["properties"][key] == example_job["properties"][key]
        assert moment(job["properties"]["startTime"]) == moment(example_job["properties"]["startTime"])
    assert "extendedInfo" not in body["value"][0]["properties"], "the list form carries no extendedInfo"


def test_list_jobs_with_all_supported_filters_answers_like_the_example(example_vault) -> None:
    arm, _, _ = example_vault
    parameters, responses = example_request("2025-08-01/ListJobsWithAllSupportedFilters.json")
    answer = arm.get(
        jobs_path(parameters), api_version=parameters["api-version"], **{"$filter": parameters["$filter"]}
    )
    assert answer.status_code == 200, answer.text
    expected = responses["200"]["body"]
    assert_same_shape(expected, answer.json(), extras=JOB_EXTRAS)
    assert [job["properties"]["operation"] for job in answer.json()["value"]] == ["Backup"]


@pytest.mark.parametrize(
    "relative",
    [
        "2025-08-01/ListJobsWithStartTimeAndEndTimeFilters.json",
        "2026-10-01/ListJobsWithStartTimeAndEndTimeFilters.json",
    ],
)
def test_list_jobs_with_time_filter_pages_like_the_example(make_sim, relative: str) -> None:
    arm, control, vault_id = build_example_vault(make_sim, page_size=2)
    control.add_job(
        vault=vault_id,
        entity="testvm",
        operation="Backup",
        status="Completed",
        start_time="2017-08-02T05:31:07Z",
        end_time="2017-08-02T05:41:07Z",
    )
    parameters, responses = example_request(relative)
    path = jobs_path(parameters)
    answer = arm.get(path, api_version=parameters["api-version"], **{"$filter": parameters["$filter"]})
    assert answer.status_code == 200, answer.text
    expected = responses["200"]["body"]
    body = answer.json()
    assert_same_shape(expected, body, extras=JOB_EXTRAS)
    example_link, link = urlsplit(expected["nextLink"]), urlsplit(body["nextLink"])
    assert f"{link.scheme}://{link.netloc}" == arm.sim.arm_endpoint, "nextLink points back at the simulator"
    assert link.path == example_link.path
    assert "%24skiptoken=" in link.query and "%24filter=" in link.query, (
        "lower-case $skiptoken, as Azure sends"
    )
    assert parse_qs(link.query)["$filter"] == [parameters["$filter"]]
    last = arm.session.get(body["nextLink"], timeout=10)
    assert last.status_code == 200 and "nextLink" not in last.json()
    # the service writes ticks with trailing zeros trimmed (recordings): a whole second has no fraction
    assert [job["properties"]["startTime"] for job in last.json()["value"]] == ["2017-08-02T05:31:07Z"]


def test_get_job_details_answers_like_the_example(example_vault) -> None:
    arm, control, vault_id = example_vault
    parameters, responses = example_request("2025-08-01/GetJobDetails.json")
    running = control.add_job(vault=vault_id, entity="testvm", operation="Backup", status="InProgress")
    answer = arm.get(jobs_path(parameters) + "/" + running["name"], api_version=parameters["api-version"])
    assert answer.status_code == 200, answer.text
    expected = responses["200"]["body"]
    job = answer.json()
    assert_same_shape(
        expected,
        job,
        extras={"$.properties": IAAS_JOB_FIELDS, "$.properties.extendedInfo": IAAS_EXTENDED_INFO_FIELDS},
    )
    assert_job_ids_like_example(expected, job)
    tasks = job["properties"]["extendedInfo"]["tasksList"]
    assert [(task["taskId"], task["status"]) for task in tasks] == [
        (task["taskId"], task["status"]) for task in expected["properties"]["extendedInfo"]["tasksList"]
    ]
    assert job["properties"]["extendedInfo"]["propertyBag"] == {"VM Name": "testvm"}


@pytest.mark.parametrize("version", ["2025-08-01", "2026-10-01"])
def test_cancel_job_and_its_operation_result_answer_like_the_examples(example_vault, version: str) -> None:
    arm, control, vault_id = example_vault
    parameters, responses = example_request(f"{version}/TriggerCancelJob.json")
    running = control.add_job(vault=vault_id, entity="testvm", operation="Backup", status="InProgress")
    answer = arm.post(
        jobs_path(parameters) + f"/{running['name']}/cancel", api_version=parameters["api-version"]
    )
    assert answer.status_code == 202 and answer.content == b""
    assert set(responses["202"]["headers"]) <= set(answer.headers)
    assert answer.headers["Retry-After"] == str(responses["202"]["headers"]["Retry-After"])
    location = urlsplit(answer.headers["Location"])
    example_location = urlsplit(responses["202"]["headers"]["Location"])
    assert f"{location.scheme}://{location.netloc}" == arm.sim.arm_endpoint
    ours, theirs = location.path.split("/"), example_location.path.split("/")
    assert ours[-3] == running["name"] and theirs[-3] == parameters["jobName"]
    assert ours[:-3] + ours[-2:-1] == theirs[:-3] + theirs[-2:-1], "same path, job and operation ids aside"

    result_parameters, result_responses = example_request(f"{version}/CancelJobOperationResult.json")
    pending = arm.get(answer.headers["Location"], api_version=None)
    assert pending.status_code == 202
    assert set(result_responses["202"]["headers"]) <= set(pending.headers)
    assert GUID.fullmatch(location.path.rsplit("/", 1)[1])
    control.advance(5)
    done = arm.get(answer.headers["Location"], api_version=None)
    assert str(done.status_code) in result_responses and done.status_code in (200, 204)
    assert (
        arm.get(jobs_path(parameters) + "/" + running["name"]).json()["properties"]["status"] == "Cancelled"
    )


@pytest.mark.parametrize(
    "relative",
    ["2025-08-01/ProtectedItemOperationStatus.json", "2025-08-01/ProtectedItem_Delete_OperationStatus.json"],
)
def test_operation_status_answers_like_the_examples(example_vault, relative: str) -> None:
    arm, control, vault_id = example_vault
    running = control.add_job(vault=vault_id, entity="testvm", operation="Backup", status="InProgress")
    cancel = arm.post(vault_id + f"/backupJobs/{running['name']}/cancel")
    operation_id = urlsplit(cancel.headers["Location"]).path.rsplit("/", 1)[1]
    parameters, responses = example_request(relative)
    if "protectedItemName" in parameters:
        path = (
            vault_id + f"/backupFabrics/{parameters['fabricName']}/protectionContainers/"
            f"{parameters['containerName']}/protectedItems/{parameters['protectedItemName']}"
            f"/operationsStatus/{operation_id}"
        )
        control.advance(5)
    else:
        path = vault_id + f"/backupOperations/{operation_id}"
    answer = arm.get(path, api_version=parameters["api-version"])
    assert answer.status_code == 200, answer.text
    expected = responses["200"]["body"]
    body = answer.json()
    assert_same_shape(expected, body, extras={"$": {"properties"}})
    assert body["status"] == expected["status"]
    if expected["status"] == "InProgress":
        assert body["endTime"] == expected["endTime"], "an operation in progress has the zero endTime"
    else:
        assert body["properties"] == {
            "objectType": "OperationStatusJobExtendedInfo",
            "jobId": running["name"],
        }


GET_VAULT_PROPERTIES = set(
    json.loads(
        (EXAMPLES.parent / "inventory/examples/recoveryservices-vaults-2026-11-01/GETVault.json").read_text()
    )["responses"]["200"]["body"]["properties"]
) | {"backupStorageVersion", "restoreSettings"}  # recorded on real vault GETs (2024)


def test_list_vaults_by_subscription_answers_like_the_example(make_sim) -> None:
    sim = make_sim(vaults=3, subscriptions=1)
    arm = ArmClient(sim)
    parameters, responses = example_request("recoveryservices-vaults-2026-08-01/ListBySubscriptionIds.json")
    subscription = Control(sim).estate()["subscriptions"][0]
    answer = arm.get(
        f"/subscriptions/{subscription}/providers/Microsoft.RecoveryServices/vaults",
        api_version=parameters["api-version"],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # the example lists only provisioningState; the simulator lists what a GET of the vault returns (the
    # properties the exporter reads settings from), as GETVault.json shows them
    assert_same_shape(responses["200"]["body"], body, extras={"$.value[].properties": GET_VAULT_PROPERTIES})
    assert len(body["value"]) == 3
    for vault in body["value"]:
        assert vault["id"] == (
            f"/subscriptions/{subscription}/resourceGroups/{vault['id'].split('/')[4]}"
            f"/providers/Microsoft.RecoveryServices/vaults/{vault['name']}"
        )


def test_the_api_versions_of_the_examples_are_accepted(example_vault) -> None:
    arm, _, vault_id = example_vault
    for version in (API_VERSION, "2026-02-01", "2025-08-01", "2017-07-01", VAULTS_API_VERSION):
        assert arm.get(vault_id + "/backupJobs", api_version=version).status_code == 200


def test_trigger_backup_then_operation_status_hands_back_the_job_id(make_sim) -> None:
    """The seed's flow: trigger a backup (202, Azure-AsyncOperation), read its status, get the job."""
    sim = make_sim(vaults=0)
    arm, control = ArmClient(sim), Control(sim)
    parameters, responses = example_request("2025-08-01/TriggerBackup_Post.json")
    vault_id = control.add_vault(
        control.estate()["subscriptions"][0], parameters["resourceGroupName"], parameters["vaultName"]
    )
    control.add_job(vault=vault_id, entity="v1win2012r", operation="ConfigureBackup", status="Completed")
    item = (
        f"/backupFabrics/{parameters['fabricName']}/protectionContainers/{parameters['containerName']}"
        f"/protectedItems/{parameters['protectedItemName']}"
    )
    answer = arm.post(vault_id + item + "/backup", api_version=parameters["api-version"])
    assert answer.status_code == 202 and answer.content == b""
    assert set(responses["202"]["headers"]) <= set(answer.headers)
    status_url = answer.headers["Azure-AsyncOperation"]
    assert status_url.startswith(sim.arm_endpoint + vault_id + item + "/operationsStatus/")
    status = arm.get(status_url, api_version=None)
    assert status.status_code == 200
    example_status = load_example("2025-08-01/ProtectedItemOperationStatus.json")["responses"]["200"]["body"]
    assert_same_shape(example_status, status.json())
    job_id = status.json()["properties"]["jobId"]
    job = arm.get(vault_id + "/backupJobs/" + job_id).json()["properties"]
    # no isUserTriggered: recorded VM jobs never carry it
    assert (job["entityFriendlyName"], job["operation"], job["status"]) == (
        "v1win2012r",
        "Backup",
        "InProgress",
    )
    assert arm.get(answer.headers["Location"], api_version=None).status_code == 204
    missing = arm.post(vault_id + item.replace("v1win2012r", "nothing") + "/backup")
    assert missing.status_code == 404


@pytest.mark.parametrize("version", ["2025-08-01", "2026-02-01"])
def test_export_jobs_and_its_operation_result_answer_like_the_examples(example_vault, version: str) -> None:
    """`backupJobsExport` (202 + Location), its operation result (202 while running, then 200 with a blob
    URL and SAS key), and the report behind that URL holding the exported jobs."""
    arm, control, vault_id = example_vault
    parameters, responses = example_request(f"{version}/TriggerExportJobs.json")
    vault_path = jobs_path(parameters).removesuffix("/backupJobs")
    answer = arm.post(vault_path + "/backupJobsExport", api_version=parameters["api-version"])
    assert answer.status_code == 202 and answer.content == b""
    assert set(responses["202"]["headers"]) <= set(answer.headers)
    assert answer.headers["Retry-After"] == str(responses["202"]["headers"]["Retry-After"])
    location = urlsplit(answer.headers["Location"])
    example_location = urlsplit(responses["202"]["headers"]["Location"])
    assert f"{location.scheme}://{location.netloc}" == arm.sim.arm_endpoint
    assert location.path.rsplit("/", 1)[0] == example_location.path.rsplit("/", 1)[0]
    assert GUID.fullmatch(location.path.rsplit("/", 1)[1])

    _, result_responses = example_request(f"{version}/ExportJobsOperationResult.json")
    pending = arm.get(answer.headers["Location"], api_version=None)
    assert pending.status_code == 202, pending.text
    assert set(result_responses["202"]["headers"]) <= set(pending.headers)
    assert_same_shape(result_responses["202"]["body"], pending.json())
    assert pending.json()["headers"]["Location"] == [answer.headers["Location"]]
    control.advance(5)
    done = arm.get(answer.headers["Location"], api_version=None)
    assert done.status_code == 200, done.text
    assert_same_shape(result_responses["200"]["body"], done.json())
    operation = done.json()["operation"]
    report = requests.get(operation["blobUrl"] + operation["blobSasKey"], timeout=10)
    assert report.status_code == 200
    listed = arm.list_all_jobs(vault_id)
    assert [job["name"] for job in report.json()] == [job["name"] for job in listed]
    assert report.json()[1] == listed[1], "the finished job is reported as listed (the running one has aged)"


def test_export_jobs_honours_the_filter_and_refuses_a_bad_one(example_vault) -> None:
    arm, control, vault_id = example_vault
    url = arm.sim.arm_endpoint + vault_id + "/backupJobsExport"
    answer = arm.session.post(
        url, params={"api-version": API_VERSION, "$filter": "operation eq 'Backup'"}, timeout=10
    )
    assert answer.status_code == 202
    control.advance(5)
    operation = arm.get(answer.headers["Location"], api_version=None).json()["operation"]
    report = requests.get(operation["blobUrl"], timeout=10).json()
    assert [job["properties"]["operation"] for job in report] == ["Backup"]
    bad = arm.session.post(
        url, params={"api-version": API_VERSION, "$filter": "colour eq 'blue'"}, timeout=10
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BMSUserErrorInvalidFilter"
    unknown = arm.get(vault_id + "/backupJobs/operationResults/00000000-0000-0000-0000-000000000001")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ResourceNotFound"
    assert Control(arm.sim).get("requests").json()["by_route"]["export_jobs"] == {"202": 1, "400": 1}
