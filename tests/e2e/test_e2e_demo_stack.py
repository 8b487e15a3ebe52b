"""`make demo-stack` starts the whole chain, prints where to look, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support.net import wait_until

from e2e.stack import SCRAPE_JOB

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
URL_LINE = re.compile(r"^(?P<name>[A-Za-z ]+):\s+(?P<url>http://127\.0\.0\.1:\d+\S*)$")
EXPECTED = {"Simulated ARM", "Exporter", "Prometheus", "Alertmanager"}
WORKDIR_FLAGS = ("--storage.tsdb.path=", "--storage.path=")


class DemoStack:
    """The command in its own session (as a shell runs it), its output read line by line."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def all_output(self) -> str:
        """Everything the command printed, once it has exited."""
        self._reader.join(timeout=STOP_TIMEOUT)
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "\n".join(self.output)

    def urls(self) -> dict[str, str]:
        """Read output until every URL is printed."""
        urls: dict[str, str] = {}

        def all_printed() -> bool:
            while not self.lines.empty():
                line = self.lines.get()
                self.output.append(line)
                if match := URL_LINE.match(line):
                    urls[match["name"]] = match["url"]
            if self.process.poll() is not None:
                raise AssertionError("demo-stack exited early:\n" + "\n".join(self.output))
            return EXPECTED <= set(urls)

        wait_until(all_printed, timeout=START_TIMEOUT, interval=0.2, what="demo-stack to print its URLs")
        return urls

    def session_processes(self) -> dict[int, list[str]]:
        """Every live process of the command's session (itself, make, Python, Prometheus...): pid -> argv."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            state, session = fields[0], int(fields[3])
            if session == self.process.pid and state != "Z":
                found[int(entry.name)] = [arg.decode(errors="replace") for arg in argv if arg]
        return found

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


@pytest.fixture
def demo_stack(request: pytest.FixtureRequest) -> Iterator[DemoStack]:
    stack = DemoStack(request.param)
    try:
        yield stack
    finally:
        stack.kill()  # only does something when the test failed before a clean stop


def assert_chain_runs(urls: dict[str, str]) -> None:
    prometheus = urls["Prometheus"]

    def exporter_target_up() -> bool:
        targets = requests.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        return any(t["labels"]["job"] == SCRAPE_JOB and t["health"] == "up" for t in targets)

    wait_until(exporter_target_up, timeout=START_TIMEOUT, interval=0.5, what="the exporter target up")
    groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert "AzureBackupJobFailed" in {rule["name"] for group in groups for rule in group["rules"]}
    alertmanagers = requests.get(f"{prometheus}/api/v1/alertmanagers", timeout=5).json()["data"]
    assert [a["url"] for a in alertmanagers["activeAlertmanagers"]] == [
        f"{urls['Alertmanager']}/api/v2/alerts"
    ]
    assert requests.get(f"{urls['Alertmanager']}/-/ready", timeout=5).status_code == 200
    assert "azure_backup_vault_up{" in requests.get(urls["Exporter"], timeout=30).text


def assert_nothing_left(stack: DemoStack, before: dict[int, list[str]], urls: dict[str, str]) -> None:
    assert stack.process.wait(timeout=STOP_TIMEOUT) is not None
    try:
        wait_until(lambda: not stack.session_processes(), timeout=STOP_TIMEOUT, what="every child to exit")
    except TimeoutError as error:
        left = "\n".join(" ".join(argv)[:200] for argv in stack.session_processes().values())
        raise AssertionError(f"{error}; still running:\n{left}") from None
    for url in urls.values():
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)
    workdirs = {
        Path(arg.split("=", 1)[1]).parent
        for argv in before.values()
        for arg in argv
        if arg.startswith(WORKDIR_FLAGS)
    }
    assert workdirs  # Alertmanager's, and Prometheus' once it started
    assert [path for path in workdirs if path.exists()] == []


@pytest.mark.parametrize("demo_stack", [["make", "--no-print-directory", "demo-stack"]], indirect=True)
def test_make_demo_stack_runs_the_chain_and_ctrl_c_stops_all_of_it(demo_stack: DemoStack) -> None:
    urls = demo_stack.urls()
    assert_chain_runs(urls)
    before = demo_stack.session_processes()
    commands = {Path(argv[0]).name for argv in before.values()}
    assert {"make", "prometheus", "prometheus-alertmanager"} <= commands
    os.killpg(demo_stack.process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert_nothing_left(demo_stack, before, urls)
    assert demo_stack.all_output().splitlines()[-1] == "Stopped."


@pytest.mark.parametrize("demo_stack", [[sys.executable, "scripts/demo-stack"]], indirect=True)
def test_demo_stack_stops_its_children_itself_on_sigterm(demo_stack: DemoStack) -> None:
    urls = demo_stack.urls()
    before = demo_stack.session_processes()
    assert len(before) >= 4  # the script, the exporter, Prometheus, Alertmanager
    demo_stack.process.send_signal(signal.SIGTERM)  # to the script alone: it must stop the others
    assert_nothing_left(demo_stack, before, urls)
    assert demo_stack.process.returncode == 0


@pytest.mark.parametrize("demo_stack", [["make", "--no-print-directory", "demo-stack"]], indirect=True)
def test_closing_the_terminal_stops_all_of_it(demo_stack: DemoStack) -> None:
    """A closed terminal sends SIGHUP to the foreground process group. Prometheus and Alertmanager take
    SIGHUP as "reload the configuration" and would keep running, orphaned, if the script died of it."""
    urls = demo_stack.urls()
    before = demo_stack.session_processes()
    os.killpg(demo_stack.process.pid, signal.SIGHUP)
    assert_nothing_left(demo_stack, before, urls)


@pytest.mark.parametrize("demo_stack", [[sys.executable, "scripts/demo-stack"]], indirect=True)
def test_ctrl_c_while_starting_stops_quietly(demo_stack: DemoStack) -> None:
    """Ctrl-C reaches the children too, which then fail to start: that is the user's wish, not an error."""

    def alertmanager_started() -> bool:
        return any(
            Path(argv[0]).name == "prometheus-alertmanager"
            for argv in demo_stack.session_processes().values()
        )

    wait_until(alertmanager_started, timeout=START_TIMEOUT, interval=0.05, what="Alertmanager to start")
    before = demo_stack.session_processes()
    os.killpg(demo_stack.process.pid, signal.SIGINT)
    assert_nothing_left(demo_stack, before, {})
    output = demo_stack.all_output()
    assert demo_stack.process.returncode == 0, output
    assert "Traceback" not in output and output.splitlines()[-1] == "Stopped.", output


