"""The time a scrape may spend refreshing vaults: set by the web layer per request, read by the scheduler.

A context variable rather than a parameter, because the request reaches the scheduler through
prometheus_client's registry, whose `collect()` takes no arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_SCRAPE_BUDGET: ContextVar[float | None] = ContextVar("scrape_budget", default=None)


@contextmanager
def scrape_budget(seconds: float | None) -> Iterator[None]:
    """Run a scrape with this many seconds to refresh the vaults (None: the configured default)."""
    token = _SCRAPE_BUDGET.set(seconds)
    try:
        yield
    finally:
        _SCRAPE_BUDGET.reset(token)


def current_budget() -> float | None:
    return _SCRAPE_BUDGET.get()
