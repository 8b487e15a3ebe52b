"""The one `Config` of the exporter: YAML file < `AZURE_BACKUP_EXPORTER_*` environment < flags.

Every option has one name (the flag without `--`), used as the YAML key and, upper-cased with `.`
and `-` turned into `_`, as the environment variable. Validation raises `ConfigError`, whose message
names the option, where its value came from and the form expected: the CLI prints it on one line
and exits with status 2.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from .azure.clouds import CLOUDS
from .jobs import VaultRef
from .logs import LOG_FORMATS
from .webconfig import WebConfig, WebConfigError, load_web_config

ENV_PREFIX = "AZURE_BACKUP_EXPORTER_"
DEFAULT_PORT = 10091


@dataclass(frozen=True)
class Option:
    default: Any
    help: str
    multiple: bool = False


OPTIONS: dict[str, Option] = {
    "config.file": Option(None, "YAML file holding any of these options (keys are the option names)."),
    "web.listen-address": Option(f":{DEFAULT_PORT}", "HOST:PORT where /metrics is served."),
    "web.telemetry-path": Option("/metrics", "Path under which the metrics are served."),
    "web.config.file": Option(
        None, "Prometheus exporter-toolkit web config (TLS, basic auth); read again when it changes."
    ),
    "web.max-connections": Option(64, "Connections served at once; one more is answered 503."),
    "web.connection-timeout": Option(
        "30s", "A client must send its request within this time, and read the answer in as long."
    ),
    "vault": Option((), "Resource id of a vault to collect (repeatable).", multiple=True),
    "subscription": Option((), "Collect every vault of this subscription (repeatable).", multiple=True),
    "cloud": Option("public", "Azure cloud: " + ", ".join(CLOUDS) + "."),
    "arm-endpoint": Option(None, "Another ARM endpoint; plain http:// only to a loopback address."),
    "lookback": Option("7d", "How far back jobs are read (Prometheus duration)."),
    "min-refresh-interval": Option(
        "30s", "A scrape sooner than this after the last refresh reuses it; 0s refreshes every scrape."
    ),
    "max-concurrency": Option(8, "Vaults refreshed at the same time."),
    "vault-list-interval": Option(
        "30m",
        "How often the vaults of --subscription are listed, and each vault's policies and settings read.",
    ),
    "inventory-interval": Option(
        "15m", "How often each vault's protected items are read; 0s does not read the inventory."
    ),
    "scrape-timeout": Option(
        "10s",
        "Time budget of a refresh when Prometheus sends no X-Prometheus-Scrape-Timeout-Seconds, "
        "and the most it may ask for.",
    ),
    "detail-fetch-budget": Option(20, "Job details (for backup sizes) fetched per vault per refresh."),
    "shard.index": Option(
        0, "This replica's shard, 0 to --shard.count minus 1 (kube-state-metrics' --shard)."
    ),
    "shard.count": Option(
        1, "Replicas sharing the vaults, each collecting those whose id hashes to its shard (--total-shards)."
    ),
    "log.level": Option("info", "debug, info, warning or error."),
    "log.format": Option("logfmt", "logfmt or json: one line per event with time, level and the vault."),
}

_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m(?!s))?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)
_DURATION_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_SUBSCRIPTION = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
LOG_LEVELS = ("debug", "info", "warning", "error")
# the web server's own paths, which the metrics path may not take
RESERVED_PATHS = ("/", "/healthz", "/-/healthy", "/-/ready")


class ConfigError(ValueError):
    """An invalid option; `str()` is the one line shown to the user."""


def env_name(option: str) -> str:
    return ENV_PREFIX + re.sub(r"[.-]", "_", option).upper()


def parse_prometheus_duration(text: str) -> float:
    """Seconds in a Prometheus duration (`30m`, `24h`, `7d`, `1h30m`, `0s`, `0`)."""
    value = text.strip()
    if value == "0":
        return 0.0
    match = _DURATION.match(value)
    if not value or not match or not any(match.groupdict().values()):
        raise ValueError(value)
    return float(sum(int(n) * _DURATION_UNITS[unit] for unit, n in match.groupdict().items() if n))


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class VaultConfig:
    vault: VaultRef
    lookback_seconds: float | None = None  # None: the global --lookback


@dataclass(frozen=True)
class Config:
    listen_host: str
    listen_port: int
    vaults: tuple[VaultConfig, ...]
    subscriptions: tuple[str, ...]
    cloud: str
    arm_endpoint: str
    token_scope: str
    lookback_seconds: float
    min_refresh_interval_seconds: float
    max_concurrency: int
    shard_index: int
    shard_count: int
    vault_list_interval_seconds: float
    inventory_interval_seconds: float
    scrape_timeout_seconds: float
    detail_fetch_budget: int
    log_level: str
    web_config: WebConfig | None = None
    max_connections: int = 64
    connection_timeout_seconds: float = 30.0
    log_format: str = "logfmt"
    telemetry_path: str = "/metrics"


class _Sources:
    """Each option's raw value and where it came from, later sources winning."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[Any, str]] = {
            name: (option.default, "default") for name, option in OPTIONS.items()
        }

    def set(self, name: str, value: Any, origin: str) -> None:
        if value is None or (OPTIONS[name].multiple and value in ((), [])):
            return
        self.values[name] = (value, origin)

    def error(self, name: str, expected: str, got: Any = None) -> ConfigError:
        """The option's error; `got` names one bad item of a repeatable option instead of its whole value."""
        value, origin = self.values[name]
        if got is not None:
            value = got
        where = "" if origin in ("flag", "default") else f" (from {origin})"
        shown = value if isinstance(value, str) else repr(value)
        return ConfigError(f"--{name}{where}: expected {expected}, got {shown!r}")


