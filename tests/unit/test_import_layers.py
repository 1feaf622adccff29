"""The layers of docs/architecture.md, held by reading every module's imports (AST, no import).

Rules, each with the test that shows the checker catches a breach:
- a module imports only from its own layer or lower ones (the documented order below);
- the packages of one layer marked as peers do not import each other;
- web, the command line, the demo and process wiring reach store, engine and connectors only
  through services (`planport.services` gives them `Database` and `migrate`);
- domain imports nothing of Planport but itself;
- a name or module with a leading underscore is private to its package: nothing outside that
  package imports it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "planport"

# Top to bottom. A module belongs to the longest prefix listed; a layer is a tuple of peers.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("planport.__main__", "planport.cli"),
    ("planport.web", "planport.api", "planport.demo", "planport.processes"),
    ("planport.execution",),
    ("planport.services.scheduling",),
    ("planport.services.imports",),
    ("planport.services.blocks",),
    ("planport.services.workspace", "planport.services.health", "planport.services"),
    ("planport.scheduling", "planport.connectors", "planport.engine", "planport.alerts"),
    ("planport.store",),
    ("planport.settings", "planport.logs"),
    ("planport.domain", "planport"),
)
# Peers that must not import each other (the rest of a layer may).
INDEPENDENT = {"planport.scheduling", "planport.connectors", "planport.engine", "planport.alerts"}
EDGES = ("planport.web", "planport.api", "planport.cli", "planport.demo", "planport.processes")
BEHIND_SERVICES = ("planport.store", "planport.engine", "planport.connectors")


@dataclass(frozen=True)
class Breach:
    module: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module} imports {self.imported}: {self.rule}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    name = ".".join(parts)
    return name.removesuffix(".__init__")


def imported_names(module: str, source: str, *, is_package: bool) -> list[str]:
    """Every dotted name the module imports from Planport: `from a.b import c` gives `a.b.c`
    (c may be a module or a name in a.b)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in found if name == "planport" or name.startswith("planport.")]


def layer_of(name: str) -> tuple[int, str]:
    """(position from the top, owning prefix) of the longest listed prefix of `name`."""
    best: tuple[int, str] | None = None
    for position, layer in enumerate(LAYERS):
        for prefix in layer:
            if (name == prefix or name.startswith(prefix + ".")) and (
                best is None or len(prefix) > len(best[1])
            ):
                best = (position, prefix)
    assert best is not None, name
    return best


def _is_package(dotted: str, root: Path) -> bool:
    return (root.parent / Path(*dotted.split(".")) / "__init__.py").exists()


def private_owner(name: str, root: Path = ROOT) -> str | None:
    """The package a private part of `name` belongs to, or None when nothing in it is private."""
    parts = name.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = parts[:index]
            # A private name in a module belongs to that module's package.
            while owner and not _is_package(".".join(owner), root):
                owner = owner[:-1]
            return ".".join(owner)
    return None


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def breaches_of(module: str, imported: list[str], root: Path = ROOT) -> list[Breach]:
    found: list[Breach] = []
    mine, my_prefix = layer_of(module)
    for name in imported:
        theirs, their_prefix = layer_of(name)
        if theirs < mine:
            found.append(Breach(module, name, "an upward import"))
        elif (
            theirs == mine
            and my_prefix != their_prefix
            and {my_prefix, their_prefix} <= INDEPENDENT
        ):
            found.append(Breach(module, name, "independent packages of one layer"))
        if _within(module, "planport.domain") and not _within(name, "planport.domain"):
            found.append(Breach(module, name, "domain imports nothing of Planport"))
        if any(_within(module, edge) for edge in EDGES) and any(
            _within(name, behind) for behind in BEHIND_SERVICES
        ):
            found.append(Breach(module, name, "reached only through services"))
        owner = private_owner(name, root)
        if owner is not None and not _within(module, owner):
            found.append(Breach(module, name, f"private to {owner}"))
    return found


def all_breaches(root: Path = ROOT) -> list[Breach]:
    found: list[Breach] = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        names = imported_names(module, path.read_text(), is_package=path.name == "__init__.py")
        found += breaches_of(module, names, root)
    return found


def test_planport_keeps_its_layers() -> None:
    assert [str(b) for b in all_breaches()] == []


# ---------------------------------------------------------------- the checker catches each rule


@pytest.mark.parametrize(
    ("module", "imported", "rule"),
    [
        ("planport.services.blocks.items", "planport.services.imports.runs", "upward"),
        ("planport.engine.reader", "planport.connectors.folder", "independent"),
        ("planport.web.pages.imports.runs", "planport.store.db.Database", "through services"),
        ("planport.cli.app", "planport.engine.reader.open_source", "through services"),
        ("planport.domain.values", "planport.settings.Settings", "domain imports nothing"),
        ("planport.services.scheduling.firing", "planport.services.imports._stored", "private"),
        (
            "planport.services.scheduling.firing",
            "planport.services.imports.preview._with_codes",
            "private",
        ),
        ("planport.web.pages.scheduling.page", "planport.web.pages.imports._forms", "private"),
    ],
)
def test_each_kind_of_breach_is_caught(module: str, imported: str, rule: str) -> None:
    found = breaches_of(module, [imported])
    assert any(rule in b.rule for b in found), found


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("planport.services.imports.configurations", "planport.services.imports._stored"),
        ("planport.services.imports.runs.execute", "planport.services.imports.block_import"),
        ("planport.web.pages.imports.wizard", "planport.web.pages.imports._forms.CHOICES"),
        ("planport.services.scheduling.firing", "planport.services.imports.runs"),
        ("planport.web.app", "planport.services.Database"),
        ("planport.engine.reader", "planport.domain.file_settings.FileSettings"),
    ],
)
def test_what_the_layers_allow_passes(module: str, imported: str) -> None:
    assert breaches_of(module, [imported]) == []


def test_relative_imports_are_resolved() -> None:
    source = "from . import _stored\nfrom ..blocks import items\n"
    names = imported_names("planport.services.imports.sources", source, is_package=False)
    assert names == ["planport.services.imports._stored", "planport.services.blocks.items"]
