"""Fault switches, ARM read throttling and request counts: the knobs tests and benchmarks turn."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable

DEFAULT_FAULTS: dict = {
    "latency_ms": 0,
    "jitter_ms": 0,
    "throttle": False,
    "retry_after_seconds": 1,
    "server_error_rate": 0.0,
    "hang_seconds": 0,
    "malformed_rate": 0.0,
    "truncated_rate": 0.0,
    "revoked_vaults": [],
    "deleted_vaults": [],
    "route_faults": [],
}
_NUMBERS = ("latency_ms", "jitter_ms", "retry_after_seconds", "hang_seconds")
_RATES = ("server_error_rate", "malformed_rate", "truncated_rate")
_LISTS = ("revoked_vaults", "deleted_vaults")
_RULE_KEYS = {"route", "vaults", "status", "hang_seconds", "retry_after_seconds"}
_RULE_STATUSES = (403, 404, 429, 500, 502, 503, 504)


class Faults:
    """The current fault state; `update` merges a partial state and validates every value."""

    def __init__(self, initial: dict | None = None) -> None:
        self._lock = threading.Lock()
        self._state = _copied(DEFAULT_FAULTS)
        if initial:
            self.update(initial)

    def update(self, changes: dict) -> dict:
        """Merge `changes` (vault lists replace); raise ValueError naming the first bad key or value."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object")
        cleaned: dict = {}
        for key, value in changes.items():
            if key not in DEFAULT_FAULTS:
                raise ValueError(f"unknown fault '{key}'; known: {', '.join(DEFAULT_FAULTS)}")
            if key in _NUMBERS:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"'{key}' must be a number >= 0")
            elif key in _RATES:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                    raise ValueError(f"'{key}' must be a number between 0 and 1")
            elif key == "route_faults":
                value = [_rule(rule) for rule in _list_of(value, "route_faults", "a list of rules")]
            elif key in _LISTS:
                if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                    raise ValueError(f"'{key}' must be a list of vault resource ids")
                value = list(value)
            elif not isinstance(value, bool):
                raise ValueError(f"'{key}' must be true or false")
            cleaned[key] = value
        with self._lock:
            self._state.update(cleaned)
            return self.snapshot_unlocked()

    def reset(self) -> None:
        with self._lock:
            self._state = _copied(DEFAULT_FAULTS)

    def snapshot(self) -> dict:
        with self._lock:
            return self.snapshot_unlocked()

    def snapshot_unlocked(self) -> dict:
        return _copied(self._state)


def _copied(faults: dict) -> dict:
    """A fault state whose vault lists can change without changing `faults`."""
    return {key: (list(value) if isinstance(value, list) else value) for key, value in faults.items()}


def _list_of(value: object, key: str, what: str) -> list:
    if not isinstance(value, list):
        raise ValueError(f"'{key}' must be {what}")
    return value


def _rule(rule: object) -> dict:
    """One `route_faults` rule, checked, with its defaults filled in."""
    shape = (
        'each route_faults rule must be {"route": "<route name>", "vaults": [ids], '
        '"status": 403|404|429|5xx, "hang_seconds": n}'
    )
    if not isinstance(rule, dict) or not isinstance(rule.get("route"), str) or set(rule) - _RULE_KEYS:
        raise ValueError(shape)
    vaults = rule.get("vaults")
    if vaults is not None and (not isinstance(vaults, list) or not all(isinstance(v, str) for v in vaults)):
        raise ValueError(shape)
    status = rule.get("status", 500)
    if status not in _RULE_STATUSES or isinstance(status, bool):
        raise ValueError(f"route_faults 'status' must be one of {', '.join(map(str, _RULE_STATUSES))}")
    for number in ("hang_seconds", "retry_after_seconds"):
        value = rule.get(number, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"route_faults '{number}' must be a number >= 0")
    return {
        "route": rule["route"],
        "vaults": None if vaults is None else list(vaults),
        "status": status,
        "hang_seconds": rule.get("hang_seconds", 0),
        "retry_after_seconds": rule.get("retry_after_seconds", 1),
    }


def route_fault(faults: dict, route: str, vault_id: str | None) -> dict | None:
    """The first `route_faults` rule for this route and vault (a rule without vaults: every vault)."""
    for rule in faults["route_faults"]:
        if rule["route"] != route:
            continue
        if rule["vaults"] is None:
            return rule
        if vault_id is not None and vault_id in {v.strip().rstrip("/").lower() for v in rule["vaults"]}:
            return rule
    return None


def vault_ids(faults: dict, key: str) -> set[str]:
    """The ids of a snapshot's `revoked_vaults` or `deleted_vaults`, as compared: lower-case, no slash."""
    return {vault_id.strip().rstrip("/").lower() for vault_id in faults[key]}


class ReadThrottle:
    """ARM's read limit as a token bucket per subscription (250 reads, refilled 25 per second by default).

    `clock` is what the bucket refills on: real time by default, or the simulated clock, so that moving
    that clock on refills the bucket as that much time would.
    """

    def __init__(
        self, capacity: int, refill_per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, subscription: str) -> tuple[bool, int, int]:
        """(allowed, remaining reads, seconds to wait if refused)."""
        now = self._clock()
        key = subscription.lower()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - last) * self.refill_per_second)
            if tokens >= 1.0:
                tokens -= 1.0
                self._buckets[key] = (tokens, now)
                return True, int(tokens), 0
            self._buckets[key] = (tokens, now)
            wait = max(1, math.ceil((1.0 - tokens) / self.refill_per_second))
            return False, 0, wait

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class RequestCounter:
    """ARM and token requests counted by route name and status code."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def count(self, route: str, status: int) -> None:
        with self._lock:
            self._counts[route][str(status)] += 1

    def snapshot(self) -> dict:
        with self._lock:
            by_route = {route: dict(codes) for route, codes in self._counts.items()}
        return {"total": sum(sum(codes.values()) for codes in by_route.values()), "by_route": by_route}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
