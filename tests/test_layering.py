"""The simulator stands beside the exporter, not inside it.

It follows the public Azure reference, never the exporter's reading of it, so no module of
`azure_backup_simulator` imports `azure_backup_exporter`. The exporter reaches for the simulator only
where it offers it to users (cli.py registers `simulate`, demo.py runs it), never in the code that
serves metrics.
Read from the source with `ast`, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIMULATOR = ROOT / "simulator" / "azure_backup_simulator"
EXPORTER = ROOT / "exporter" / "azure_backup_exporter"
MAY_IMPORT_THE_SIMULATOR = {"cli.py", "demo.py"}


def imported_modules(path: Path, top: Path) -> set[str]:
    """Absolute names of what `path` (a module of the package in directory `top`) imports: relative
    imports resolved, `from m import n` counted as m and m.n (n may be a module), and
    `importlib.import_module("...")` / `__import__("...")` with a literal name."""
    package = path.parent.relative_to(top.parent).parts
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: max(len(package) - node.level + 1, 0)]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}".lstrip(".") for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            called = function.id if isinstance(function, ast.Name) else getattr(function, "attr", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def importers_of(package: str, top: Path) -> dict[str, list[str]]:
    """Modules under `top` (paths relative to it) that import `package` or one of its modules, and what."""
    found = {}
    for path in sorted(top.rglob("*.py")):
        hits = sorted(
            name for name in imported_modules(path, top) if name == package or name.startswith(package + ".")
        )
        if hits:
            found[path.relative_to(top).as_posix()] = hits
    return found


def test_the_simulator_imports_nothing_from_the_exporter() -> None:
    modules = list(SIMULATOR.rglob("*.py"))
    assert len(modules) > 10, f"no simulator package at {SIMULATOR}"
    assert importers_of("azure_backup_exporter", SIMULATOR) == {}


def test_only_the_commands_that_run_the_simulator_import_it() -> None:
    importers = importers_of("azure_backup_simulator", EXPORTER)
    assert set(importers) <= MAY_IMPORT_THE_SIMULATOR, importers
    # cli.py registers `simulate` from the simulator: seeing it shows the check reads what it must.
    assert "azure_backup_simulator.command" in importers.get("cli.py", [])


def test_relative_imports_are_resolved_from_the_importing_module(tmp_path: Path) -> None:
    top = tmp_path / "azure_backup_simulator"
    (top / "sub").mkdir(parents=True)
    module = top / "sub" / "m.py"
    module.write_text(
        "from . import a\nfrom ..b import c\nimport importlib\n"
        "def f():\n    from azure_backup_exporter.jobs import VaultRef\n"
        "    return importlib.import_module('azure_backup_exporter.web')\n"
    )
    assert imported_modules(module, top) == {
        "azure_backup_simulator.sub", "azure_backup_simulator.sub.a",
        "azure_backup_simulator.b", "azure_backup_simulator.b.c",
        "importlib",
        "azure_backup_exporter.jobs", "azure_backup_exporter.jobs.VaultRef",
        "azure_backup_exporter.web",
    }  # fmt: skip
    assert list(importers_of("azure_backup_exporter", top)) == ["sub/m.py"]
