"""Without any Azure credential, `serve` keeps serving and says, on one line per vault, what it tried."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from azure_backup_exporter.azure.token import credential_message

from .harness import http
from .test_integration import free_port, wait_until_listening

VAULTS = [
    f"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.RecoveryServices"
    f"/vaults/{name}"
    for name in ("rsv-one", "rsv-two")
]


def test_a_missing_credential_is_one_line_per_vault_naming_the_sources_tried(tmp_path: Path) -> None:
    closed = free_port()  # IMDS is looked for here, so the test behaves the same on an Azure VM
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AZURE_CONFIG_DIR": str(tmp_path / "az"),
        "AZURE_POD_IDENTITY_AUTHORITY_HOST": f"http://127.0.0.1:{closed}",
    }
    port = free_port()
    command = [str(Path(sys.executable).with_name("azure-backup-exporter")), "serve"]
    command += ["--web.listen-address", f"127.0.0.1:{port}", "--vault", VAULTS[0], "--vault", VAULTS[1]]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_until_listening(port)
        text = http(f"http://127.0.0.1:{port}/metrics")[2].decode()
    finally:
        process.terminate()
        _, logged = process.communicate(timeout=30)
    assert text.count("azure_backup_vault_up{") == 2 and "} 0.0" in text
    failures = [line for line in logged.splitlines() if "refresh failed" in line]
    assert len(failures) == 2, logged
    for line in failures:
        assert "no Azure credential found; tried EnvironmentCredential (" in line
        assert "ManagedIdentityCredential (" in line and "AzureCliCredential (" in line
    # azure-identity's own multi-line report is not repeated on top of ours
    assert "Attempted credentials" not in logged and not any(
        line.startswith("\t") for line in logged.splitlines()
    )


def test_a_message_that_is_no_report_is_kept_on_one_line() -> None:
    assert credential_message("token request failed:\n  HTTP 400") == "token request failed: HTTP 400"
