"""Puts `tests/` on sys.path so `support` (Prometheus, exporter) and `e2e` (this package) import."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
