"""Wires a `Config` into a running exporter: credential, ARM client, discovery, scheduler, collector, web.

Kept apart from `cli.py` so that `serve`, `demo`, the tests and the benchmark build the exporter
exactly the same way.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from . import __version__, logs
from .azure import ApiStats, ArmClient
from .azure.quota import ReadQuota
from .azure.token import TokenCredential
from .collector import BackupCollector
from .config import Config
from .discovery import CombinedVaults, ShardVaults, StaticVaults, SubscriptionVaults, VaultSource
from .exposition import Exposition
from .jobs import VaultRef
from .readers import InventoryReader
from .readiness import Readiness
from .scheduler import Scheduler
from .tracker import VaultTracker
from .web import build_app, make_server, serve_in_thread
from .webconfig import WebSettings

log = logging.getLogger(__name__)

QUIET_LOGGERS = ("azure", "msal", "urllib3")
CHAINED_CREDENTIAL_LOGGER = "azure.identity._credentials.chained"


def configure_logging(level: str, log_format: str = "logfmt") -> None:
    """Log lines to stderr in `log_format` (`logs.py`). Azure SDK, MSAL and urllib3 stay at WARNING: their
    debug output is not ours."""
    logging.basicConfig(level=level.upper(), handlers=[logs.handler(log_format)], force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # its multi-line report of a missing credential is logged by us, on one line per vault
    logging.getLogger(CHAINED_CREDENTIAL_LOGGER).setLevel(logging.ERROR)


def default_credential() -> TokenCredential:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


class Exporter:
    """The whole exporter for one `Config`: `start()` listens, `stop()` closes, `url` is its address."""

    def __init__(
        self,
        config: Config,
        credential: TokenCredential | None = None,
        clock: Callable[[], float] = time.time,
        scheduling_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` is the wall clock the vaults' state and the ARM read quota are kept on (tests and
        benchmarks fix it); `scheduling_clock` tells when a vault is due again (`Scheduler`)."""
        self.config = config
        self.stats = ApiStats()
        quota = ReadQuota(clock=clock)
        self.client = ArmClient(
            credential or default_credential(),
            config.arm_endpoint,
            config.token_scope,
            self.stats,
            quota=quota,
        )
        lookbacks = {v.vault.key: v.lookback_seconds for v in config.vaults if v.lookback_seconds}
        sources: list[VaultSource] = [StaticVaults(v.vault for v in config.vaults)]
        if config.subscriptions:
            sources.append(
                SubscriptionVaults(self.client, config.subscriptions, config.vault_list_interval_seconds)
            )

        discovery = CombinedVaults(sources)
        vaults: VaultSource = discovery
        if config.shard_count > 1:
            vaults = ShardVaults(discovery, config.shard_index, config.shard_count)

        def make_tracker(vault: VaultRef) -> VaultTracker:
            lookback = lookbacks.get(vault.key, config.lookback_seconds)
            inventory = None
            if config.inventory_interval_seconds > 0:
                inventory = InventoryReader(
                    vault,
                    self.client,
                    items_interval=config.inventory_interval_seconds,
                    settings_interval=config.vault_list_interval_seconds,
                    listed_resource=discovery.vault_resource,
                    clock=clock,
                )
            return VaultTracker(vault, self.client, lookback, clock, inventory)

        self.scheduler = Scheduler(
            vaults,
            make_tracker,
            quota.available,
            max_concurrency=config.max_concurrency,
            min_refresh_interval=config.min_refresh_interval_seconds,
            default_budget=config.scrape_timeout_seconds,
            detail_budget=config.detail_fetch_budget,
            clock=scheduling_clock,
            refill_per_second=quota.refill_per_second,
        )
        self.readiness = Readiness(self.scheduler.scrape)
        self.collector = BackupCollector(
            self.readiness.scrape, self.stats.snapshot, discovery.subscriptions_up, config.shard_index
        )
        # everything, as one registry (in-process readers, and /metrics?name[]=...) ...
        self.registry = process_registry()
        self.registry.register(self.collector)
        # ... and /metrics itself, which keeps the text of the vaults that did not change
        self.exposition = Exposition(
            self.readiness.scrape,
            self.stats.snapshot,
            discovery.subscriptions_up,
            config.shard_index,
            process_registry(),
        )
        self._server: Any = None
        self._stopping = threading.Event()

    def start(self) -> None:
        settings = WebSettings(self.config.web_config) if self.config.web_config is not None else None
        self._server = make_server(
            build_app(
                self.registry,
                self.config.scrape_timeout_seconds,
                telemetry_path=self.config.telemetry_path,
                ready=self.readiness.ready,
                exposition=self.exposition.body,
            ),
            self.config.listen_host,
            self.config.listen_port,
            max_connections=self.config.max_connections,
            connection_timeout=self.config.connection_timeout_seconds,
            settings=settings,
        )
        serve_in_thread(self._server)
        log.info(
            "azure-backup-exporter %s listening on %s (TLS %s, basic auth %s); %d vault(s), "
            "%d subscription(s), cloud %s",
            __version__,
            self.listen_address,
            "on" if self._server.tls else "off",
            "on" if self._server.basic_auth else "off",
            len(self.config.vaults),
            len(self.config.subscriptions),
            self.config.cloud,
        )

    def warm_up(self) -> None:
        """Refresh every vault once in the background, so that `/-/ready` turns ready without a scrape."""
        self.readiness.warm_up(self._stopping)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def listen_address(self) -> str:
        """The address really listened on, e.g. `0.0.0.0:10091` (every IPv4 interface) or `[::1]:8080`."""
        host = self._server.server_address[0]
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """A URL that reaches the exporter from this host (a wildcard address becomes loopback)."""
        host = self._server.server_address[0]
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        shown = f"[{host}]" if ":" in host else host
        scheme = "https" if self._server.tls else "http"
        return f"{scheme}://{shown}:{self.port}"

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            address = self.listen_address
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            log.info("azure-backup-exporter %s stopped listening on %s", __version__, address)
        self.scheduler.close()

    def __enter__(self) -> Exporter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass


def process_registry() -> CollectorRegistry:
    """The process' own CPU, memory, file descriptors, Python version and GC: those of client_python's
    default registry, which is not used (it would call Azure at registration, see conventions)."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
