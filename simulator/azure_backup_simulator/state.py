"""Everything a request handler needs, bundled once per running simulator."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from .auth import TokenIssuer
from .config import SimulatorConfig
from .estate import Estate
from .faults import Faults, ReadThrottle, RequestCounter
from .render import RenderedJobs


@dataclass
class SimulatorState:
    config: SimulatorConfig
    estate: Estate
    issuer: TokenIssuer
    faults: Faults
    throttle: ReadThrottle
    counter: RequestCounter
    rendered: RenderedJobs
    base_url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)
    _fault_rng: random.Random = field(default_factory=random.Random)
    _fault_lock: threading.Lock = field(default_factory=threading.Lock)

    def fault_draw(self) -> float:
        """A number in [0, 1) from the seeded fault generator (fault rates are reproducible per seed)."""
        with self._fault_lock:
            return self._fault_rng.random()

    def reset(self) -> None:
        self.faults.reset()
        self.counter.reset()
        self.throttle.reset()
