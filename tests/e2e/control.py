"""A thin client of the simulator's control API (`/_simulator/`), in the words the scenarios use."""

from __future__ import annotations

import time
from typing import Any

import requests

RESOURCE_GROUP = "rg-e2e"


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class SimulatorControl:
    def __init__(self, control_url: str) -> None:
        self.control_url = control_url
        self._session = requests.Session()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._session.request(method, f"{self.control_url}/{path}", json=body, timeout=10)
        assert response.status_code in (200, 201), f"{method} /_simulator/{path}: {response.text}"
        return response.json()

    def subscriptions(self) -> list[str]:
        return self._call("GET", "estate")["subscriptions"]

    def vaults(self) -> list[str]:
        """Resource ids of every vault of the estate."""
        return self._call("GET", "estate")["vaults"]

    def stop_item(self, vault: str, item: str, delete_data: bool = False) -> dict[str, Any]:
        """Stop protection of a generated item: a DisableBackup job (and DeleteBackupData, `delete_data`)."""
        return self._call("POST", "items/stop", {"vault": vault, "item": item, "delete_data": delete_data})

    def set_vault_settings(self, vault: str, **settings: str) -> dict[str, Any]:
        """Change vault settings as an attacker with its rights would (`soft_delete="Disabled"`)."""
        return self._call("POST", "vaults/settings", {"vault": vault, **settings})

    def add_vault(self, name: str, subscription: str | None = None) -> str:
        """Add an empty vault; returns its resource id."""
        body = {
            "subscription": subscription or self.subscriptions()[0],
            "resource_group": RESOURCE_GROUP,
            "name": name,
        }
        return self._call("POST", "vaults", body)["id"]

    def add_job(
        self,
        vault: str,
        entity: str,
        status: str,
        *,
        started_ago: float,
        ended_ago: float | None = None,
        operation: str = "Backup",
        **extra: Any,
    ) -> str:
        """Add a job that started `started_ago` seconds ago (and ended `ended_ago` seconds ago, unless it
        runs); returns the job name."""
        now = time.time()
        body = {
            "vault": vault,
            "entity": entity,
            "operation": operation,
            "status": status,
            "start_time": iso(now - started_ago),
            "end_time": None if ended_ago is None else iso(now - ended_ago),
            **extra,
        }
        return self._call("POST", "jobs", body)["name"]

    def finish_job(self, name: str, status: str) -> dict[str, Any]:
        """Finish the running job `name` now with `status`; returns the job resource."""
        return self._call("POST", f"jobs/{name}/finish", {"status": status})

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._call("POST", "faults", faults)

    def requests_by_route(self) -> dict[str, dict[str, int]]:
        return self._call("GET", "requests")["by_route"]
