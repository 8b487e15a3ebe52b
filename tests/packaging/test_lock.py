"""requirements.lock, which the image installs with `--require-hashes`, pins every dependency of
pyproject.toml (and the build backend) to one version that satisfies it, with hashes: a dependency added
to pyproject without `scripts/lock.sh` fails here, not in an image build."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+) \\$")


def locked_versions() -> dict[str, str]:
    """Pinned name (canonical) -> version."""
    return {
        canonicalize_name(m["name"]): m["version"]
        for line in LOCK.read_text().splitlines()
        if (m := PIN.match(line))
    }


def test_every_pin_has_hashes() -> None:
    blocks = re.split(r"\n(?=[A-Za-z])", LOCK.read_text())
    pins = [block for block in blocks if PIN.match(block.splitlines()[0])]
    assert len(pins) == len(locked_versions())
    assert all("--hash=sha256:" in block for block in pins)


def test_lock_covers_pyproject_dependencies_and_build_backend() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]
    locked = locked_versions()
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run scripts/lock.sh"
        assert requirement.specifier.contains(locked[name]), f"{name}=={locked[name]} does not satisfy {text}"
