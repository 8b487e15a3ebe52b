"""A whole-request deadline for HTTP calls to Azure: connect, headers and every byte of the body.

urllib3's timeouts bound each socket operation, not the request: a server that answers one byte a
second keeps a request alive for as long as it likes. Here each connection that waits for a response
is registered with one watchdog thread, which shuts the socket down when the deadline of the call that
uses it passes. The blocked read then fails at once, urllib3 raises, and the thread that made the call
is free again: nothing is left running past the deadline.

`DeadlineAdapter` is a `requests` adapter whose connections register themselves; the deadline comes
from `deadline_scope()`, set around each call by the ARM client.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_scope = threading.local()


class _Watchdog:
    """One daemon thread that shuts down the sockets of calls whose deadline passed."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._sockets: dict[int, socket.socket] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, deadline: float) -> int:
        with self._condition:
            token = next(self._ids)
            self._sockets[token] = sock
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="azure-deadline", daemon=True)
                self._thread.start()
            self._condition.notify()
            return token

    def release(self, token: int) -> None:
        with self._condition:
            self._sockets.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._heap and self._heap[0][1] not in self._sockets:
                    heapq.heappop(self._heap)  # released in time
                if not self._heap:
                    self._condition.wait()
                    continue
                deadline, token = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
                sock = self._sockets.pop(token, None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed


_WATCHDOG = _Watchdog()


@contextmanager
def deadline_scope(deadline: float) -> Iterator[None]:
    """Every connection that waits for a response in this block is cut at `deadline` (monotonic)."""
    _scope.deadline = deadline
    _scope.tokens = []
    try:
        yield
    finally:
        for token in _scope.tokens:
            _WATCHDOG.release(token)
        _scope.deadline = None
        _scope.tokens = []


class _DeadlineConnectionMixin:
    sock: socket.socket | None

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        deadline = getattr(_scope, "deadline", None)
        if deadline is not None and self.sock is not None:
            _scope.tokens.append(_WATCHDOG.watch(self.sock, deadline))
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """`HTTPAdapter` whose connections are cut when the deadline of `deadline_scope()` passes."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}
