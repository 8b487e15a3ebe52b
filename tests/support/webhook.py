"""An Alertmanager webhook receiver served by the test itself, recording every notification it gets.

Why: the end of the chain a user sees is the notification. The tests assert on the very JSON
Alertmanager posts (`receiver`, `status`, and each alert's `labels` and `annotations`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedAlert:
    """One alert of one notification, with the receiver (webhook path) it was routed to."""

    path: str
    receiver: str
    status: str  # "firing" or "resolved" (of this alert, not of the group)
    labels: dict[str, str]
    annotations: dict[str, str]
    received_at: float


class WebhookReceiver:
    """HTTP server on 127.0.0.1 and a free port; `url(path)` is what Alertmanager posts to."""

    def __init__(self, on_alert: Callable[[ReceivedAlert], None] | None = None) -> None:
        """`on_alert` (if any) is called with each alert received, e.g. to print it."""
        self._on_alert = on_alert
        self._alerts: list[ReceivedAlert] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                receiver._record(self.path, payload)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook", daemon=True
        )

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/{path.lstrip('/')}"

    def _record(self, path: str, payload: dict[str, Any]) -> None:
        now = time.time()
        received = [
            ReceivedAlert(
                path,
                payload.get("receiver", ""),
                alert.get("status", ""),
                dict(alert.get("labels", {})),
                dict(alert.get("annotations", {})),
                now,
            )
            for alert in payload.get("alerts", [])
        ]
        with self._changed:
            self._alerts.extend(received)
            self._changed.notify_all()
        if self._on_alert is not None:
            for alert in received:
                self._on_alert(alert)

    def alerts(self) -> list[ReceivedAlert]:
        with self._changed:
            return list(self._alerts)

    def wait_for(
        self, predicate: Callable[[ReceivedAlert], bool], timeout: float, what: str
    ) -> ReceivedAlert:
        """The first received alert matching `predicate`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for alert in self._alerts:
                    if predicate(alert):
                        return alert
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted(
                        {(a.labels.get("alertname"), a.labels.get("vault"), a.status) for a in self._alerts},
                        key=str,
                    )
                    raise TimeoutError(f"no notification {what} after {timeout:g}s; received: {seen}")
                self._changed.wait(remaining)
