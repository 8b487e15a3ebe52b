"""What Azure's inventory says of one vault's protection: its items, their policies, its settings.

Pure, like `ledger.py`: the inventory reader hands it whole readings (every protected item, every
policy, the vault's settings), each replacing the last, and `snapshot()` projects them for the
collector. An item keeps its series for as long as Azure lists it, whatever its jobs do; a failed
reading changes nothing here (the reader says so with `inventory_up`).

Each item's expected interval comes from its policy (`policies.expected_intervals`), computed once per
policy reading: a policy in a zone with daylight saving costs a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .inventory import ProtectedItem, VaultSettings, item_entity
from .policies import Policy, expected_intervals
from .snapshot import InventorySnapshot, ItemSnapshot


class ProtectionLedger:
    """One vault's protected items, the intervals of their policies, and the vault's settings."""

    def __init__(self) -> None:
        self._items: tuple[ProtectedItem, ...] | None = None
        self._intervals: dict[str, Mapping[str, float]] = {}  # policy key -> backup kind -> seconds
        self._settings: VaultSettings | None = None

    def apply_items(self, items: Iterable[ProtectedItem]) -> None:
        """A complete listing of the vault's protected items: it replaces the last one."""
        self._items = tuple(items)

    def apply_policies(self, policies: Iterable[Policy]) -> None:
        """A complete listing of the vault's policies: their intervals replace the last ones."""
        self._intervals = {policy.name: expected_intervals(policy) for policy in policies}

    def apply_settings(self, settings: VaultSettings) -> None:
        self._settings = settings

    def snapshot(self, up: bool, job_entities: Iterable[str] = ()) -> InventorySnapshot:
        """`job_entities`: the entity labels of the vault's jobs, which item labels join (entities.py)."""
        known = frozenset(job_entities)
        items: dict[tuple[str, str], ItemSnapshot] = {}
        for item in self._items or ():
            snapshot = self._item_snapshot(item, known)
            key = (snapshot.backup_management_type, snapshot.entity)
            kept = items.get(key)
            # two items with one name (two VMs called alike in two resource groups) would make duplicate
            # series: the one with the newer recovery point speaks for both
            if kept is None or (snapshot.last_recovery_point_timestamp or 0.0) > (
                kept.last_recovery_point_timestamp or 0.0
            ):
                items[key] = snapshot
        return InventorySnapshot(
            up=up,
            read=self._items is not None,
            items=tuple(items[key] for key in sorted(items)),
            settings=self._settings,
        )

    def _item_snapshot(self, item: ProtectedItem, job_entities: frozenset[str]) -> ItemSnapshot:
        intervals: Mapping[str, float] = {}
        if not item.scheduled_for_deferred_delete:  # soft-deleted: no backup is expected
            intervals = self._intervals.get(item.policy_name, {})
        return ItemSnapshot(
            backup_management_type=item.backup_management_type,
            entity=item_entity(item, job_entities),
            item_type=item.item_type,
            workload_type=item.workload_type,
            policy=item.policy_shown,
            source_resource_id=item.source_resource_id,
            protection_state=item.protection_state,
            health=item.health,
            last_backup_status=item.last_backup_status,
            last_backup_timestamp=item.last_backup_time,
            last_recovery_point_timestamp=item.last_recovery_point,
            intervals=dict(intervals),
        )
