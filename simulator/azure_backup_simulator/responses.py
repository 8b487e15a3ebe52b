"""An HTTP answer as data, so routes stay free of socket code, and the ARM error body shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Response:
    """What to send: status, JSON payload (or none), extra headers, and the route name it is counted under."""

    status: int
    payload: object = None
    headers: dict[str, str] = field(default_factory=dict)
    route: str | None = None
    malformed: bool = False
    """Send the first half of the JSON only (invalid JSON, correct Content-Length)."""
    truncated: bool = False
    """Announce the whole body's length but send half of it, then close the connection."""
    raw: bytes | None = None
    """Pre-serialised JSON, sent instead of `payload` (list pages assembled from cached jobs)."""

    @property
    def has_body(self) -> bool:
        return self.payload is not None or self.raw is not None

    def body(self) -> bytes:
        if not self.has_body:
            return b""
        data = self.raw if self.raw is not None else json.dumps(self.payload, separators=(",", ":")).encode()
        if self.malformed:
            return data[: max(1, len(data) // 2)]
        return data


def arm_error(
    status: int, code: str, message: str, route: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """ARM's CloudError body: `{"error": {"code", "message"}}`."""
    return Response(status, {"error": {"code": code, "message": message}}, dict(headers or {}), route)
