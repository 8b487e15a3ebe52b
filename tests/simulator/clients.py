"""Clients for the simulator's two faces: ARM (authenticated like an Azure client: token from the
managed-identity endpoint, then `Authorization: Bearer`) and the control API."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import requests
from azure_backup_simulator import Simulator

API_VERSION = "2026-10-01"
VAULTS_API_VERSION = "2026-08-01"
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "azure-examples"
START = datetime(2026, 11, 26, 6, 0, 0, tzinfo=timezone.utc)
"""A fixed simulated start time: estates are then identical from run to run."""
AZURE_ENV_VARS = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_AUTHORITY_HOST",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
    "AZURE_TOKEN_CREDENTIALS",
)


class ArmClient:
    """requests plus a simulator token: the smallest client that talks to the simulator like to Azure."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.session = requests.Session()
        self.token = self.fetch_token()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def fetch_token(self, resource: str = "https://management.azure.com") -> str:
        answer = requests.get(
            self.sim.identity_endpoint,
            params={"api-version": "2019-08-01", "resource": resource},
            headers={"X-IDENTITY-HEADER": self.sim.identity_header},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()["access_token"]

    def refresh_token(self) -> None:
        """What a real client does when its token nears expiry (after the test moved the clock)."""
        self.token = self.fetch_token()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def get(
        self, path_or_url: str, api_version: str | None = API_VERSION, **params: str
    ) -> requests.Response:
        url = path_or_url if path_or_url.startswith("http") else self.sim.arm_endpoint + path_or_url
        if api_version is not None:
            params["api-version"] = api_version
        return self.session.get(url, params=params, timeout=10)

    def post(self, path: str, api_version: str = API_VERSION) -> requests.Response:
        return self.session.post(
            self.sim.arm_endpoint + path, params={"api-version": api_version}, timeout=10
        )

    def list_all_jobs(self, vault_id: str, **params: str) -> list[dict]:
        jobs: list[dict] = []
        answer = self.get(vault_id + "/backupJobs", **params)
        while True:
            assert answer.status_code == 200, answer.text
            body = answer.json()
            jobs.extend(body["value"])
            if "nextLink" not in body:
                return jobs
            answer = self.session.get(body["nextLink"], timeout=10)


class Control:
    """The simulator's control API."""

    def __init__(self, sim: Simulator) -> None:
        self.url = sim.control_url

    def get(self, route: str) -> requests.Response:
        return requests.get(f"{self.url}/{route}", timeout=10)

    def post(self, route: str, body: object = None) -> requests.Response:
        data = None if body is None else json.dumps(body)
        return requests.post(
            f"{self.url}/{route}", data=data, timeout=10, headers={"Content-Type": "application/json"}
        )

    def estate(self) -> dict:
        return self.get("estate").json()

    def add_vault(self, subscription: str, resource_group: str, name: str) -> str:
        answer = self.post(
            "vaults", {"subscription": subscription, "resource_group": resource_group, "name": name}
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def add_job(self, **fields: object) -> dict:
        answer = self.post("jobs", fields)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def faults(self, **fields: object) -> dict:
        answer = self.post("faults", fields)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def advance(self, seconds: float) -> None:
        assert self.post("clock", {"advance_seconds": seconds}).status_code == 200


def load_example(relative: str) -> dict:
    return json.loads((EXAMPLES / relative).read_text())
