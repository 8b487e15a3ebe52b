"""One protected item, one `entity` label: how a database's jobs, named differently by Azure, are joined.

Azure names an SQL or SAP HANA database differently by operation (docs/real-data.md): Backup, Restore
and MoveRecoveryPoint jobs say `msdb [sql-vm]` (until 2020 `MSSQLSERVER/msdb [sql-vm]`, HANA
`H22/H22 [host]`), while ConfigureBackup, DisableBackup and DeleteBackupData say the bare `msdb`, in
whatever case. A job carries nothing else that names its item (no container, no item id), so the rule
works on names within one vault:

- a name of the form `[parent/]database [server]` is an item's own name and is kept as written;
- a bare name maps to the one bracketed name of the same workload type whose database part equals it
  case-insensitively; with none, or several (the same database name on two servers), it is kept.

Pure functions, no state: the ledger applies them to the jobs it holds when it projects a snapshot,
and the protection inventory can name an item from its record with `entity_for_item`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

WORKLOAD_MANAGEMENT_TYPE = "AzureWorkload"
_ITEM_NAME = re.compile(r"^(?:(?P<parent>.*)/)?(?P<database>[^/]+?) \[(?P<server>[^\]]+)\]$")

# (workload type or None, entity as written)
Named = tuple[str | None, str]


def database_part(entity: str) -> tuple[str, str] | None:
    """(database, server) of a name of the form `[parent/]database [server]`; None for a bare name."""
    match = _ITEM_NAME.match(entity)
    return (match["database"], match["server"]) if match else None


def canonical_entities(names: Iterable[Named]) -> dict[Named, str]:
    """The `entity` label of each (workload type, name) of one vault's workload jobs, per the rule above."""
    names = set(names)
    by_database: dict[tuple[str | None, str], set[str]] = {}
    for workload, entity in names:
        part = database_part(entity)
        if part is not None:
            by_database.setdefault((workload, part[0].casefold()), set()).add(entity)
    canonical = {}
    for workload, entity in names:
        candidates = (
            by_database.get((workload, entity.strip().casefold()), set())
            if database_part(entity) is None
            else set()
        )
        canonical[(workload, entity)] = next(iter(candidates)) if len(candidates) == 1 else entity
    return canonical


def entity_for_item(friendly_name: str, server_name: str | None, known_entities: Iterable[str] = ()) -> str:
    """The `entity` of a workload protected item, from its record (`friendlyName`, `serverName`).

    The name its Backup jobs carry: one of `known_entities` (the vault's entity labels) whose database
    and server equal the item's case-insensitively (so `SYSTEMDB [hxehost]` for item `systemdb` on
    `hxehost`, and the `MSSQLSERVER/` form of old jobs), else `friendlyName [serverName]`, the form
    Backup jobs have used since 2021. An item without a server is named `friendlyName`.
    """
    if not server_name:
        return friendly_name
    wanted = (friendly_name.casefold(), server_name.casefold())
    for entity in sorted(known_entities):
        part = database_part(entity)
        if part is not None and (part[0].casefold(), part[1].casefold()) == wanted:
            return entity
    return f"{friendly_name} [{server_name}]"


def relabel(entities: Mapping[Named, str], workload: str | None, entity: str) -> str:
    """`entity` as `canonical_entities` labels it, or as written when it was not among the names."""
    return entities.get((workload, entity), entity)
