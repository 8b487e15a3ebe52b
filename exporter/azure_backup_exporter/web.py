"""The HTTP face of the exporter: `/` landing page, `/metrics`, `/healthz`.

A plain WSGI app (prometheus_client's handles content negotiation and gzip) served by wsgiref,
one thread per request. The scrape's budget comes from Prometheus' `X-Prometheus-Scrape-Timeout-Seconds`
minus a margin. `make_server` takes an optional `ssl.SSLContext`, and the app can be wrapped by an
authentication middleware, so TLS and basic auth can be added without touching the rest.
"""

from __future__ import annotations

import html
import logging
import ssl
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as wsgiref_make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from . import __version__
from .budget import scrape_budget

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_HEADER = "HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS"
# Kept for rendering and the transfer: 0.5 s, or a quarter of very short timeouts.
BUDGET_MARGIN_SECONDS = 0.5
BUDGET_MARGIN_SHARE = 0.25

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_LANDING = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Azure Backup Exporter</title></head>
<body><h1>Azure Backup Exporter</h1><p>Version {version}</p>
<ul><li><a href="metrics">Metrics</a></li><li><a href="healthz">Health</a></li></ul></body></html>
"""


def budget_from(environ: dict[str, Any]) -> float | None:
    """Seconds a scrape may spend refreshing, from the header Prometheus sends (None if absent)."""
    raw = environ.get(SCRAPE_TIMEOUT_HEADER)
    try:
        timeout = float(raw) if raw else None
    except ValueError:
        return None
    if timeout is None or timeout <= 0:
        return None
    return timeout - min(BUDGET_MARGIN_SECONDS, BUDGET_MARGIN_SHARE * timeout)


def build_app(registry: CollectorRegistry) -> WsgiApp:
    metrics_app = make_wsgi_app(registry)
    landing = _LANDING.format(version=html.escape(__version__)).encode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            with scrape_budget(budget_from(environ)):
                return list(metrics_app(environ, start_response))
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if path in ("/", ""):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [landing]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found\n"]

    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _IPv6ThreadingServer(_ThreadingServer):
    import socket

    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("%s - %s", self.address_string(), format % args)


def make_server(app: WsgiApp, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> WSGIServer:
    """A listening server (port 0 picks a free one: read `server.server_port`)."""
    server_class = _IPv6ThreadingServer if ":" in host else _ThreadingServer
    server = wsgiref_make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    return server


def serve_in_thread(server: WSGIServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="web", daemon=True)
    thread.start()
    return thread
