"""Fixtures of the dashboard tests; puts `tests/` on sys.path so `support` (real Prometheus) imports, and
the repository so that `mixin.vocabulary` (the thresholds the dashboards were built with) does."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for path in (TESTS, TESTS.parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from support.prometheus import PrometheusServer  # noqa: E402


@pytest.fixture(scope="session")
def empty_prometheus() -> Iterator[PrometheusServer]:
    """A real Prometheus with nothing to scrape: the judge of PromQL syntax and types."""
    with PrometheusServer() as prometheus:
        yield prometheus
