"""A local stand-in for the Azure Recovery Services backup-jobs API (see docs/simulator.md)."""

from .config import SimulatorConfig
from .service import Simulator

__all__ = ["Simulator", "SimulatorConfig"]