NOTIFICATION_LINE = re.compile(r"^\[\S+\] FIRING AzureBackup\w+ ")


@pytest.mark.parametrize(
    "demo_stack", [["make", "--no-print-directory", "demo-stack", "FAST=1"]], indirect=True
)
def test_make_demo_stack_fast_prints_a_notification_from_the_test_rules(demo_stack: DemoStack) -> None:
    """The shipped rules wait 15 minutes or more; FAST=1 loads the e2e test copy so one arrives soon."""
    demo_stack.urls()
    assert any(
        line.startswith("Fast rules: the shipped rules with every `for:`") for line in demo_stack.output
    )

    def notified() -> bool:
        while not demo_stack.lines.empty():
            demo_stack.output.append(demo_stack.lines.get())
        return any(NOTIFICATION_LINE.match(line) for line in demo_stack.output)

    wait_until(notified, timeout=START_TIMEOUT, interval=0.5, what="a notification printed")
    before = demo_stack.session_processes()
    os.killpg(demo_stack.process.pid, signal.SIGINT)
    assert_nothing_left(demo_stack, before, {})


@pytest.mark.parametrize("demo_stack", [[sys.executable, "scripts/demo-stack"]], indirect=True)
def test_demo_stack_says_how_long_the_shipped_rules_wait(demo_stack: DemoStack) -> None:
    demo_stack.urls()
    said = [line for line in demo_stack.output if line.startswith("The shipped rules wait")]
    assert said and re.search(r"wait \d+[mhd] to \d+[mhd]", said[0]) and "make demo-stack FAST=1" in said[0]
    demo_stack.process.send_signal(signal.SIGTERM)
    assert demo_stack.process.wait(timeout=STOP_TIMEOUT) == 0
