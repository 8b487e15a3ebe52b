"""When the exporter is ready: the vault list has been read and every vault on it has finished a refresh.

"Finished" means the refresh returned, whether Azure answered with jobs or with an error: a failing vault
is then exported as `azure_backup_vault_up 0`, which is the truth an alert needs, so one broken vault
never keeps the exporter unready (and its other vaults unserved) forever. A vault the scrape's budget
left out has not finished, so the exporter turns ready once the turns of the scheduler have reached
every vault. Once ready, it stays ready: a vault discovered later is served as it comes.

`/-/ready` answers from this; `serve` drives a warm-up so that readiness does not wait for a first
scrape (a Prometheus that skips unready targets would otherwise never make it ready).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .snapshot import VaultSnapshot

log = logging.getLogger(__name__)

Scrape = Callable[[float | None], list[VaultSnapshot]]


class Readiness:
    """Wraps the scheduler's `scrape`: every scrape that sees all vaults refreshed once makes it ready."""

    def __init__(self, scrape: Scrape) -> None:
        self._scrape = scrape
        self._ready = threading.Event()

    def scrape(self, budget: float | None) -> list[VaultSnapshot]:
        snapshots = self._scrape(budget)
        if not self._ready.is_set() and all(s.refresh_duration_seconds is not None for s in snapshots):
            self._ready.set()
            log.info("ready: %d vault(s) refreshed once", len(snapshots))
        return snapshots

    def ready(self) -> bool:
        return self._ready.is_set()

    def warm_up(self, stop: threading.Event, pause_seconds: float = 1.0) -> threading.Thread:
        """Scrape in the background (the default budget each time) until ready or `stop` is set."""

        def run() -> None:
            while not stop.is_set() and not self.ready():
                try:
                    self.scrape(None)
                except Exception:  # a bug costs readiness, never the process
                    log.exception("warm-up scrape failed")
                stop.wait(pause_seconds)

        thread = threading.Thread(target=run, name="warm-up", daemon=True)
        thread.start()
        return thread
