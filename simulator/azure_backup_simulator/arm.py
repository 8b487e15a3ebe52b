"""The ARM routes: vault lists, backup jobs (list, get, cancel) and operation results, behind the checks
ARM makes first (api-version, bearer token, read throttling) and the switchable faults."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import quote, urlencode

from .estate import EstateError, JobsExport, Operation, parse_guid
from .faults import route_fault, vault_ids
from .filters import FilterError, parse_filter
from .inventory import item_states, listed_entities, policy_item_counts, render_item
from .model import Vault, format_guid
from .policies import render_policy
from .render import render_job, render_vault
from .responses import Response, arm_error
from .state import SimulatorState
from .timefmt import format_timestamp

_API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")
_METHODS = {
    "list_vaults": "GET",
    "get_vault": "GET",
    "list_jobs": "GET",
    "get_job": "GET",
    "cancel_job": "POST",
    "job_operation_result": "GET",
    "operation_status": "GET",
    "trigger_backup": "POST",
    "export_jobs": "POST",
    "export_result": "GET",
    "list_protected_items": "GET",
    "list_policies": "GET",
}
CANCEL_RETRY_AFTER = "60"
EXPORT_SAS_SECONDS = 15 * 60
"""The export report's SAS "expires in 15 mins" (azure-api.md section 4)."""


def match_route(segments: list[str]) -> tuple[str, dict[str, str]] | None:
    """Route name and path parameters; path segments compare case-insensitively, as ARM's do."""
    low = [segment.lower() for segment in segments]
    if len(low) < 2 or low[0] != "subscriptions":
        return None
    params = {"subscription": segments[1]}
    rest, original = low[2:], segments[2:]
    if rest[:1] == ["resourcegroups"] and len(rest) >= 2:
        params["resource_group"] = original[1]
        rest, original = rest[2:], original[2:]
    if rest[:3] != ["providers", "microsoft.recoveryservices", "vaults"]:
        return None
    rest, original = rest[3:], original[3:]
    if not rest:
        return "list_vaults", params
    if "resource_group" not in params:
        return None
    params["vault"] = original[0]
    rest, original = rest[1:], original[1:]
    if not rest:
        return "get_vault", params
    if rest == ["backupjobs"]:
        return "list_jobs", params
    if rest == ["backupprotecteditems"]:
        return "list_protected_items", params
    if rest == ["backuppolicies"]:
        return "list_policies", params
    if rest == ["backupjobsexport"]:
        return "export_jobs", params
    if len(rest) == 3 and rest[:2] == ["backupjobs", "operationresults"]:
        params["operation"] = original[2]
        return "export_result", params
    if rest[0] == "backupjobs" and len(rest) >= 2:
        params["job"] = original[1]
        if len(rest) == 2:
            return "get_job", params
        if len(rest) == 3 and rest[2] == "cancel":
            return "cancel_job", params
        if len(rest) == 4 and rest[2] == "operationresults":
            params["operation"] = original[3]
            return "job_operation_result", params
        return None
    if len(rest) == 2 and rest[0] == "backupoperations":
        params["operation"] = original[1]
        return "operation_status", params
    if (
        len(rest) >= 7
        and rest[0] == "backupfabrics"
        and rest[2] == "protectioncontainers"
        and (rest[4] == "protecteditems")
    ):
        params["protected_item"] = original[5]
        params["item_path"] = "/".join(original[:6])
        if len(rest) == 7 and rest[6] == "backup":
            return "trigger_backup", params
        if len(rest) == 8 and rest[6] == "operationsstatus":
            params["operation"] = original[7]
            return "operation_status", params
        if len(rest) == 8 and rest[6] == "operationresults":
            params["operation"] = original[7]
            return "job_operation_result", params
    return None


