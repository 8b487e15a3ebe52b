"""tests/ on the path for `support`; this directory has no __init__.py, so that its name does not shadow
the `packaging` library, and its helpers are imported as top-level modules (`container`, `test_lock`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
