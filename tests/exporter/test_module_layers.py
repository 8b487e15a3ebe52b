"""The exporter's modules import only downwards, so data flows one way (docs/architecture.md).

cli -> service -> scheduler -> tracker -> readers -> azure client; readers -> ledger -> snapshot ->
collector -> exposition (and web). A new module must be placed in a layer here, which is the moment to ask
where it belongs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import azure_backup_exporter

PACKAGE = Path(azure_backup_exporter.__file__).parent

# Lowest first. A module may import modules of lower layers only.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"__init__", "jobs", "entities", "budget", "logs"}),  # parsers, entity names, budget, logs
    frozenset({"policies"}),  # backup policies into plain values (uses jobs' text helper)
    frozenset({"inventory"}),  # protected items and vault settings into plain values
    frozenset({"snapshot"}),  # immutable values handed to the collector
    frozenset({"azure", "webconfig"}),  # the ARM client (and its request statistics); TLS and auth
    frozenset({"ledger", "protection", "collector", "web", "readiness"}),  # pure state; render; HTTP face
    frozenset({"exposition"}),  # the /metrics body, each vault's text kept while its snapshot stands
    frozenset({"readers", "discovery", "tracking"}),  # I/O feeding the ledger; which vaults; jobs by hand
    frozenset({"tracker"}),  # one vault: its readers and its ledger
    frozenset({"scheduler"}),  # what is refreshed at each scrape
    frozenset({"config"}),  # the one Config
    frozenset({"service"}),  # wiring
    frozenset({"demo", "jobs_cli"}),  # the demo command's body; the jobs commands
    frozenset({"cli"}),  # commands
)


def layer_of(module: str) -> int:
    top = module.split(".")[0]
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"module {module!r} is in no layer of tests/exporter/test_module_layers.py")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).with_suffix("")
        parts = (
            relative.parts[:-1] if relative.name == "__init__" and len(relative.parts) > 1 else relative.parts
        )
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path) -> set[str]:
    """Modules of this package that `module` imports (relative or absolute)."""
    package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module:
                    names.add(target)
                else:  # `from . import x`: a module x, or a name of the package's __init__
                    known = modules()
                    for alias in node.names:
                        name = ".".join(base + [alias.name])
                        names.add(name if name in known else ".".join(base) or "__init__")
            elif node.module and node.module.startswith("azure_backup_exporter"):
                names.add(node.module.removeprefix("azure_backup_exporter").lstrip(".") or "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("azure_backup_exporter."):
                    names.add(alias.name.removeprefix("azure_backup_exporter."))
    return {name for name in names if name}


def test_every_module_imports_only_from_lower_layers() -> None:
    wrong = []
    for module, path in modules().items():
        own = layer_of(module)
        for target in imported(module, path):
            if target.split(".")[0] == module.split(".")[0]:
                continue  # within one room (the azure/ package)
            if layer_of(target) >= own:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_the_layers_see_the_known_imports() -> None:
    """The scan itself works: the tracker uses the readers and the ledger, the service the scheduler."""
    found = modules()
    assert {"readers", "ledger"} <= imported("tracker", found["tracker"])
    assert "scheduler" in imported("service", found["service"])
    assert "azure.client" in imported("readers", found["readers"])