def handle_arm(
    state: SimulatorState,
    method: str,
    path: str,
    segments: list[str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
) -> Response:
    matched = match_route(segments)
    if matched is None:
        return arm_error(
            404, "InvalidResourceType", f"The simulator serves no Azure resource at '{path}'.", "unknown"
        )
    route, params = matched
    response = _checked(state, route, method, params, query, headers)
    response.route = route
    return response


def _checked(
    state: SimulatorState,
    route: str,
    method: str,
    params: dict[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
) -> Response:
    if method != _METHODS[route]:
        return arm_error(405, "MethodNotAllowed", f"The method '{method}' is not allowed on this resource.")
    api_version = _query_value(query, "api-version")
    if api_version is None:
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if not _API_VERSION.fullmatch(api_version):
        return arm_error(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{api_version}' is invalid. The supported versions are "
            "'2026-10-01,2026-02-01,2025-08-01'.",
        )
    try:
        state.issuer.check(headers.get("Authorization"))
    except EstateError as error:
        return arm_error(
            error.status,
            error.code,
            error.message,
            headers={
                "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                'error="invalid_token", error_description="The authentication failed."'
            },
        )
    faults = state.faults.snapshot()
    extra_headers: dict[str, str] = {}
    if method == "GET":
        if faults["throttle"]:
            return _throttled(params["subscription"], int(faults["retry_after_seconds"]))
        allowed, remaining, wait = state.throttle.take(params["subscription"])
        if not allowed:
            return _throttled(params["subscription"], wait)
        extra_headers["x-ms-ratelimit-remaining-subscription-reads"] = str(remaining)
    else:
        extra_headers["x-ms-ratelimit-remaining-subscription-writes"] = "199"
    _delay(state, faults)
    rule = route_fault(faults, route, _params_vault_id(params))
    if rule is not None:
        return _route_fault_answer(state, rule, route, params)
    if faults["server_error_rate"] and state.fault_draw() < faults["server_error_rate"]:
        return arm_error(
            500,
            "InternalServerError",
            "Encountered internal server error. Diagnostic information: timestamp "
            f"'{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}'.",
        )
    try:
        with state.estate.lock:
            state.estate.advance()
            response = _ROUTES[route](state, params, query, faults)
    except EstateError as error:
        response = arm_error(error.status, error.code, error.message)
    except FilterError as error:
        response = arm_error(400, error.code, str(error))
    response.headers.update(extra_headers)
    if response.status == 200 and response.has_body:
        if faults["malformed_rate"] and state.fault_draw() < faults["malformed_rate"]:
            response.malformed = True
        elif faults["truncated_rate"] and state.fault_draw() < faults["truncated_rate"]:
            response.truncated = True
    return response


def _params_vault_id(params: dict[str, str]) -> str | None:
    if "vault" not in params or "resource_group" not in params:
        return None
    return (
        f"/subscriptions/{params['subscription']}/resourceGroups/{params['resource_group']}"
        f"/providers/Microsoft.RecoveryServices/vaults/{params['vault']}"
    ).lower()


def _route_fault_answer(state: SimulatorState, rule: dict, route: str, params: dict[str, str]) -> Response:
    """The answer a `route_faults` rule forces: after holding it `hang_seconds`, its status as ARM
    writes it (403 AuthorizationFailed, 404 ResourceNotFound, 429 throttled, 5xx InternalServerError)."""
    if rule.get("hang_seconds"):
        state.stopping.wait(rule["hang_seconds"])
    status = int(rule.get("status") or 500)
    if status == 429:
        return _throttled(params["subscription"], int(rule.get("retry_after_seconds") or 1))
    if status == 403:
        return arm_error(
            403,
            "AuthorizationFailed",
            "The client '5e29463d-71df-4e8a-9f3b-6a8a2a0c1f2e' does not have authorization to perform "
            f"the read of route '{route}' or the scope is invalid.",
        )
    if status == 404:
        return arm_error(404, "ResourceNotFound", f"The resource of route '{route}' was not found.")
    return arm_error(
        status,
        "InternalServerError",
        "Encountered internal server error. Diagnostic information: timestamp "
        f"'{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}'.",
    )


def _query_value(query: Mapping[str, list[str]], name: str) -> str | None:
    for key, values in query.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def _throttled(subscription: str, wait: int) -> Response:
    return arm_error(
        429,
        "SubscriptionRequestsThrottled",
        f"Number of 'read' requests for subscription '{subscription}' exceeded. Please try again "
        f"after '{wait}' seconds after additional tokens are available. "
        "Refer to https://aka.ms/arm-throttling",
        headers={"Retry-After": str(wait), "x-ms-ratelimit-remaining-subscription-reads": "0"},
    )


def _delay(state: SimulatorState, faults: dict) -> None:
    latency = faults["latency_ms"]
    if faults["jitter_ms"]:
        latency += (state.fault_draw() * 2 - 1) * faults["jitter_ms"]
    if latency > 0:
        time.sleep(latency / 1000.0)
    if faults["hang_seconds"]:
        state.stopping.wait(faults["hang_seconds"])


def _vault(
    state: SimulatorState, params: dict[str, str], faults: dict, collection: str = "backupJobs"
) -> Vault:
    vault = state.estate.find_vault(params["subscription"], params["resource_group"], params["vault"])
    vault_id = vault.resource_id.lower()
    if vault_id in vault_ids(faults, "deleted_vaults"):
        raise EstateError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.RecoveryServices/vaults/{params['vault']}' under resource group "
            f"'{params['resource_group']}' was not found. For more details please go to "
            "https://aka.ms/ARMResourceNotFoundFix",
        )
    if vault_id in vault_ids(faults, "revoked_vaults"):
        raise EstateError(
            403,
            "AuthorizationFailed",
            "The client '5e29463d-71df-4e8a-9f3b-6a8a2a0c1f2e' with object id "
            "'5e29463d-71df-4e8a-9f3b-6a8a2a0c1f2e' does not have authorization to perform action "
            f"'Microsoft.RecoveryServices/Vaults/{collection + '/' if collection else ''}read' over scope "
            f"'{vault.resource_id}' or the scope is invalid. If access was recently granted, "
            "please refresh your credentials.",
        )
    return vault


def _encode_token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise EstateError(400, "InvalidSkipToken", "The $skiptoken is not valid.") from error


def _next_link(state: SimulatorState, path: str, query: Mapping[str, list[str]], token: str) -> str:
    fields = {"api-version": _query_value(query, "api-version") or ""}
    filter_text = _query_value(query, "$filter")
    if filter_text:
        fields["$filter"] = filter_text
    fields["$skiptoken"] = token
    return f"{state.base_url}{path}?{urlencode(fields)}"


def _list_vaults(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    estate = state.estate
    subscription = params["subscription"]
    groups = estate.resource_groups.get(subscription.lower())
    if groups is None:
        raise EstateError(
            404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found."
        )
    group = params.get("resource_group")
    if group is not None and group.lower() not in groups:
        raise EstateError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")
    hidden = vault_ids(faults, "deleted_vaults")
    vaults = [
        vault
        for vault in estate.visible_vaults(hidden)
        if vault.subscription.lower() == subscription.lower()
        and (group is None or vault.resource_group.lower() == group.lower())
    ]
    offset = 0
    token = _query_value(query, "$skiptoken")
    if token:
        text = _decode_token(token)
        if not text.startswith("vaults:") or not text[7:].isdigit():
            raise EstateError(400, "InvalidSkipToken", "The $skiptoken is not valid.")
        offset = int(text[7:])
    page_size = state.config.page_size
    payload: dict = {"value": [render_vault(vault) for vault in vaults[offset : offset + page_size]]}
    if offset + page_size < len(vaults):
        path = _vault_list_path(params)
        payload["nextLink"] = _next_link(state, path, query, _encode_token(f"vaults:{offset + page_size}"))
    return Response(200, payload)


def _vault_list_path(params: dict[str, str]) -> str:
    path = f"/subscriptions/{params['subscription']}"
    if "resource_group" in params:
        path += f"/resourceGroups/{params['resource_group']}"
    return path + "/providers/Microsoft.RecoveryServices/vaults"


def _get_vault(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    return Response(200, render_vault(_vault(state, params, faults, "")))


def _list_jobs(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    vault = _vault(state, params, faults)
    job_filter = parse_filter(_query_value(query, "$filter"), state.config.max_window_days)
    resume = None
    token = _query_value(query, "$skiptoken")
    if token:
        text = _decode_token(token)
        start_text, _, seq_text = text.partition("|")
        try:
            resume = (float(start_text), int(seq_text))
        except ValueError as error:
            raise EstateError(400, "InvalidSkipToken", "The $skiptoken is not valid.") from error
    jobs, next_key = state.estate.list_jobs(vault, job_filter, resume, state.config.page_size)
    now = state.estate.clock.now()
    body = b'{"value":[' + b",".join(state.rendered.list_form(job, now) for job in jobs) + b"]"
    if next_key is not None:
        path = vault.resource_id + "/backupJobs"
        link = _next_link(state, path, query, _encode_token(f"{next_key[0]!r}|{next_key[1]}"))
        body += b',"nextLink":' + json.dumps(link).encode()
    return Response(200, raw=body + b"}")


def _offset_page(
    state: SimulatorState,
    query: Mapping[str, list[str]],
    path: str,
    prefix: str,
    values: list,
    render: Callable[[object], dict],
) -> Response:
    """One page of a list paged by position (`$skiptoken` names the offset, as for vault lists)."""
    offset = 0
    token = _query_value(query, "$skiptoken")
    if token:
        text = _decode_token(token)
        if not text.startswith(prefix + ":") or not text[len(prefix) + 1 :].isdigit():
            raise EstateError(400, "InvalidSkipToken", "The $skiptoken is not valid.")
        offset = int(text[len(prefix) + 1 :])
    page_size = state.config.page_size
    payload: dict = {"value": [render(value) for value in values[offset : offset + page_size]]}
    if offset + page_size < len(values):
        payload["nextLink"] = _next_link(state, path, query, _encode_token(f"{prefix}:{offset + page_size}"))
    return Response(200, payload)


def _list_protected_items(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    """`BackupProtectedItems_List`: every item of the vault, each in its state at this moment."""
    vault = _vault(state, params, faults, "backupFabrics/protectionContainers/protectedItems")
    now = state.estate.clock.now()
    states = item_states(vault)
    entities = listed_entities(vault, now)
    return _offset_page(
        state,
        query,
        vault.resource_id + "/backupProtectedItems",
        "items",
        entities,
        lambda entity: render_item(entity, states.get(id(entity)), now),  # type: ignore[arg-type]
    )


def _list_policies(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    """`BackupPolicies_List`: the vault's policies, with how many items each protects."""
    vault = _vault(state, params, faults, "backupPolicies")
    counts = policy_item_counts(vault, listed_entities(vault, state.estate.clock.now()))
    log_minutes = state.config.log_backup_interval_hours * 60
    policies = [policy for policy in vault.policies.values() if policy.listed]
    return _offset_page(
        state,
        query,
        vault.resource_id + "/backupPolicies",
        "policies",
        policies,
        lambda policy: render_policy(
            policy,
            vault.resource_id,
            counts.get(policy.name, 0),
            log_minutes,  # type: ignore[attr-defined]
        ),
    )


def _get_job(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    vault = _vault(state, params, faults)
    job = state.estate.find_job(vault, params["job"])
    return Response(200, render_job(job, state.estate.clock.now(), detail=True))


def _cancel_job(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    vault = _vault(state, params, faults)
    job = state.estate.find_job(vault, params["job"])
    operation_id = state.estate.cancel_job(vault, job)
    return _job_operation_pending(state, vault, job.name, format_guid(operation_id), query)


def _job_operation_pending(
    state: SimulatorState, vault: Vault, job_name: str, operation_id: str, query: Mapping[str, list[str]]
) -> Response:
    """202 pointing at the job's operation result, the route a client polls until it answers 204."""
    location = (
        f"{state.base_url}{vault.resource_id}/backupJobs/{job_name}/operationResults/"
        f"{operation_id}?{urlencode({'api-version': _query_value(query, 'api-version')})}"
    )
    return Response(202, None, {"Location": location, "Retry-After": CANCEL_RETRY_AFTER})


_Owned = TypeVar("_Owned", Operation, JobsExport)


def _of_vault(table: Mapping[int, _Owned], vault: Vault, operation_name: str) -> _Owned:
    """The operation or export `operation_name` names, if it belongs to `vault`; else ARM's 404."""
    guid = parse_guid(operation_name)
    found = table.get(guid) if guid is not None else None
    if found is None or found.vault is not vault:
        raise EstateError(404, "ResourceNotFound", f"The operation '{operation_name}' was not found.")
    return found


def _operation(state: SimulatorState, vault: Vault, operation_name: str) -> Operation:
    return _of_vault(state.estate.operations, vault, operation_name)


def _job_operation_result(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    vault = _vault(state, params, faults)
    operation = _operation(state, vault, params["operation"])
    if not operation.done:
        return _job_operation_pending(state, vault, operation.job.name, params["operation"], query)
    return Response(204, None)


def _operation_status(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    vault = _vault(state, params, faults)
    operation = _operation(state, vault, params["operation"])
    name = params["operation"]
    done = operation.done
    payload = {
        "id": name,
        "name": name,
        "status": "Succeeded" if done else "InProgress",
        "startTime": format_timestamp(operation.started),
        "endTime": format_timestamp(operation.job.end or operation.started)
        if done
        else "0001-01-01T00:00:00.00000Z",
        "properties": {"objectType": "OperationStatusJobExtendedInfo", "jobId": operation.job.name},
    }
    return Response(200, payload)


def _trigger_backup(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    vault = _vault(state, params, faults)
    operation_id = format_guid(state.estate.trigger_backup(vault, params["protected_item"]))
    item_url = f"{state.base_url}{vault.resource_id}/{params['item_path']}"
    api_version = urlencode({"api-version": _query_value(query, "api-version")})
    headers = {
        "Location": f"{item_url}/operationResults/{operation_id}?{api_version}",
        "Azure-AsyncOperation": f"{item_url}/operationsStatus/{operation_id}?{api_version}",
        "Retry-After": CANCEL_RETRY_AFTER,
    }
    return Response(202, None, headers)


def _export_jobs(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    """`Jobs_Export`: the jobs matching `$filter` go to a report, read later from a blob URL."""
    vault = _vault(state, params, faults)
    job_filter = parse_filter(_query_value(query, "$filter"), state.config.max_window_days)
    jobs, _ = state.estate.list_jobs(vault, job_filter, None, len(vault.jobs) + 1)
    now = state.estate.clock.now()
    report = b"[" + b",".join(state.rendered.list_form(job, now) for job in jobs) + b"]"
    operation_id = format_guid(state.estate.add_export(vault, report))
    return Response(
        202,
        None,
        {"Location": _export_location(state, vault, operation_id, query), "Retry-After": CANCEL_RETRY_AFTER},
    )


def _export_location(
    state: SimulatorState, vault: Vault, operation_id: str, query: Mapping[str, list[str]]
) -> str:
    return (
        f"{state.base_url}{vault.resource_id}/backupJobs/operationResults/{operation_id}"
        f"?{urlencode({'api-version': _query_value(query, 'api-version')})}"
    )


def _export_result(
    state: SimulatorState, params: dict[str, str], query: Mapping[str, list[str]], faults: dict
) -> Response:
    """`ExportJobsOperationResults_Get`: 202 while the report is written, then 200 with its blob URL."""
    vault = _vault(state, params, faults)
    export = _export(state, vault, params["operation"])
    operation_id = params["operation"]
    if state.estate.clock.now() < export.ready_at:
        location = _export_location(state, vault, operation_id, query)
        payload = {
            "operation": {"objectType": "ExportJobsOperationResultInfo"},
            "headers": {"Location": [location], "Retry-After": [CANCEL_RETRY_AFTER]},
        }
        return Response(202, payload, {"Location": location, "Retry-After": CANCEL_RETRY_AFTER})
    expiry = format_timestamp(export.ready_at + EXPORT_SAS_SECONDS)[:19] + "Z"
    payload = {
        "operation": {
            "objectType": "ExportJobsOperationResultInfo",
            "blobUrl": f"{state.base_url}/_simulator/blobs/exportjobsreport{operation_id.lower()}",
            "blobSasKey": f"?sv=2014-02-14&sr=b&sig=simulated&se={quote(expiry, safe='')}&sp=r",
        },
        "headers": {},
    }
    return Response(200, payload)


def _export(state: SimulatorState, vault: Vault, operation_name: str) -> JobsExport:
    return _of_vault(state.estate.exports, vault, operation_name)


_ROUTES: dict[str, Callable[..., Response]] = {
    "export_jobs": _export_jobs,
    "export_result": _export_result,
    "trigger_backup": _trigger_backup,
    "list_vaults": _list_vaults,
    "get_vault": _get_vault,
    "list_jobs": _list_jobs,
    "get_job": _get_job,
    "cancel_job": _cancel_job,
    "job_operation_result": _job_operation_result,
    "operation_status": _operation_status,
    "list_protected_items": _list_protected_items,
    "list_policies": _list_policies,
}
