"""The Azure clouds the exporter knows: ARM endpoint and token scope of each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cloud:
    name: str
    arm_endpoint: str
    token_scope: str


CLOUDS: dict[str, Cloud] = {
    "public": Cloud("public", "https://management.azure.com", "https://management.azure.com/.default"),
    "usgov": Cloud(
        "usgov", "https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net/.default"
    ),
    "china": Cloud(
        "china", "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"
    ),
}
