"""Log lines as operators of Prometheus' own tools read them: logfmt (the default) or JSON, one per line.

Every line carries `time` (RFC 3339, UTC, milliseconds), `level`, `logger` and `msg`. A line about one
vault carries `vault=<resource id>` as a field of its own (and one about a subscription,
`subscription=<id>`), so that one vault's lines are found by a field, not by parsing prose. The modules
keep logging `"vault %s: ..."` with the vault as first argument: the formatter lifts it into the field and
drops the prefix from `msg`, so no call site has to know the output format.

Stdlib only: both formats are a few lines over `json.dumps`, which also gives logfmt its quoting.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOG_FORMATS = ("logfmt", "json")
# Prometheus' tools write `warn`, not `warning`
_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error", "CRITICAL": "error"}
_SUBJECTS = (("vault", "vault %s: "), ("subscription", "subscription %s: "))


def record_fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, str]:
    """The fields of one line, in the order they are written."""
    seconds = time.gmtime(record.created)
    fields = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", seconds) + f".{int(record.msecs):03d}Z",
        "level": _LEVELS.get(record.levelname, record.levelname.lower()),
        "logger": record.name,
    }
    message: Any = record.msg
    args: Any = record.args
    if isinstance(message, str) and isinstance(args, tuple) and args:
        for key, prefix in _SUBJECTS:
            if message.startswith(prefix):
                fields[key] = str(args[0])
                message, args = message[len(prefix) :], args[1:]
                break
    fields["msg"] = str(message) % args if args else str(message)
    if record.exc_info:
        fields["exception"] = formatter.formatException(record.exc_info)
    return fields


class LogfmtFormatter(logging.Formatter):
    """`time=... level=info logger=... vault=... msg="..."`: bare values when safe, else quoted."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in record_fields(record, self).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the same fields as logfmt."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record, self), ensure_ascii=False)


def _logfmt_value(value: str) -> str:
    if value and value.isprintable() and not any(c in value for c in ' ="\\'):
        return value
    return json.dumps(value, ensure_ascii=False)


def handler(log_format: str) -> logging.Handler:
    """A stderr handler writing `log_format` (one of LOG_FORMATS)."""
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(JsonFormatter() if log_format == "json" else LogfmtFormatter())
    return stream
