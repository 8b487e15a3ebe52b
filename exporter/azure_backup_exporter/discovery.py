"""Which vaults to collect: the configured ones, plus every vault of the configured subscriptions.

Subscriptions are re-listed every `relist_interval` seconds, not at each scrape, within a share of the
scrape's budget (the vaults' refreshes need the rest). A failed or slow listing keeps the previous list
(and is retried at the next scrape), and marks the subscription down (`azure_backup_subscription_up`).
`VaultSource` is the seam for later backends (Azure Resource Graph) and for sharding vaults across
replicas.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .azure.client import ArmClient
from .azure.errors import ArmError
from .jobs import VaultRef

log = logging.getLogger(__name__)


class VaultSource(Protocol):
    """Anything that can say which vaults exist now."""

    def vaults(self, deadline: float) -> list[VaultRef]: ...


class StaticVaults:
    def __init__(self, vaults: Iterable[VaultRef]) -> None:
        self._vaults = list(vaults)

    def vaults(self, deadline: float) -> list[VaultRef]:
        return list(self._vaults)


# Share of what is left of a scrape's budget that listing the subscriptions' vaults may take.
DISCOVERY_BUDGET_SHARE = 0.5


class SubscriptionVaults:
    """Every vault of some subscriptions, listed through ARM and cached for `relist_interval` seconds."""

    def __init__(self, client: ArmClient, subscriptions: Sequence[str], relist_interval: float) -> None:
        self._client = client
        self._subscriptions = list(subscriptions)
        self._interval = relist_interval
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[VaultRef]]] = {}
        self._resources: dict[tuple[str, str, str], Any] = {}  # each vault as last listed
        self._up: dict[str, bool] = {}

    def vaults(self, deadline: float) -> list[VaultRef]:
        now = time.monotonic()
        own_deadline = now + max(0.0, deadline - now) * DISCOVERY_BUDGET_SHARE
        with self._lock:
            found: list[VaultRef] = []
            for subscription in self._subscriptions:
                found.extend(self._vaults_of(subscription, own_deadline))
            return found

    def subscriptions_up(self) -> dict[str, bool]:
        """Whether the last listing of each subscription's vaults succeeded (absent before the first)."""
        with self._lock:
            return dict(self._up)

    def vault_resource(self, vault: VaultRef) -> Any | None:
        """The vault's resource as its subscription's last listing gave it (its settings, at no cost)."""
        return self._resources.get(vault.key)

    def _vaults_of(self, subscription: str, deadline: float) -> list[VaultRef]:
        cached = self._cache.get(subscription)
        if cached is not None and time.monotonic() - cached[0] < self._interval:
            return cached[1]
        try:
            listed = self._client.list_vaults(subscription, deadline)
        except ArmError as error:
            self._up[subscription] = False
            log.error(
                "subscription %s: listing vaults failed: %s %s: %s",
                subscription,
                error.status_text,
                error.code,
                error.message,
            )
            return cached[1] if cached else []
        vaults = [vault for vault, _ in listed]
        self._cache[subscription] = (time.monotonic(), vaults)
        self._resources.update((vault.key, resource) for vault, resource in listed)
        self._up[subscription] = True
        return vaults


class CombinedVaults:
    """The union of several sources, without duplicates (ids compare case-insensitively)."""

    def __init__(self, sources: Sequence[VaultSource]) -> None:
        self._sources = list(sources)

    def subscriptions_up(self) -> dict[str, bool]:
        up: dict[str, bool] = {}
        for source in self._sources:
            if isinstance(source, SubscriptionVaults):
                up.update(source.subscriptions_up())
        return up

    def vault_resource(self, vault: VaultRef) -> Any | None:
        for source in self._sources:
            if isinstance(source, SubscriptionVaults):
                found = source.vault_resource(vault)
                if found is not None:
                    return found
        return None

    def vaults(self, deadline: float) -> list[VaultRef]:
        unique: dict[tuple[str, str, str], VaultRef] = {}
        for source in self._sources:
            for vault in source.vaults(deadline):
                unique.setdefault(vault.key, vault)
        return list(unique.values())


def shard_of(vault: VaultRef, count: int) -> int:
    """The shard (0 to count - 1) a vault belongs to: a stable hash of its id, whatever its capitalisation.

    Every replica computes the same, so N replicas split an estate with no coordination.
    """
    digest = hashlib.sha256("/".join(vault.key).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


class ShardVaults:
    """The vaults of another source that belong to one shard."""

    def __init__(self, source: VaultSource, index: int, count: int) -> None:
        self._source = source
        self._index = index
        self._count = count

    def vaults(self, deadline: float) -> list[VaultRef]:
        return [
            vault for vault in self._source.vaults(deadline) if shard_of(vault, self._count) == self._index
        ]
