"""What Azure's inventory says of one vault's protection: its items, their policies, its settings.

Pure, like `ledger.py`: the inventory reader hands it whole readings (every protected item, every
policy, the vault's settings), each replacing the last, and `snapshot()` projects them for the
collector. An item keeps its series for as long as Azure lists it, whatever its jobs do; a failed
reading changes nothing here (the reader says so with `inventory_up`).

Each item's expected interval comes from its policy (`policies.expected_intervals`), computed once per
policy reading: a policy in a zone with daylight saving costs a few milliseconds.

An item's newest recovery point never goes back in time: Azure gives MARS (MAB) items, file shares and some
databases a recovery point only through `lastBackupTime` while their last backup succeeded, and DPM items
may have none, so a failing item would lose the very series its objective is judged on. The ledger keeps the
newest point it has seen for each listed item, and when Azure never gave one it takes the end of the item's
last successful backup job in the lookback (which also covers an exporter restart during the failures).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from .inventory import ProtectedItem, VaultSettings, item_entity
from .policies import Policy, expected_intervals
from .snapshot import InventorySnapshot, ItemSnapshot


class ProtectionLedger:
    """One vault's protected items, the intervals of their policies, and the vault's settings."""

    def __init__(self) -> None:
        self._items: tuple[ProtectedItem, ...] | None = None
        self._recovery_points: dict[str, float] = {}  # item id (lower case) -> newest recovery point seen
        self._intervals: dict[str, Mapping[str, float]] = {}  # policy key -> backup kind -> seconds
        self._settings: VaultSettings | None = None
        self.generation = 0  # bumped by every reading that changes what `snapshot()` shows

    def apply_items(self, items: Iterable[ProtectedItem]) -> None:
        """A complete listing of the vault's protected items: it replaces the last one."""
        listed = tuple(items)
        if listed != self._items:
            self.generation += 1
        self._items = listed
        newest: dict[str, float] = {}
        for item in self._items:
            key = item.id.lower()
            points = [p for p in (item.last_recovery_point, self._recovery_points.get(key)) if p is not None]
            if points:
                newest[key] = max(points)
        if newest != self._recovery_points:
            self.generation += 1
        self._recovery_points = newest  # an item no longer listed is forgotten

    def apply_policies(self, policies: Iterable[Policy]) -> None:
        """A complete listing of the vault's policies: their intervals replace the last ones."""
        intervals = {policy.name: expected_intervals(policy) for policy in policies}
        if intervals != self._intervals:
            self.generation += 1
        self._intervals = intervals

    def apply_settings(self, settings: VaultSettings) -> None:
        if settings != self._settings:
            self.generation += 1
        self._settings = settings

    def snapshot(
        self,
        up: bool,
        job_entities: Iterable[str] = (),
        backup_successes: Mapping[tuple[str, str], float] | None = None,
    ) -> InventorySnapshot:
        """`job_entities`: the entity labels of the vault's jobs, which item labels join (entities.py).

        `backup_successes`: (backup management type, entity label) -> end of the newest successful backup
        job (not a log backup) in the lookback; an item with no recovery point from Azure takes it as one.
        """
        known = frozenset(job_entities)
        successes = backup_successes or {}
        items: dict[tuple[str, str], ItemSnapshot] = {}
        for item in self._items or ():
            snapshot = self._item_snapshot(item, known)
            if snapshot.last_recovery_point_timestamp is None:
                ended = successes.get((snapshot.backup_management_type, snapshot.entity))
                if ended is not None:
                    snapshot = replace(snapshot, last_recovery_point_timestamp=ended)
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
            last_recovery_point_timestamp=self._recovery_points.get(item.id.lower()),
            intervals=dict(intervals),
        )
