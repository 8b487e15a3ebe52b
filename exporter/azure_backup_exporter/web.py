"""The HTTP face of the exporter: `/` landing page, `/metrics`, health and readiness, GET and HEAD only.

`/-/healthy` (and `/healthz`, kept for those who probe it) answers 200 while the process serves: it is the
liveness probe. `/-/ready` answers 503 until every vault has finished one refresh (`readiness.py`), then 200.
The metrics path is `--web.telemetry-path`.

A plain WSGI app (prometheus_client's handles content negotiation and gzip) served by wsgiref,
one thread per connection and one request per connection. The server is what an exporter facing a
hostile network needs and wsgiref lacks:

- a limit on concurrent connections: one more is answered 503 at once (closed, under TLS) instead of
  holding a thread, so idle sockets cannot exhaust threads or file descriptors;
- a connection timeout: the request must arrive within it (a client trickling bytes cannot hold a
  thread), and each later write may wait that long for the client;
- TLS and basic auth from `--web.config.file` (`webconfig`), the TLS handshake done in the
  connection's thread, never in the accepting one.

The scrape's budget comes from Prometheus' `X-Prometheus-Scrape-Timeout-Seconds` minus a margin,
capped by `--scrape-timeout`: a header is a request, not a right to hold the refresh for an hour.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import html
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, make_wsgi_app

from . import __version__
from .budget import scrape_budget
from .webconfig import WebConfig, WebSettings

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_HEADER = "HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS"
# Kept for rendering and the transfer: 0.5 s, or a quarter of very short timeouts.
BUDGET_MARGIN_SECONDS = 0.5
BUDGET_MARGIN_SHARE = 0.25
ALLOWED_METHODS = ("GET", "HEAD")
REALM = "azure-backup-exporter"
_WEB_CONFIG_KEY = "azure_backup_exporter.web_config"
_MAX_REQUEST_LINE = 65536
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Connection: close\r\nContent-Length: 30\r\n\r\ntoo many connections, retry.\r\n"
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_LANDING = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Azure Backup Exporter</title></head>
<body><h1>Azure Backup Exporter</h1><p>Version {version}</p>
<ul><li><a href="{metrics}">Metrics</a></li><li><a href="-/healthy">Health</a></li>
<li><a href="-/ready">Readiness</a></li></ul></body></html>
"""


def budget_from(environ: dict[str, Any], cap: float | None = None) -> float | None:
    """Seconds a scrape may spend refreshing, from the header Prometheus sends, at most `cap`.

    None (the collector's default budget) when the header is absent or not a finite positive number.
    """
    raw = environ.get(SCRAPE_TIMEOUT_HEADER)
    try:
        timeout = float(raw) if raw else None
    except ValueError:
        return None
    if timeout is None or not math.isfinite(timeout) or timeout <= 0:
        return None
    budget = timeout - min(BUDGET_MARGIN_SECONDS, BUDGET_MARGIN_SHARE * timeout)
    return budget if cap is None else min(budget, cap)


def _text(
    start_response: Callable[..., Any], status: str, body: str, *headers: tuple[str, str]
) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *headers])
    return [body.encode()]


