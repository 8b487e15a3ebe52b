"""Throttling and each fault switch, set at run time through the control API (and at start by config)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from .clients import ArmClient, Control


@pytest.fixture
def vault_id(control: Control) -> str:
    return control.estate()["vaults"][0]


def test_reads_past_the_subscription_bucket_get_429_with_retry_after(make_sim) -> None:
    sim = make_sim(vaults=2, subscriptions=1, throttle_capacity=5, throttle_refill_per_second=0.01)
    arm, control = ArmClient(sim), Control(sim)
    first, second = control.estate()["vaults"]
    remaining = [
        arm.get(first + "/backupJobs").headers["x-ms-ratelimit-remaining-subscription-reads"]
        for _ in range(3)
    ]
    assert remaining == ["4", "3", "2"]
    assert arm.get(second + "/backupJobs").status_code == 200, "the bucket is per subscription, not per vault"
    assert arm.get(first + "/backupJobs").status_code == 200
    throttled = arm.get(first + "/backupJobs")
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert int(throttled.headers["Retry-After"]) >= 1
    assert control.get("requests").json()["by_route"]["list_jobs"] == {"200": 5, "429": 1}


def test_buckets_of_different_subscriptions_are_independent(make_sim) -> None:
    sim = make_sim(vaults=2, subscriptions=2, throttle_capacity=1, throttle_refill_per_second=0.01)
    arm = ArmClient(sim)
    first, second = Control(sim).estate()["vaults"]
    assert arm.get(first + "/backupJobs").status_code == 200
    assert arm.get(second + "/backupJobs").status_code == 200
    assert arm.get(first + "/backupJobs").status_code == 429


@pytest.mark.parametrize("follows", [False, True])
def test_moving_the_clock_on_refills_the_read_bucket_only_when_it_follows_the_clock(
    make_sim, follows: bool
) -> None:
    sim = make_sim(
        vaults=1,
        subscriptions=1,
        throttle_capacity=2,
        throttle_refill_per_second=0.01,
        throttle_follows_clock=follows,
    )
    arm, control = ArmClient(sim), Control(sim)
    (vault,) = control.estate()["vaults"]
    assert [arm.get(vault + "/backupJobs").status_code for _ in range(3)] == [200, 200, 429]
    control.post("clock", {"advance_seconds": 200})  # two reads' worth of refill, simulated
    expected = [200, 200, 429] if follows else [429]
    assert [arm.get(vault + "/backupJobs").status_code for _ in expected] == expected


def test_forced_throttling_answers_every_read_429(arm, control, vault_id) -> None:
    state = control.faults(throttle=True, retry_after_seconds=7)
    assert state["throttle"] is True
    answer = arm.get(vault_id + "/backupJobs")
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
    control.faults(throttle=False)
    assert arm.get(vault_id + "/backupJobs").status_code == 200


def test_server_errors_at_full_rate(arm, control, vault_id) -> None:
    control.faults(server_error_rate=1.0)
    answer = arm.get(vault_id + "/backupJobs")
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "InternalServerError"


def test_server_errors_at_half_rate_hit_some_requests(arm, control, vault_id) -> None:
    control.faults(server_error_rate=0.5)
    statuses = {arm.get(vault_id + "/backupJobs").status_code for _ in range(40)}
    assert statuses == {200, 500}


def test_latency_delays_answers(arm, control, vault_id) -> None:
    control.faults(latency_ms=300)
    started = time.monotonic()
    assert arm.get(vault_id + "/backupJobs").status_code == 200
    assert time.monotonic() - started >= 0.3  # a lower bound only: a slow machine cannot make it fail


def test_a_hanging_answer_times_the_client_out(arm, control, vault_id) -> None:
    control.faults(hang_seconds=30)
    with pytest.raises(requests.exceptions.ReadTimeout):
        arm.session.get(
            arm.sim.arm_endpoint + vault_id + "/backupJobs", params={"api-version": "2026-10-01"}, timeout=0.5
        )


def test_malformed_json(arm, control, vault_id) -> None:
    control.faults(malformed_rate=1.0)
    answer = arm.get(vault_id + "/backupJobs")
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


def test_truncated_body(arm, control, vault_id) -> None:
    control.faults(truncated_rate=1.0)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        arm.get(vault_id + "/backupJobs").json()


def test_revoked_authorization_is_403_for_that_vault_only(arm, control) -> None:
    revoked, other = control.estate()["vaults"][:2]
    control.faults(revoked_vaults=[revoked])
    answer = arm.get(revoked + "/backupJobs")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "AuthorizationFailed"
    assert arm.get(other + "/backupJobs").status_code == 200


def test_a_vault_deleted_while_running_is_404_and_leaves_the_vault_list(arm, control) -> None:
    deleted = control.estate()["vaults"][0]
    subscription = deleted.split("/")[2]
    vault_list = f"/subscriptions/{subscription}/providers/Microsoft.RecoveryServices/vaults"
    before = [vault["id"] for vault in arm.get(vault_list, api_version="2026-08-01").json()["value"]]
    assert deleted in before
    control.faults(deleted_vaults=[deleted])
    answer = arm.get(deleted + "/backupJobs")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "ResourceNotFound"
    after = [vault["id"] for vault in arm.get(vault_list, api_version="2026-08-01").json()["value"]]
    assert after == [vault for vault in before if vault != deleted]


def test_fault_state_merges_and_lists_replace(control, vault_id) -> None:
    control.faults(latency_ms=5, revoked_vaults=[vault_id, "/x"])
    state = control.faults(jitter_ms=2, revoked_vaults=["/y"])
    assert (state["latency_ms"], state["jitter_ms"], state["revoked_vaults"]) == (5, 2, ["/y"])
    assert control.get("faults").json() == state


def test_reset_clears_faults_and_counts_but_keeps_the_estate(arm, control, vault_id) -> None:
    estate = control.estate()
    control.faults(throttle=True)
    arm.get(vault_id + "/backupJobs")
    answer = control.post("reset")
    assert answer.status_code == 200
    assert control.get("requests").json() == {"total": 0, "by_route": {}}
    assert control.get("faults").json()["throttle"] is False
    assert control.estate() == estate
    assert arm.get(vault_id + "/backupJobs").status_code == 200


def test_faults_can_be_set_at_start(make_sim) -> None:
    sim = make_sim(vaults=1, faults={"server_error_rate": 1.0})
    arm = ArmClient(sim)
    assert arm.get(Control(sim).estate()["vaults"][0] + "/backupJobs").status_code == 500