def _read_file(path: str, sources: _Sources) -> None:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"--config.file: cannot read {path!r}: {error.strerror}") from None
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        at = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"--config.file: {path!r} is not valid YAML{at}") from None
    if data is None:
        return
    if not isinstance(data, dict):
        raise ConfigError(f"--config.file: expected a YAML mapping of option names in {path!r}")
    aliases = {"vaults": "vault", "subscriptions": "subscription"}
    for key, value in data.items():
        name = aliases.get(str(key), str(key))
        if name not in OPTIONS or name == "config.file":
            known = ", ".join(n for n in OPTIONS if n != "config.file")
            raise ConfigError(f"--config.file: unknown key {key!r} in {path!r}; known keys: {known}")
        if OPTIONS[name].multiple and not isinstance(value, list):
            value = [value]
        sources.set(name, value, f"{path}")


def _read_env(environ: Mapping[str, str], sources: _Sources) -> None:
    for name, option in OPTIONS.items():
        value = environ.get(env_name(name))
        if value is None or value.strip() == "":
            continue
        parsed: Any = [part for part in re.split(r"[\s,]+", value) if part] if option.multiple else value
        sources.set(name, parsed, env_name(name))


def load_config(flags: Mapping[str, Any], environ: Mapping[str, str], require_vaults: bool = True) -> Config:
    """Merge the sources and validate; raises `ConfigError` naming the first bad option."""
    sources = _Sources()
    config_file = flags.get("config.file") or environ.get(env_name("config.file"))
    if config_file:
        _read_file(config_file, sources)
    _read_env(environ, sources)
    for name, value in flags.items():
        if name in OPTIONS:
            sources.set(name, value, "flag")
    return _validate(sources, require_vaults)


def _duration(sources: _Sources, name: str, minimum: float = 0.0) -> float:
    value = sources.values[name][0]
    try:
        seconds = parse_prometheus_duration(str(value))
    except ValueError:
        raise sources.error(name, "a Prometheus duration such as 30s, 5m, 24h or 7d") from None
    if seconds < minimum:
        raise sources.error(name, f"a duration of at least {minimum:g}s")
    return seconds


def _integer(sources: _Sources, name: str, minimum: int) -> int:
    value = sources.values[name][0]
    try:
        number = int(str(value).strip())
    except ValueError:
        raise sources.error(name, f"a whole number >= {minimum}") from None
    if number < minimum:
        raise sources.error(name, f"a whole number >= {minimum}")
    return number


def _listen_address(sources: _Sources) -> tuple[str, int]:
    value = str(sources.values["web.listen-address"][0]).strip()
    match = re.match(r"^(?:\[(?P<v6>[^\]]*)\]|(?P<host>[^:\[\]]*)):(?P<port>\d{1,5})$", value)
    if not match or int(match["port"]) > 65535:
        raise sources.error("web.listen-address", "HOST:PORT such as :10091, 127.0.0.1:10091 or [::]:10091")
    host = match["v6"] if match["v6"] is not None else match["host"]
    return host, int(match["port"])


