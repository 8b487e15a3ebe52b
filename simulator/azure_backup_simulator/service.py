"""`Simulator`: generate the estate, serve it on a loopback port in a background thread, stop cleanly."""

from __future__ import annotations

import secrets
import threading
import time
from types import TracebackType

from .auth import TokenIssuer
from .config import SimulatorConfig
from .estate import Estate
from .faults import Faults, ReadThrottle, RequestCounter
from .render import RenderedJobs
from .server import SimulatorServer
from .state import SimulatorState


class Simulator:
    """A running simulated Azure. Use as a context manager, or call `start()` and `stop()`."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None
        self.state: SimulatorState | None = None

    def start(self) -> Simulator:
        if self._server is not None:
            return self
        config = self.config
        estate = Estate(config)
        issuer = TokenIssuer(
            config.identity_header or secrets.token_urlsafe(24),
            config.token_lifetime_seconds,
            estate.clock.now,
        )
        state = SimulatorState(
            config,
            estate,
            issuer,
            Faults(config.faults),
            ReadThrottle(
                config.throttle_capacity,
                config.throttle_refill_per_second,
                estate.clock.now if config.throttle_follows_clock else time.monotonic,
            ),
            RequestCounter(),
            RenderedJobs(config.render_cache_jobs),
        )
        state._fault_rng.seed(f"faults:{config.seed}")
        server = SimulatorServer((config.host, config.port), state)
        host, port = server.server_address[:2]
        display_host = f"[{host}]" if ":" in str(host) else host
        state.base_url = f"http://{display_host}:{port}"
        self.state, self._server = state, server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="azure-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        assert self.state is not None
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _require_state(self) -> SimulatorState:
        if self.state is None:
            raise RuntimeError("the simulator is not started")
        return self.state

    @property
    def arm_endpoint(self) -> str:
        """Base URL of the ARM routes, without a trailing slash."""
        return self._require_state().base_url

    @property
    def identity_endpoint(self) -> str:
        return self._require_state().base_url + "/msi/token"

    @property
    def identity_header(self) -> str:
        return self._require_state().issuer.identity_header

    @property
    def control_url(self) -> str:
        return self._require_state().base_url + "/_simulator"

    @property
    def estate(self) -> Estate:
        return self._require_state().estate
