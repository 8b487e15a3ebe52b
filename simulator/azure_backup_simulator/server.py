"""HTTP plumbing: a threading server on loopback that turns requests into route calls and `Response`s
into bytes, adds ARM's usual headers, counts requests, and never lets a traceback reach a client."""

from __future__ import annotations

import json
import sys
import traceback
import uuid
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from .arm import handle_arm
from .auth import TokenIssuer
from .control import handle_control
from .estate import EstateError
from .responses import Response, arm_error
from .state import SimulatorState

MAX_BODY_BYTES = 1024 * 1024


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], state: SimulatorState) -> None:
        self.state = state
        super().__init__(address, SimulatorHandler)


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms delayed-ACK stall
    server_version = "azure-backup-simulator"
    server: SimulatorServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._dispatch("OPTIONS")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (unknown method, bad request line, oversized headers) in ARM's
        error shape instead of an HTML page."""
        status = HTTPStatus(code)
        body = json.dumps(
            {"error": {"code": status.phrase.replace(" ", ""), "message": message or status.description}}
        ).encode()
        self.close_connection = True
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (signature of the base class)
        """Quiet: a benchmark makes thousands of requests. Errors are still reported on stderr."""

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        counted = True
        try:
            split = urlsplit(self.path)
            segments = [unquote(segment) for segment in split.path.split("/") if segment]
            query = parse_qs(split.query, keep_blank_values=True)
            body = self._read_body()
            if segments[:1] == ["_simulator"]:
                counted = False
                response = handle_control(state, method, segments[1:], self._json(body))
            elif [segment.lower() for segment in segments] == ["msi", "token"]:
                response = self._token(state.issuer, method, query)
            else:
                response = handle_arm(state, method, split.path, segments, query, self.headers)
        except _BadBody as error:
            self.close_connection = True  # the unread rest of the body would be taken for the next request
            response = arm_error(400, "InvalidRequestContent", str(error))
        except Exception:  # a bug must become a 500 for the client, with the traceback on our stderr only
            traceback.print_exc(file=sys.stderr)
            response = arm_error(500, "InternalServerError", "The simulator failed to process the request.")
        if counted:
            state.counter.count(response.route or "unknown", response.status)
        self._send(response)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError as error:
            raise _BadBody("Content-Length is not a number") from error
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BadBody("the request body is too large")
        return self.rfile.read(length)

    def _read_chunked_body(self) -> bytes:
        """A body sent with `Transfer-Encoding: chunked` (curl -T -, requests with a generator)."""
        data = bytearray()
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as error:
                raise _BadBody("the chunked request body is malformed") from error
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailer fields, up to the blank line
                    pass
                return bytes(data)
            if len(data) + size > MAX_BODY_BYTES:
                raise _BadBody("the request body is too large")
            data += self.rfile.read(size)
            self.rfile.readline(1024)

    @staticmethod
    def _json(body: bytes) -> object:
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise _BadBody(f"the body is not valid JSON: {error}") from error

    def _token(self, issuer: TokenIssuer, method: str, query: dict[str, list[str]]) -> Response:
        if method != "GET":
            return Response(405, {"error": "invalid_request", "error_description": "use GET"}, route="token")
        resource = (query.get("resource") or [None])[0]
        try:
            return Response(200, issuer.issue(self.headers.get("X-IDENTITY-HEADER"), resource), route="token")
        except EstateError as error:
            return Response(
                error.status, {"error": error.code, "error_description": error.message}, route="token"
            )

    def _send(self, response: Response) -> None:
        data = response.body()
        request_id = str(uuid.uuid4())
        self.send_response(response.status)
        if response.has_body:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-ms-request-id", request_id)
        self.send_header(
            "x-ms-correlation-request-id", self.headers.get("x-ms-correlation-request-id") or request_id
        )
        client_request_id = self.headers.get("x-ms-client-request-id")
        if client_request_id:
            self.send_header("x-ms-client-request-id", client_request_id)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.send_header("x-ms-routing-request-id", f"WESTEUROPE:{stamp}:{request_id}")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if response.truncated or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data[: len(data) // 2] if response.truncated else data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client went away: nothing left to tell it
            self.close_connection = True


class _BadBody(ValueError):
    pass
