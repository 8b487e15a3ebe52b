"""`--web.config.file`: TLS and basic auth in the Prometheus exporter-toolkit format.

The same YAML file works for this exporter and for node_exporter (and `promtool check web-config`
accepts it): `tls_server_config` (cert_file, key_file, client_ca_file, client_auth_type, min_version,
max_version), `http_server_config` (headers; http2 is accepted and ignored: this server speaks
HTTP/1.1) and `basic_auth_users` (user: bcrypt hash). Relative paths are relative to the file's
directory, as exporter-toolkit does. Keys that exporter-toolkit knows but this exporter cannot honour
(cipher_suites, client_allowed_sans, ...) are refused rather than silently ignored: a file that asks
for a restriction must not run without it.

Python's `ssl` cannot ask for a client certificate without verifying it, so two client_auth_type
values are approximated (see `_VERIFY_MODES`).
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import yaml

OPTION = "--web.config.file"

TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# client_auth_type -> (verify mode, whether client_ca_file is required)
#   RequestClientCert: Go asks for a certificate and never checks it; this exporter ignores an unchecked
#     certificate anyway, so it does not ask (CERT_NONE) unless client_ca_file is set (then CERT_OPTIONAL).
#   RequireAnyClientCert: Go requires any certificate; Python can only require a *verified* one, so
#     client_ca_file is required and the certificate must chain to it (stricter than Go).
_VERIFY_MODES: dict[str, tuple[ssl.VerifyMode, bool]] = {
    "NoClientCert": (ssl.CERT_NONE, False),
    "RequestClientCert": (ssl.CERT_NONE, False),
    "RequireAnyClientCert": (ssl.CERT_REQUIRED, True),
    "RequireClientCert": (ssl.CERT_REQUIRED, True),  # exporter-toolkit's older name of the above
    "VerifyClientCertIfGiven": (ssl.CERT_OPTIONAL, True),
    "RequireAndVerifyClientCert": (ssl.CERT_REQUIRED, True),
}
_TLS_KEYS = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version", "max_version"}
_UNSUPPORTED_TLS_KEYS = {
    "cert",
    "key",
    "client_ca",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
}
# exporter-toolkit allows only these response headers in http_server_config.headers.
_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "X-XSS-Protection",
    "Strict-Transport-Security",
)
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
# Checked when the user is unknown, so that a wrong user name costs as much time as a wrong password.
_DUMMY_HASH = b"$2b$10$YB08gZeCz.D0vtXq1fIUrOPvGUXvHSFRMFyABvr8E/Hao8TydBZxi"
_AUTH_CACHE_SIZE = 1024


class WebConfigError(ValueError):
    """An invalid web config file; `str()` is one line naming the key and the form expected."""


@dataclass(frozen=True)
class TlsSettings:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None
    client_auth_type: str
    min_version: str
    max_version: str

    def context(self) -> ssl.SSLContext:
        """A server-side context; loading the files here is what proves they are a matching pair."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = TLS_VERSIONS[self.min_version]
        context.maximum_version = TLS_VERSIONS[self.max_version]
        context.load_cert_chain(self.cert_file, self.key_file)
        mode, _ = _VERIFY_MODES[self.client_auth_type]
        if self.client_ca_file is not None:
            context.load_verify_locations(cafile=self.client_ca_file)
            if mode == ssl.CERT_NONE:
                mode = ssl.CERT_OPTIONAL
        context.verify_mode = mode
        return context


@dataclass(frozen=True)
class WebConfig:
    """One reading of the file: TLS settings and context (None: plain HTTP), users, extra headers."""

    path: Path
    tls: TlsSettings | None
    ssl_context: ssl.SSLContext | None = field(compare=False)
    users: Mapping[str, bytes]
    headers: tuple[tuple[str, str], ...]

    def files(self) -> tuple[Path, ...]:
        """The files this reading depends on: a change to any of them means reading again."""
        if self.tls is None:
            return (self.path,)
        return tuple(
            p
            for p in (self.path, self.tls.cert_file, self.tls.key_file, self.tls.client_ca_file)
            if p is not None
        )


def _fail(key: str, expected: str, got: Any = None) -> WebConfigError:
    shown = "" if got is None else f", got {got!r}"
    return WebConfigError(f"{OPTION}: {key}: expected {expected}{shown}")


