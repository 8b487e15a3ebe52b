"""`--web.config.file`: TLS, mutual TLS and basic auth with real clients, and one-line errors.

Each test generates its own CA and certificates (`certs.Authority`) and talks to a running exporter
with `requests`, as Prometheus would over HTTPS.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import bcrypt
import pytest
import requests
from azure_backup_exporter.service import Exporter

from .certs import Authority
from .harness import Sim
from .test_config import VAULT

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "web-config.example.yml"
EXAMPLE_PASSWORD = "example-password"
COMMAND = str(Path(sys.executable).with_name("azure-backup-exporter"))


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool not found on PATH: install Debian 'prometheus' (or run 'make tools')")
    return found


def fast_hash(password: str) -> str:
    """A bcrypt hash of low cost: the check is the same, the test is not slowed by 0.1 s per try."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


@pytest.fixture
def vault_exporter(
    start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> Callable[[Path], Exporter]:
    sim = start_sim(vaults=0)
    vault = sim.add_vault("rsv-tls")

    def start(web_config: Path) -> Exporter:
        flags = {"web.config.file": str(web_config)}
        return start_exporter(sim, vaults=[vault], detail_fetch_budget="0", **flags)

    return start


def test_the_example_file_passes_promtool_and_serves_mutual_tls_with_basic_auth(
    tmp_path: Path, vault_exporter: Callable[[Path], Exporter], caplog: pytest.LogCaptureFixture
) -> None:
    ca = Authority(tmp_path)
    server = ca.issue("server", server=True)
    client = ca.issue("client", server=False)
    assert (server.cert.name, server.key.name, ca.pair.cert.name) == ("server.crt", "server.key", "ca.crt")
    web_config = tmp_path / "web.yml"
    shutil.copy(EXAMPLE, web_config)
    checked = subprocess.run(
        [promtool(), "check", "web-config", str(web_config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    with caplog.at_level(logging.DEBUG, logger="azure_backup_exporter"):
        exporter = vault_exporter(web_config)
        url = exporter.url
        assert url.startswith("https://127.0.0.1:")
        tls = {"verify": str(ca.pair.cert), "cert": (str(client.cert), str(client.key)), "timeout": 30}

        with pytest.raises(requests.ConnectionError):  # plain HTTP to the TLS port: no answer in clear
            requests.get(url.replace("https://", "http://") + "/metrics", timeout=30)
        with pytest.raises(requests.ConnectionError):  # no client certificate: the handshake fails
            requests.get(f"{url}/metrics", verify=str(ca.pair.cert), timeout=30)

        anonymous = requests.get(f"{url}/metrics", **tls)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic realm=")
        wrong = requests.get(f"{url}/metrics", auth=("prometheus", "guess"), **tls)
        assert wrong.status_code == 401
        assert requests.get(f"{url}/metrics", auth=("nobody", EXAMPLE_PASSWORD), **tls).status_code == 401

        right = requests.get(f"{url}/metrics", auth=("prometheus", EXAMPLE_PASSWORD), **tls)
        assert right.status_code == 200 and "azure_backup_vault_up{" in right.text
        assert right.headers["X-Content-Type-Options"] == "nosniff"  # http_server_config.headers
        again = requests.get(f"{url}/healthz", auth=("prometheus", EXAMPLE_PASSWORD), **tls)
        assert again.status_code == 200 and again.text == "ok\n"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "guess" not in logged and EXAMPLE_PASSWORD not in logged
    assert "TLS on, basic auth on" in logged


def test_a_client_certificate_from_another_ca_is_refused(
    tmp_path: Path, vault_exporter: Callable[[Path], Exporter]
) -> None:
    ca = Authority(tmp_path)
    server = ca.issue("server", server=True)
    stranger = Authority(tmp_path, "other-ca").issue("stranger", server=False)
    web_config = tmp_path / "web.yml"
    web_config.write_text(
        f"tls_server_config:\n  cert_file: {server.cert.name}\n  key_file: {server.key.name}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {ca.pair.cert.name}\n"
    )
    url = vault_exporter(web_config).url
    with pytest.raises(requests.ConnectionError):
        requests.get(
            f"{url}/metrics",
            verify=str(ca.pair.cert),
            cert=(str(stranger.cert), str(stranger.key)),
            timeout=30,
        )


def test_tls_without_client_certificates_and_tls13_only(
    tmp_path: Path, vault_exporter: Callable[[Path], Exporter]
) -> None:
    ca = Authority(tmp_path)
    server = ca.issue("server", server=True)
    web_config = tmp_path / "web.yml"
    web_config.write_text(
        f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n  min_version: TLS13\n"
    )
    url = vault_exporter(web_config).url
    response = requests.get(f"{url}/metrics", verify=str(ca.pair.cert), timeout=30)
    assert response.status_code == 200 and "azure_backup_vault_up{" in response.text
    with pytest.raises(requests.ConnectionError):  # the server certificate is not trusted by default
        requests.get(f"{url}/metrics", timeout=30)


def test_basic_auth_without_tls_and_the_file_read_again_when_it_changes(
    tmp_path: Path, vault_exporter: Callable[[Path], Exporter], caplog: pytest.LogCaptureFixture
) -> None:
    web_config = tmp_path / "web.yml"
    web_config.write_text(f"basic_auth_users:\n  alice: {fast_hash('first secret')}\n")
    url = vault_exporter(web_config).url
    assert url.startswith("http://")
    assert requests.get(f"{url}/metrics", timeout=30).status_code == 401
    assert requests.get(f"{url}/metrics", auth=("alice", "first secret"), timeout=30).status_code == 200

    web_config.write_text(f"basic_auth_users:\n  bob: {fast_hash('second secret')}\n")
    os.utime(web_config, ns=(0, 0))  # a change even on a file system with coarse modification times
    assert requests.get(f"{url}/metrics", auth=("alice", "first secret"), timeout=30).status_code == 401
    assert requests.get(f"{url}/metrics", auth=("bob", "second secret"), timeout=30).status_code == 200

    with caplog.at_level(logging.ERROR, logger="azure_backup_exporter"):
        web_config.write_text("basic_auth_users:\n  bob: not-a-hash\n")
        response = requests.get(f"{url}/metrics", auth=("bob", "second secret"), timeout=30)
    assert response.status_code == 200  # a broken edit keeps the last good reading in force
    messages = [record.getMessage() for record in caplog.records]
    assert any("basic_auth_users.bob" in m and "previous reading" in m for m in messages), messages
    assert not any("not-a-hash" in m for m in messages)


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (
            "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n",
            "tls_server_config.cert_file: expected a readable file",
        ),
        (
            "tls_server_config:\n  cert_file: web.yml\n",
            "tls_server_config: expected both cert_file and key_file",
        ),
        ("basic_auth_users:\n  alice: secret\n", "basic_auth_users.alice: expected a bcrypt hash"),
        ("basic_auth_user:\n  alice: secret\n", "basic_auth_user: unknown key; known keys: basic_auth_users"),
        (
            "tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
            "tls_server_config.cipher_suites: not supported",
        ),
        ("http_server_config:\n  headers:\n    Server: x\n", "http_server_config.headers: expected one of"),
        ("[not, a, mapping]\n", "the file: expected a mapping"),
        ("tls_server_config: {cert_file: a\n", "is not valid YAML"),
    ],
)
def test_a_bad_web_config_file_exits_2_with_one_line(tmp_path: Path, content: str, named: str) -> None:
    bad = tmp_path / "web.yml"
    bad.write_text(content)
    result = subprocess.run(
        [COMMAND, "check", "--vault", VAULT, "--web.config.file", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("azure-backup-exporter: --web.config.file: ")
    assert named in lines[0]
    assert "secret" not in lines[0]


@pytest.mark.parametrize(
    ("tls", "named"),
    [
        ("  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file: expected a CA file"),
        (
            "  client_ca_file: ca.crt\n",
            "client_auth_type: expected a client auth type other than NoClientCert",
        ),
        ("  client_auth_type: Sometimes\n", "client_auth_type: expected one of NoClientCert"),
        ("  min_version: TLS11\n", "min_version: expected TLS12 or TLS13"),
        ("  min_version: TLS13\n  max_version: TLS12\n", "max_version: expected a version not below"),
        ("  key_file: ca.key\n", "cannot use the certificate, key or CA"),
    ],
)
def test_bad_tls_settings_are_named(tmp_path: Path, tls: str, named: str) -> None:
    ca = Authority(tmp_path)
    server = ca.issue("server", server=True)
    bad = tmp_path / "web.yml"
    key = "" if "key_file" in tls else f"  key_file: {server.key.name}\n"
    bad.write_text(f"tls_server_config:\n  cert_file: {server.cert.name}\n{key}{tls}")
    result = subprocess.run(
        [COMMAND, "check", "--vault", VAULT, "--web.config.file", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and named in result.stderr, result.stderr


def test_check_reports_tls_and_basic_auth(tmp_path: Path) -> None:
    web_config = tmp_path / "web.yml"
    web_config.write_text(f"basic_auth_users:\n  alice: {fast_hash('pw')}\n")
    result = subprocess.run(
        [COMMAND, "check", "--vault", VAULT, "--web.config.file", str(web_config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "TLS off, basic auth on" in result.stdout, result.stderr


def test_a_stalled_tls_handshake_neither_blocks_others_nor_lasts(
    tmp_path: Path, start_sim: Callable[..., Sim], start_exporter: Callable[..., Exporter]
) -> None:
    ca = Authority(tmp_path)
    server = ca.issue("server", server=True)
    web_config = tmp_path / "web.yml"
    web_config.write_text(f"tls_server_config:\n  cert_file: {server.cert}\n  key_file: {server.key}\n")
    sim = start_sim(vaults=0)
    exporter = start_exporter(
        sim,
        vaults=[sim.add_vault("rsv-stall")],
        detail_fetch_budget="0",
        **{"web.config.file": str(web_config), "web.connection-timeout": "1s"},
    )
    stalled = socket.create_connection(("127.0.0.1", exporter.port), timeout=60)  # no ClientHello
    response = requests.get(f"{exporter.url}/healthz", verify=str(ca.pair.cert), timeout=30)
    assert response.status_code == 200  # the handshake waits in its own thread, not in accept()
    assert stalled.recv(1024) == b""  # and is given up after the connection timeout
    stalled.close()
