"""Configuration: file < environment < flags, and one-line errors with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from azure_backup_exporter.config import ConfigError, load_config, parse_prometheus_duration

VAULT = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
    "/providers/Microsoft.RecoveryServices/vaults/v1"
)


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_BACKUP_EXPORTER_")}
    clean.update(env or {})
    return subprocess.run(
        [str(Path(sys.executable).with_name("azure-backup-exporter")), "serve", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--vault", "/subscriptions/x/vaults/v"], {}, "--vault: expected /subscriptions/<id>/"),
        (["--vault", VAULT, "--lookback", "7 days"], {}, "--lookback: expected a Prometheus duration"),
        (["--vault", VAULT, "--cloud", "mars"], {}, "--cloud: expected one of public, usgov, china"),
        (
            [],
            {"AZURE_BACKUP_EXPORTER_CLOUD": "mars", "AZURE_BACKUP_EXPORTER_VAULT": VAULT},
            "--cloud (from AZURE_BACKUP_EXPORTER_CLOUD): expected one of",
        ),
        (
            ["--vault", VAULT, "--arm-endpoint", "http://example.com"],
            {},
            "--arm-endpoint: expected an https://",
        ),
        (["--vault", VAULT, "--web.listen-address", "nope"], {}, "--web.listen-address: expected HOST:PORT"),
        ([], {}, "--vault or --subscription: expected at least one"),
        (["--subscription", "not-a-guid"], {}, "--subscription: expected a subscription id (a GUID)"),
        (
            ["--vault", VAULT, "--arm-endpoint", "https://admin:s3cret@arm.example.com"],
            {},
            "--arm-endpoint: expected an https:// URL",
        ),
    ],
)
def test_bad_configuration_exits_2_with_one_line(args: list[str], env: dict[str, str], named: str) -> None:
    result = run_serve(*args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yml"
    config_file.write_text(
        f"vaults:\n  - {VAULT}\n  - id: {VAULT.replace('v1', 'v2')}\n    lookback: 2d\n"
        "lookback: 3d\nmin-refresh-interval: 1m\nmax-concurrency: 3\ncloud: usgov\n"
    )
    env = {"AZURE_BACKUP_EXPORTER_LOOKBACK": "4d", "AZURE_BACKUP_EXPORTER_MAX_CONCURRENCY": "5"}
    config = load_config({"config.file": str(config_file), "max-concurrency": "7"}, env)
    assert config.lookback_seconds == 4 * 86400  # env beats file
    assert config.max_concurrency == 7  # flag beats env
    assert config.min_refresh_interval_seconds == 60  # file beats default
    assert config.arm_endpoint == "https://management.usgovcloudapi.net"
    assert config.token_scope == "https://management.usgovcloudapi.net/.default"
    assert [v.vault.name for v in config.vaults] == ["v1", "v2"]
    assert [v.lookback_seconds for v in config.vaults] == [None, 2 * 86400]


def test_unknown_file_key_is_named(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yml"
    config_file.write_text("lookbak: 3d\n")
    with pytest.raises(ConfigError, match="unknown key 'lookbak'"):
        load_config({"config.file": str(config_file)}, {})


def test_defaults_and_listen_addresses() -> None:
    config = load_config({"subscription": ["00000000-0000-0000-0000-000000000001"]}, {})
    assert (config.listen_host, config.listen_port) == ("", 10091)
    assert config.lookback_seconds == 7 * 86400 and config.arm_endpoint == "https://management.azure.com"
    v6 = load_config({"vault": [VAULT], "web.listen-address": "[::1]:10100"}, {})
    assert (v6.listen_host, v6.listen_port) == ("::1", 10100)
    loopback = load_config({"vault": [VAULT], "arm-endpoint": "http://127.0.0.1:8080/"}, {})
    assert loopback.arm_endpoint == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("24h", 86400),
        ("7d", 604800),
        ("1h30m", 5400),
        ("0s", 0),
        ("0", 0),
        ("500ms", 0.5),
        ("1w", 604800),
    ],
)
def test_prometheus_durations(text: str, seconds: float) -> None:
    assert parse_prometheus_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "7 d", "1d2w", "-1h", "1.5h"])
def test_bad_prometheus_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_prometheus_duration(text)


def test_check_validates_without_serving(tmp_path: Path) -> None:
    config_file = tmp_path / "config.yml"
    config_file.write_text(f"vaults: [{VAULT}]\nlookback: 2d\n")
    command = str(Path(sys.executable).with_name("azure-backup-exporter"))
    good = subprocess.run(
        [command, "check", "--config.file", str(config_file)], capture_output=True, text=True
    )
    assert good.returncode == 0 and "1 vault(s)" in good.stdout and "lookback 172800s" in good.stdout
    bad = subprocess.run([command, "check", "--vault", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--vault" in bad.stderr