def _mapping(data: Any, key: str, known: set[str], unsupported: set[str] = frozenset()) -> dict[str, Any]:
    """`data` as a mapping of known keys; `key` is its place in the file ("" for the top)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _fail(key or "the file", "a mapping", data)
    for name in data:
        where = f"{key}.{name}" if key else str(name)
        if name in unsupported:
            raise WebConfigError(f"{OPTION}: {where}: not supported by azure-backup-exporter; remove it")
        if name not in known:
            raise WebConfigError(f"{OPTION}: {where}: unknown key; known keys: " + ", ".join(sorted(known)))
    return data


def _file(directory: Path, key: str, value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise _fail(key, "a file name", value)
    path = directory / value
    if not path.is_file():
        raise _fail(key, "a readable file (relative paths are relative to the web config file)", value)
    return path


def _tls(data: Any, directory: Path) -> TlsSettings | None:
    tls = _mapping(data, "tls_server_config", _TLS_KEYS, _UNSUPPORTED_TLS_KEYS)
    if not tls:
        return None
    if not tls.get("cert_file") or not tls.get("key_file"):
        raise _fail("tls_server_config", "both cert_file and key_file")
    auth = tls.get("client_auth_type") or "NoClientCert"
    if auth not in _VERIFY_MODES:
        raise _fail("tls_server_config.client_auth_type", "one of " + ", ".join(_VERIFY_MODES), auth)
    ca = (
        _file(directory, "tls_server_config.client_ca_file", tls["client_ca_file"])
        if tls.get("client_ca_file")
        else None
    )
    if ca is not None and auth == "NoClientCert":
        raise _fail(
            "tls_server_config.client_auth_type",
            "a client auth type other than NoClientCert when client_ca_file is set",
            auth,
        )
    if ca is None and _VERIFY_MODES[auth][1]:
        raise _fail("tls_server_config.client_ca_file", f"a CA file to verify client certificates ({auth})")
    versions = {}
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        versions[key] = tls.get(key) or default
        if versions[key] not in TLS_VERSIONS:
            raise _fail(f"tls_server_config.{key}", "TLS12 or TLS13", versions[key])
    if TLS_VERSIONS[versions["min_version"]] > TLS_VERSIONS[versions["max_version"]]:
        raise _fail(
            "tls_server_config.max_version", "a version not below min_version", versions["max_version"]
        )
    return TlsSettings(
        cert_file=_file(directory, "tls_server_config.cert_file", tls["cert_file"]),
        key_file=_file(directory, "tls_server_config.key_file", tls["key_file"]),
        client_ca_file=ca,
        client_auth_type=auth,
        min_version=versions["min_version"],
        max_version=versions["max_version"],
    )


def _users(data: Any) -> dict[str, bytes]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _fail("basic_auth_users", "a mapping of user name to bcrypt hash", data)
    users = {}
    for user, hashed in data.items():
        if not isinstance(user, str) or not user or ":" in user:
            raise _fail("basic_auth_users", "user names without ':'", user)
        if not isinstance(hashed, str) or not _BCRYPT_HASH.match(hashed):
            # the hash itself is not shown: it is a secret too
            raise _fail(
                f"basic_auth_users.{user}",
                "a bcrypt hash such as $2y$10$... (htpasswd -nBC 10 '' | tr -d ':')",
            )
        users[user] = hashed.encode()
    return users


def _headers(data: Any) -> tuple[tuple[str, str], ...]:
    server = _mapping(data, "http_server_config", {"http2", "headers"})
    headers = server.get("headers") or {}
    if not isinstance(headers, dict):
        raise _fail("http_server_config.headers", "a mapping of header name to value", headers)
    for name, value in headers.items():
        if name not in _HEADERS:
            raise _fail("http_server_config.headers", "one of " + ", ".join(_HEADERS), name)
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            raise _fail(f"http_server_config.headers.{name}", "a one-line string", value)
    return tuple(headers.items())


def load_web_config(path: str | Path) -> WebConfig:
    """Read and validate the file, and build its TLS context; raises `WebConfigError`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise WebConfigError(f"{OPTION}: cannot read {str(path)!r}: {error.strerror}") from None
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        at = f" at line {line + 1}" if line is not None else ""
        raise WebConfigError(f"{OPTION}: {str(path)!r} is not valid YAML{at}") from None
    top = _mapping(data, "", {"tls_server_config", "http_server_config", "basic_auth_users"}, {"rate_limit"})
    tls = _tls(top.get("tls_server_config"), path.resolve().parent)
    try:
        context = tls.context() if tls is not None else None
    except ssl.SSLError as error:
        raise WebConfigError(
            f"{OPTION}: tls_server_config: cannot use the certificate, key or CA: {error.reason or error}"
        ) from None
    return WebConfig(
        path, tls, context, _users(top.get("basic_auth_users")), _headers(top.get("http_server_config"))
    )


class WebSettings:
    """The web config as the server sees it: read again when the file (or a file it names) changes.

    `current()` is called once per connection; a stat of each file is the whole cost while nothing
    changed. A file that became invalid is logged (by the caller, from `last_error`) and the previous
    good reading stays in force, so a typo during an edit does not take the exporter off the air.
    """

    def __init__(self, config: WebConfig) -> None:
        self._config = config
        self._stamp = self._stamps(config)
        self._lock = threading.Lock()
        self._granted: dict[bytes, None] = {}
        self.last_error: str | None = None

    @staticmethod
    def _stamps(config: WebConfig) -> tuple[tuple[int, int], ...]:
        stamps = []
        for path in config.files():
            try:
                info = os.stat(path)
            except OSError:
                stamps.append((-1, -1))
            else:
                stamps.append((info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def current(self) -> tuple[WebConfig, str | None]:
        """The config in force, and a new error message if reading a changed file just failed."""
        with self._lock:
            stamp = self._stamps(self._config)
            if stamp == self._stamp:
                return self._config, None
            self._stamp = stamp
            try:
                self._config = load_web_config(self._config.path)
            except WebConfigError as error:
                self.last_error = str(error)
                return self._config, self.last_error
            self._stamp = self._stamps(self._config)
            self.last_error = None
            return self._config, None

    def authorised(self, config: WebConfig, user: str, password: str) -> bool:
        """bcrypt check of one user's password; a success is remembered (bcrypt costs ~0.1 s of CPU)."""
        hashed = config.users.get(user)
        key = hashlib.sha256(b"\0".join((user.encode(), hashed or b"", password.encode()))).digest()
        if hashed is not None and key in self._granted:
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed or _DUMMY_HASH) and hashed is not None
        except ValueError:
            ok = False
        if ok:
            with self._lock:
                if len(self._granted) >= _AUTH_CACHE_SIZE:
                    self._granted.clear()
                self._granted[key] = None
        return ok
