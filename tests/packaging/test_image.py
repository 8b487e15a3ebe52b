"""The image as an operator runs it: built from the Dockerfile by `scripts/image-build.sh` (buildah, a
debootstrapped Debian base, the pinned wheels), then run as a container (`container.py` says how and why
that is equivalent) against the simulator on loopback: it serves the backup metrics and its own, as uid
10001 with no capabilities on a read-only root, its HEALTHCHECK passes, and SIGTERM stops it within 5 s.
"""

from __future__ import annotations

import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure_backup_exporter import __version__
from azure_backup_simulator import Simulator, SimulatorConfig
from container import Container, image_config
from support.net import free_port, wait_until
from test_lock import locked_versions

ROOT = Path(__file__).resolve().parents[2]
# the base (Debian's python3, 128 MB) and the venv of pinned wheels; a copy of the build tools, of pip,
# or a second Python would take it past this
MAX_IMAGE_BYTES = 220 * 1000 * 1000
TERM_GRACE_SECONDS = 5


@pytest.fixture(scope="module")
def image() -> str:
    built = subprocess.run(["scripts/image-build.sh"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    print(built.stderr)  # the build's timings, shown with -s or on failure
    return built.stdout.strip().splitlines()[-1]


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(vaults=2, subscriptions=1)) as sim:
        yield sim


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except (urllib.error.HTTPError, urllib.error.URLError, ConnectionError) as error:
        return getattr(error, "code", 0)


@pytest.fixture
def container(image: str, simulator: Simulator, tmp_path: Path) -> Iterator[tuple[Container, str]]:
    port = free_port()
    subscription = simulator.estate.subscriptions[0]
    args = ["serve", "--web.listen-address", f"127.0.0.1:{port}", "--arm-endpoint", simulator.arm_endpoint,
            "--subscription", subscription]  # fmt: skip
    env = {"IDENTITY_ENDPOINT": simulator.identity_endpoint, "IDENTITY_HEADER": simulator.identity_header}
    running = Container(image, args, env)
    with (tmp_path / "container.log").open("wb") as output:
        running.start(output)
    url = f"http://127.0.0.1:{port}"
    try:
        log = tmp_path / "container.log"
        wait_until(lambda: status(f"{url}/-/ready") == 200, timeout=60, what=f"{url}/-/ready (log: {log})")
        yield running, url
    finally:
        running.remove()


def test_serves_the_backup_metrics_and_its_own(container: tuple[Container, str]) -> None:
    _, url = container
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    assert len(re.findall(r"^azure_backup_vault_up\{.*\} 1\.0$", text, flags=re.MULTILINE)) == 2
    assert re.search(r"^process_resident_memory_bytes \S+$", text, flags=re.MULTILINE)
    assert re.search(r'^python_info\{.*implementation="CPython".*\} 1\.0$', text, flags=re.MULTILINE)


def test_runs_as_uid_10001_without_capabilities(container: tuple[Container, str]) -> None:
    running, _ = container
    status_lines = dict(
        line.split(":", 1) for line in Path(f"/proc/{running.pid}/status").read_text().splitlines()
    )
    assert status_lines["Uid"].split() == ["10001"] * 4
    assert status_lines["Gid"].split() == ["10001"] * 4
    assert status_lines["Groups"].strip() == ""
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status_lines[capabilities], 16) == 0, capabilities
    assert status_lines["NoNewPrivs"].strip() == "1"


def test_root_filesystem_is_read_only_even_for_root(container: tuple[Container, str]) -> None:
    running, _ = container
    written = running.exec("sh", "-c", "echo x > /probe")
    assert written.returncode != 0 and "Read-only file system" in written.stderr
    as_user = running.exec("sh", "-c", "echo x > /opt/exporter/probe", user="10001:10001")
    assert as_user.returncode != 0
    assert running.exec("sh", "-c", "echo x > /tmp/probe", user="10001:10001").returncode == 0


def test_healthcheck_passes(container: tuple[Container, str]) -> None:
    running, url = container
    check = image_config(running.image)["Docker"]["config"]["Healthcheck"]["Test"]
    assert check[0] == "CMD"
    port = url.rsplit(":", 1)[1]
    command = [part.replace(":10091/", f":{port}/") for part in check[1:]]  # the test's port, not 10091
    assert running.exec(*command, user="10001:10001").returncode == 0


def test_installs_exactly_the_locked_versions(container: tuple[Container, str]) -> None:
    running, _ = container
    script = "import importlib.metadata as m; print(*(f'{d.name}=={d.version}' for d in m.distributions()))"
    listed = running.exec("python3", "-c", script, user="10001:10001")
    installed = dict(line.lower().replace("_", "-").split("==") for line in listed.stdout.split())
    expected = {name: version for name, version in locked_versions().items() if name != "setuptools"}
    assert installed == {**expected, "azure-backup-exporter": __version__}


def test_sigterm_stops_it_within_5_seconds(container: tuple[Container, str]) -> None:
    running, _ = container
    running.terminate()
    assert running.wait(timeout=TERM_GRACE_SECONDS) == 0


def test_labels_and_size(image: str) -> None:
    config = image_config(image)["OCIv1"]["config"]
    labels = config["Labels"]
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.revision"].startswith(revision.strip())
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert config["User"] == "10001:10001" and "10091/tcp" in config["ExposedPorts"]
    running = Container(image)
    try:
        size = int(
            subprocess.run(["du", "-sb", running.rootfs], capture_output=True, text=True).stdout.split()[0]
        )
    finally:
        running.remove()
    print(f"image {image}: {size / 1e6:.0f} MB uncompressed")
    assert size < MAX_IMAGE_BYTES
