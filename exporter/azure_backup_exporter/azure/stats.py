"""Counts of requests to Azure and the last rate-limit headers seen: plain, thread-safe data."""

from __future__ import annotations

import threading
from collections import Counter

from ..snapshot import ApiSnapshot


class ApiStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._remaining_reads: dict[str, int] = {}

    def record_request(self, endpoint: str, code: str) -> None:
        with self._lock:
            self._requests[(endpoint, code)] += 1

    def record_remaining_reads(self, subscription_id: str, remaining: int) -> None:
        with self._lock:
            self._remaining_reads[subscription_id] = remaining

    def snapshot(self) -> ApiSnapshot:
        with self._lock:
            return ApiSnapshot(dict(self._requests), dict(self._remaining_reads))