def _vaults(sources: _Sources) -> tuple[VaultConfig, ...]:
    expected = "/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.RecoveryServices/vaults/<name>"
    vaults = []
    for entry in sources.values["vault"][0]:
        resource_id, lookback = entry, None
        if isinstance(entry, dict):
            resource_id = entry.get("id")
            unknown = set(entry) - {"id", "lookback"}
            if unknown or not isinstance(resource_id, str):
                raise sources.error(
                    "vault", f"a resource id, or a mapping with keys id and lookback ({expected})"
                )
            if entry.get("lookback") is not None:
                try:
                    lookback = parse_prometheus_duration(str(entry["lookback"]))
                except ValueError:
                    raise sources.error(
                        "vault", "a lookback such as 24h or 7d for vault " + resource_id
                    ) from None
        try:
            vaults.append(VaultConfig(VaultRef.parse(str(resource_id)), lookback))
        except ValueError:
            raise sources.error("vault", expected, got=str(resource_id)) from None
    return tuple(vaults)


def _arm_endpoint(sources: _Sources, cloud: str) -> str:
    value = sources.values["arm-endpoint"][0]
    if value is None:
        return CLOUDS[cloud].arm_endpoint
    text = str(value).strip()
    parts = urlsplit(text)
    shown = _without_userinfo(text)  # errors never echo a user:password
    expected = "an https:// URL, or http:// to a loopback address (127.0.0.1, ::1, localhost)"
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise sources.error("arm-endpoint", expected, got=shown)
    if parts.username is not None or parts.password is not None:
        raise sources.error(
            "arm-endpoint", expected + ", without user:password (a bearer token authenticates)", got=shown
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise sources.error(
            "arm-endpoint", expected + " (a bearer token travels with each request)", got=shown
        )
    return text.rstrip("/")


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _telemetry_path(sources: _Sources) -> str:
    path = str(sources.values["web.telemetry-path"][0]).strip()
    if not re.match(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$", path) or path in RESERVED_PATHS:
        raise sources.error(
            "web.telemetry-path",
            "a URL path starting with / such as /metrics, other than " + ", ".join(RESERVED_PATHS),
        )
    return path


def _web_config(sources: _Sources) -> WebConfig | None:
    path = sources.values["web.config.file"][0]
    if path is None or str(path).strip() == "":
        return None
    try:
        return load_web_config(str(path).strip())
    except WebConfigError as error:
        raise ConfigError(str(error)) from None


def _validate(sources: _Sources, require_vaults: bool) -> Config:
    host, port = _listen_address(sources)
    cloud = str(sources.values["cloud"][0]).strip().lower()
    if cloud not in CLOUDS:
        raise sources.error("cloud", "one of " + ", ".join(CLOUDS))
    vaults = _vaults(sources)
    subscriptions = tuple(str(s).strip() for s in sources.values["subscription"][0])
    for subscription in subscriptions:
        if not _SUBSCRIPTION.match(subscription):
            raise sources.error("subscription", "a subscription id (a GUID)", got=subscription)
    log_level = str(sources.values["log.level"][0]).strip().lower()
    if log_level not in LOG_LEVELS:
        raise sources.error("log.level", "one of " + ", ".join(LOG_LEVELS))
    log_format = str(sources.values["log.format"][0]).strip().lower()
    if log_format not in LOG_FORMATS:
        raise sources.error("log.format", "one of " + ", ".join(LOG_FORMATS))
    shard_count = _integer(sources, "shard.count", 1)
    shard_index = _integer(sources, "shard.index", 0)
    if shard_index >= shard_count:
        raise sources.error(
            "shard.index", f"a shard from 0 to {shard_count - 1} (--shard.count {shard_count})"
        )
    config = Config(
        listen_host=host,
        listen_port=port,
        vaults=vaults,
        subscriptions=subscriptions,
        cloud=cloud,
        arm_endpoint=_arm_endpoint(sources, cloud),
        token_scope=CLOUDS[cloud].token_scope,
        lookback_seconds=_duration(sources, "lookback", minimum=60),
        min_refresh_interval_seconds=_duration(sources, "min-refresh-interval"),
        max_concurrency=_integer(sources, "max-concurrency", 1),
        vault_list_interval_seconds=_duration(sources, "vault-list-interval", minimum=1),
        inventory_interval_seconds=_duration(sources, "inventory-interval"),
        scrape_timeout_seconds=_duration(sources, "scrape-timeout", minimum=1),
        detail_fetch_budget=_integer(sources, "detail-fetch-budget", 0),
        shard_index=shard_index,
        shard_count=shard_count,
        log_level=log_level,
        web_config=_web_config(sources),
        max_connections=_integer(sources, "web.max-connections", 1),
        connection_timeout_seconds=_duration(sources, "web.connection-timeout", minimum=1),
        log_format=log_format,
        telemetry_path=_telemetry_path(sources),
    )
    if require_vaults and not vaults and not subscriptions:
        raise ConfigError(
            "--vault or --subscription: expected at least one vault resource id or subscription id"
        )
    return config
