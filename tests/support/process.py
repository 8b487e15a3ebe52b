"""The life cycle that every server process of the tests shares: `LoopbackProcess`.

A subclass writes its own `start()` (its command line, how it knows it is ready); this base gives it the
rest: `address` and `url` on 127.0.0.1 and the chosen `port`, starting the command with its output in a
log file (`_launch`), a temporary working directory (`_make_workdir`, removed by `stop()`), starting
again on another free port when the chosen one was taken meanwhile (`_start_on_a_free_port`), polling
`/-/ready` (`_wait_ready`), SIGTERM then SIGKILL after 10 s (`_terminate`), and the context manager
(`start()` on enter, `close()` on exit).

A server also never outlives the process that started it, even one killed without a chance to clean up
(SIGKILL, `kill <pytest pid>`): it is started through `setpriv --pdeathsig TERM` (util-linux), so the
kernel sends it SIGTERM when its parent dies. Linux sends that signal when the *thread* that started it
ends, so start servers from a thread that lives as long as they should (the main thread, in pytest).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import requests

from .net import free_port

START_ATTEMPTS = 3
STOP_TIMEOUT = 10.0
# Sets the parent-death signal, then execs the command (util-linux, Essential in Debian).
DIE_WITH_PARENT = ("/usr/bin/setpriv", "--pdeathsig=TERM", "--")

P = TypeVar("P", bound="LoopbackProcess")


class LoopbackProcess:
    """One server process of a test, on 127.0.0.1 and a free port, always stopped (see the module)."""

    what = "the process"
    """Its name in messages, e.g. "Prometheus" ("Prometheus is not started")."""
    log_name = "process.log"
    """The log file in `workdir`, for a process started with one (`log_path`, `log_tail`)."""

    def __init__(self) -> None:
        self.port: int | None = None
        self.workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def start(self: P) -> P:
        """Start the process and return `self` once it is ready (each subclass its own way)."""
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        """The process id while it runs (None when not started)."""
        return self._process.pid if self._process is not None else None

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, e.g. as a Prometheus target."""
        if self.port is None:
            raise RuntimeError(f"{self.what} is not started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash)."""
        return f"http://{self.address}"

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, f"{self.what} is not started"
        return self.workdir / self.log_name

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the process's log in `workdir`, for failure messages."""
        if self.workdir is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _make_workdir(self, prefix: str) -> Path:
        self.workdir = Path(tempfile.mkdtemp(prefix=prefix))
        return self.workdir

    def _start_on_a_free_port(
        self, start_once: Callable[[int], bool], error: Callable[[str], Exception]
    ) -> None:
        """`start_once(port)` on a free port; again on another one (up to START_ATTEMPTS in all) only if
        the log says the port was taken meanwhile, else raise `error(message ending with the log's tail)`.
        Whatever is raised, `stop()` is called first."""
        try:
            for attempt in range(1, START_ATTEMPTS + 1):
                if start_once(free_port()):
                    return
                if attempt == START_ATTEMPTS or "address already in use" not in self.log_tail():
                    raise error(f"{self.what} did not become ready:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _launch(self, command: Sequence[str], log: Path | IO[bytes], **popen: Any) -> subprocess.Popen[bytes]:
        """Start `command` (after stopping a previous one) with stdout and stderr going to `log`: a path is
        opened for appending and closed again by `_terminate()`; an open file is left to the caller."""
        self._terminate()
        if isinstance(log, Path):
            log = self._log_file = open(log, "ab")  # closed in _terminate()
        self._process = subprocess.Popen(
            [*DIE_WITH_PARENT, *command],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            **popen,
        )
        return self._process

    def _wait_ready(self, timeout: float, get: Callable[..., requests.Response] = requests.get) -> bool:
        """Poll `/-/ready` until it answers 200 (True), or the process exits or `timeout` passes (False)."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                if get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        return False

    def _terminate(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s) and close the log file `_launch` opened."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s) and remove the temporary directory."""
        self._terminate()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def close(self) -> None:
        """`stop()`, and release what outlives a stop (the context manager's exit)."""
        self.stop()

    def __enter__(self: P) -> P:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