def build_app(
    registry: CollectorRegistry,
    scrape_timeout: float | None = None,
    *,
    telemetry_path: str = "/metrics",
    ready: Callable[[], bool] = lambda: True,
    exposition: Callable[[str], tuple[bytes, str]] | None = None,
) -> WsgiApp:
    """The routes; `scrape_timeout` caps the budget a scrape's header may ask for.

    `exposition(accept)`: the metrics body and its content type (`exposition.Exposition.body`, which
    keeps what did not change); without it, the registry's own app.
    """
    metrics_app = make_wsgi_app(registry)
    landing = _LANDING.format(
        version=html.escape(__version__), metrics=html.escape(telemetry_path.lstrip("/"))
    ).encode()

    def metrics(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with scrape_budget(budget_from(environ, scrape_timeout)):
            if exposition is None:
                return list(metrics_app({**environ, "REQUEST_METHOD": "GET"}, start_response))
            body, content_type = exposition(environ.get("HTTP_ACCEPT", ""))
        headers = [("Content-Type", content_type)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            # level 1: a tenth of level 9's CPU on a large exposition, which compresses tenfold anyway
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def health(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        return _text(start_response, "200 OK", "ok\n")

    def readiness(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if ready():
            return _text(start_response, "200 OK", "ready\n")
        return _text(
            start_response, "503 Service Unavailable", "not ready: not every vault refreshed once yet\n"
        )

    def index(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [landing]

    routes = {
        "/healthz": health,
        "/-/healthy": health,
        "/-/ready": readiness,
        "/": index,
        "": index,
        telemetry_path: metrics,
    }

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = routes.get(environ.get("PATH_INFO", "/"))
        if route is None:
            return _text(start_response, "404 Not Found", "not found\n")
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ALLOWED_METHODS:
            return _text(
                start_response,
                "405 Method Not Allowed",
                f"{method} not allowed; use GET or HEAD\n",
                ("Allow", ", ".join(ALLOWED_METHODS)),
            )
        if method == "GET":
            return route(environ, start_response)
        captured: list[Any] = []
        body = b"".join(route(environ, lambda status, headers, *exc: captured.append((status, headers))))
        status, headers = captured[0]
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return []

    return app


def with_web_config(app: WsgiApp, settings: WebSettings) -> WsgiApp:
    """Basic auth (when the file has users) and the file's extra response headers around `app`."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        config: WebConfig = environ[_WEB_CONFIG_KEY]

        def respond(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, [*headers, *config.headers], *exc)

        if config.users and not _authorised(settings, config, environ.get("HTTP_AUTHORIZATION", "")):
            return _text(
                respond,
                "401 Unauthorized",
                "unauthorized\n",
                ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'),
            )
        return app(environ, respond)

    return guarded


def _authorised(settings: WebSettings, config: WebConfig, header: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return bool(colon) and settings.authorised(config, user, password)


class _DeadlineReader:
    """The request's input, read from the socket against a deadline for the whole request.

    A per-read socket timeout alone lets a client send a byte every few seconds and keep the
    connection (and its thread) forever; here every read waits only for what is left of the deadline.
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._deadline = time.monotonic() + seconds
        self._buffer = b""

    def _fill(self) -> bool:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request was not received within the connection timeout")
        self._sock.settimeout(remaining)
        chunk = self._sock.recv(8192)
        self._buffer += chunk
        return bool(chunk)

    def readline(self, limit: int = -1) -> bytes:
        while b"\n" not in self._buffer and (limit < 0 or len(self._buffer) < limit) and self._fill():
            pass
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if limit >= 0:
            end = min(end, limit)
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    def read(self, size: int = -1) -> bytes:
        while (size < 0 or len(self._buffer) < size) and self._fill():
            pass
        end = len(self._buffer) if size < 0 else size
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def close(self) -> None:
        self._buffer = b""


class _Handler(WSGIRequestHandler):
    """One request per connection, read against the connection timeout; access log at debug level."""

    server: ExporterServer
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall between

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.rfile = _DeadlineReader(self.connection, self.server.connection_timeout)  # type: ignore[assignment]

    def handle(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(_MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > _MAX_REQUEST_LINE:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline or not self.parse_request():
                return
        except OSError as error:  # TimeoutError included: a client too slow to send its request
            log.debug("%s: request not read: %s", self.address_string(), error)
            return
        self.connection.settimeout(self.server.connection_timeout)
        environ = self.get_environ()
        environ[_WEB_CONFIG_KEY] = self.server.connection_config()
        handler = ServerHandler(self.rfile, self.wfile, self.get_stderr(), environ, multithread=False)
        handler.request_handler = self
        handler.run(self.server.get_app())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("%s - %s", self.address_string(), format % args)


class ExporterServer(ThreadingMixIn, WSGIServer):
    """wsgiref's threaded server plus the connection limit, the timeout, and TLS per connection."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        family: socket.AddressFamily,
        max_connections: int,
        connection_timeout: float,
        settings: WebSettings | None,
    ) -> None:
        self.address_family = family
        self.max_connections = max_connections
        self.connection_timeout = connection_timeout
        self.settings = settings
        self._active = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()
        super().__init__(address, _Handler)

    @property
    def tls(self) -> bool:
        return self.settings is not None and self.settings.current()[0].ssl_context is not None

    @property
    def basic_auth(self) -> bool:
        return self.settings is not None and bool(self.settings.current()[0].users)

    def connection_config(self) -> WebConfig | None:
        return getattr(self._local, "config", None)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            full = self._active >= self.max_connections
            if not full:
                self._active += 1
        if full:
            log.debug("%s: refused, %d connections open", client_address[0], self.max_connections)
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def _refuse(self, request: socket.socket) -> None:
        """503 without a thread; never blocks the accepting thread (under TLS: closed, no handshake)."""
        try:
            if not self.tls:
                request.setblocking(False)
                request.send(_BUSY)
        except OSError:
            pass
        self.shutdown_request(request)

    def _release(self) -> None:
        with self._count_lock:
            self._active -= 1

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.connection_timeout)
        config = None
        if self.settings is not None:
            config, error = self.settings.current()
            if error:
                log.error("%s; still using the previous reading of the file", error)
        self._local.config = config
        if config is None or config.ssl_context is None:
            super().finish_request(request, client_address)
            return
        # wrap_socket takes the descriptor over: from here on only `secure` can close it
        secure = config.ssl_context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            secure.do_handshake()
        except (OSError, ValueError) as error:
            log.debug("%s: TLS handshake failed: %s", client_address[0], error)
            secure.close()
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            secure.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("%s: connection failed", client_address[0], exc_info=True)


def make_server(
    app: WsgiApp,
    host: str,
    port: int,
    *,
    max_connections: int = 64,
    connection_timeout: float = 30.0,
    settings: WebSettings | None = None,
) -> ExporterServer:
    """A listening server (port 0 picks a free one: read `server.server_port`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if settings is not None:
        app = with_web_config(app, settings)
    server = ExporterServer(
        (host, port),
        family=family,
        max_connections=max_connections,
        connection_timeout=connection_timeout,
        settings=settings,
    )
    server.set_app(app)
    return server


def serve_in_thread(server: WSGIServer) -> threading.Thread:
    # polled every 0.1 s for shutdown (the default 0.5 s made every stop wait up to half a second)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="web", daemon=True
    )
    thread.start()
    return thread
