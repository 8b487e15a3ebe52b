"""The simulator's operations answer as the recorded ones (tests/fixtures/azure-recordings/
operation-statuses.jsonl): a trigger's 202 headers, InProgress without properties and with the zero
endTime, then Succeeded with `OperationStatusJobExtendedInfo` and the jobId; operationResults 202 then 204."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

from .conftest import Sim

RECORDINGS = Path(__file__).parents[1] / "fixtures" / "azure-recordings" / "operation-statuses.jsonl"


def recorded(kind: str, status: str) -> dict:
    for line in RECORDINGS.read_text().splitlines():
        entry = json.loads(line)
        body = entry.get("body")
        if entry["kind"] == kind and isinstance(body, dict) and body.get("status") == status:
            return body
    raise AssertionError(f"no recorded {kind} {status}")


def get(sim: Sim, url: str) -> tuple[int, dict, object]:
    token = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                f"{sim.simulator.identity_endpoint}?api-version=2019-08-01&resource=https://management.azure.com",
                headers={"X-IDENTITY-HEADER": sim.simulator.identity_header},
            )
        ).read()
    )["access_token"]
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def test_an_operation_goes_from_in_progress_to_succeeded_with_the_job_id_as_recorded(sim: Sim) -> None:
    vault = sim.add_vault("rsv-chain")
    started = sim.start_operation(vault, kind="restore")
    headers = started["headers"]
    assert started["status"] == 202 and {"Location", "Azure-AsyncOperation", "Retry-After"} <= set(headers)
    assert "/protectedItems/VM;iaasvmcontainerv2;rg-jobs;vm-web-01/operationResults/" in headers["Location"]

    status, _, body = get(sim, headers["Azure-AsyncOperation"])
    expected = recorded("backupOperations", "InProgress")
    assert status == 200 and set(body) == set(expected) and body["status"] == "InProgress"
    assert body["endTime"].startswith("0001-01-01T00:00:00")
    assert get(sim, headers["Location"])[0] == 202

    sim.advance(5)
    status, _, body = get(sim, headers["Azure-AsyncOperation"])
    expected = recorded("backupOperations", "Succeeded")
    assert set(body) == set(expected) and body["status"] == "Succeeded"
    assert body["properties"] == {"objectType": "OperationStatusJobExtendedInfo", "jobId": started["job_id"]}
    vault_status = get(
        sim, f"{sim.arm}{vault}/backupOperations/{started['operation_id']}?api-version=2025-08-01"
    )
    assert vault_status[2] == body
    assert get(sim, headers["Location"])[0] == 204
    job = get(sim, f"{sim.arm}{vault}/backupJobs/{started['job_id']}?api-version=2025-08-01")[2]
    assert job["properties"]["operation"] == "Restore" and job["properties"]["status"] == "InProgress"

    sim.advance(24 * 3600)
    assert get(sim, headers["Azure-AsyncOperation"])[0] == 404
