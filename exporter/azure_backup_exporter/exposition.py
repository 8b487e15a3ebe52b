"""The /metrics body, formatted vault by vault: a vault whose snapshot did not change keeps its text.

At a thousand vaults the exposition holds tens of thousands of series, and formatting each at every
scrape costs seconds of CPU, though between two scrapes most vaults show nothing new. So each vault's own
families (`collector.render_vault`) are formatted once per snapshot version (`VaultSnapshot.version`),
and kept; only the families that change at each refresh or add up every vault (`SHARED_FAMILIES`) and
the process' own metrics are formatted at every scrape. The text is prometheus_client's own, in the
format the scraper asked for (`choose_encoder`): this module cuts it into families and puts it back
together, family by family, in the order `render()` gives, so the body is what `generate_latest` would
write for the same snapshots.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .budget import current_budget
from .collector import VAULT_GAUGES, empty_families, family, render_shared, render_vault, vault_gauges
from .snapshot import ApiSnapshot, VaultSnapshot

_EOF = "# EOF\n"

Sections = dict[str, str]  # family name as its HELP line writes it -> its sample lines


class _Families(Collector):
    """What an encoder formats: given families, as a registry would yield them."""

    def __init__(self, families: Iterable[object]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[object]:  # type: ignore[override]
        return self._families


def _sections(text: str) -> Sections:
    """Sample lines by family. A label value's newline is escaped, so one sample is one line."""
    found: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("# HELP "):
            lines = found.setdefault(line.split(" ", 3)[2], [])
        elif not line.startswith("#"):
            lines.append(line)
    return {name: "".join(lines) for name, lines in found.items()}


def _headers(text: str) -> list[tuple[str, str]]:
    """(family name, its HELP, TYPE and UNIT lines), in order, from the formatting of empty families."""
    found: list[tuple[str, str]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("# HELP "):
            found.append((line.split(" ", 3)[2], line))
        elif line.startswith("#") and line != _EOF:
            name, header = found[-1]
            found[-1] = (name, header + line)
    return found


class Exposition:
    """Renders the exporter's /metrics body; thread-safe, as scrapes may overlap."""

    def __init__(
        self,
        snapshots: Callable[[float | None], Sequence[VaultSnapshot]],
        api_snapshot: Callable[[], ApiSnapshot],
        subscriptions_up: Callable[[], Mapping[str, bool]],
        shard: int,
        process: Collector,
    ) -> None:
        """`process`: the process' own metrics (CPU, memory, GC), formatted at every scrape."""
        self._snapshots = snapshots
        self._api_snapshot = api_snapshot
        self._subscriptions_up = subscriptions_up
        self._shard = shard
        self._process = process
        self._lock = threading.Lock()
        # (vault key, content type) -> (snapshot version, the vault's sections)
        self._kept: dict[tuple[tuple[str, str, str], str], tuple[Hashable, Sections]] = {}
        self._headers: dict[str, list[tuple[str, str]]] = {}  # content type -> families' headers
        # (vault key, family, content type) -> a vault gauge's sample line up to its value
        self._prefixes: dict[tuple[tuple[str, str, str], str, str], str] = {}
        self.formatted_last = 0  # vaults formatted by the last body (the others were kept): for tests

    def body(self, accept: str) -> tuple[bytes, str]:
        """The body for a scrape whose Accept header is `accept`, and its content type."""
        encode, content_type = choose_encoder(accept)

        def format_(families: Iterable[object]) -> str:
            return encode(_Families(families)).decode()  # type: ignore[arg-type]

        vaults = sorted(self._snapshots(current_budget()), key=lambda snap: snap.vault.key)
        per_vault = [self._vault_sections(snap, content_type, format_) for snap in vaults]
        self.formatted_last = sum(1 for _, formatted in per_vault if formatted)
        per_vault_sections = [sections for sections, _ in per_vault]
        shared = _sections(
            format_(
                render_shared(
                    vaults,
                    self._api_snapshot(),
                    subscriptions_up=self._subscriptions_up(),
                    shard=self._shard,
                    with_vault_gauges=False,
                )
            )
        )
        gauges: dict[str, list[str]] = {name: [] for name in VAULT_GAUGES}
        for snap in vaults:
            for name, value in vault_gauges(snap):
                prefix = self._prefix(snap, name, content_type, format_)
                gauges[name].append(f"{prefix}{floatToGoString(value)}\n")
        with self._lock:
            present = {(snap.vault.key, content_type) for snap in vaults}
            for key in [key for key in self._kept if key[1] == content_type and key not in present]:
                del self._kept[key]
            for gone in [key for key in self._prefixes if (key[0], key[2]) not in present]:
                del self._prefixes[gone]
            headers = self._headers.get(content_type)
        if headers is None:
            headers = _headers(format_(empty_families()))
            with self._lock:
                self._headers[content_type] = headers
        parts: list[str] = []
        for name, header in headers:
            parts.append(header)
            parts.extend(sections.get(name, "") for sections in per_vault_sections)
            parts.extend(gauges.get(name, ()))  # gauges: the HELP line names them as `METRICS` does
            parts.append(shared.get(name, ""))
        process = format_(self._process.collect())
        parts.append(process.removesuffix(_EOF))
        if process.endswith(_EOF):
            parts.append(_EOF)
        return "".join(parts).encode(), content_type

    def _prefix(
        self,
        snap: VaultSnapshot,
        name: str,
        content_type: str,
        format_: Callable[[Iterable[object]], str],
    ) -> str:
        """The vault gauge's sample line without its value: formatted once, by the encoder itself."""
        key = (snap.vault.key, name, content_type)
        with self._lock:
            prefix = self._prefixes.get(key)
        if prefix is None:
            gauge = family(name)
            gauge.add_metric([snap.vault.subscription_id, snap.vault.resource_group, snap.vault.name], 0.0)
            (line,) = _sections(format_([gauge])).values()
            prefix = line[: line.rindex(" ") + 1]
            with self._lock:
                self._prefixes[key] = prefix
        return prefix

    def _vault_sections(
        self, snap: VaultSnapshot, content_type: str, format_: Callable[[Iterable[object]], str]
    ) -> tuple[Sections, bool]:
        """The vault's sections, and whether they were formatted now (else kept)."""
        key = (snap.vault.key, content_type)
        with self._lock:
            kept = self._kept.get(key)
        if snap.version is not None and kept is not None and kept[0] == snap.version:
            return kept[1], False
        sections = _sections(format_(render_vault(snap)))
        with self._lock:
            if snap.version is not None:
                self._kept[key] = (snap.version, sections)
            else:
                self._kept.pop(key, None)
        return sections, True
