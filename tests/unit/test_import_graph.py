"""The package's import graph: no cycles, and the layer rules, counting EVERY import.

import-linter (tests/unit/test_project_rules.py) sees the same rules, but a cycle hidden behind a
function-level import (``def f(): from x import y``) or an ``if TYPE_CHECKING:`` block still makes two
modules depend on each other: neither can be understood, tested or moved alone. So this test parses each
``workbench/**/*.py`` with :mod:`ast` and collects every ``import`` / ``from ... import`` wherever it
appears (module top, functions, classes, ``if TYPE_CHECKING:``, ``try:``), relative ones too.

Resolution: ``import a.b.c`` -> module ``a.b.c``; ``from a.b import c`` -> ``a.b.c`` when that is a module
of the package, else ``a.b``. No implicit edge is added to parent packages (Python runs ``a/__init__.py``
when importing ``a.b``, but that is not a dependency the importing module chose).
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Import:
    """One import statement's target: ``name`` as written (absolute), ``module`` the package module it
    resolves to (None for third-party and stdlib), ``line`` in the importing file."""

    name: str
    module: str | None
    line: int


def module_files(root: Path, package: str) -> dict[str, Path]:
    """``{dotted module name: file}`` for every ``.py`` under ``root/package`` (packages by their
    ``__init__.py``)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute dotted name of a relative import ``from <level dots><name> import ...`` in ``module``."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a module of the package, or None."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in modules:
            return cand
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import anywhere in ``path`` (ast.walk visits function bodies and TYPE_CHECKING blocks too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    out: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(alias.name, _resolve(alias.name, modules), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module) if node.level else (node.module or "")
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if alias.name != "*" and full in modules:
                    out.append(Import(full, full, node.lineno))
                else:
                    out.append(Import(base, _resolve(base, modules), node.lineno))
    return out


def import_graph(root: Path, package: str) -> tuple[dict[str, set[str]], dict[str, list[Import]]]:
    """``(edges, imports)``: module -> package modules it imports, and module -> every import it makes."""
    modules = module_files(root, package)
    imports = {m: imports_of(m, p, modules) for m, p in modules.items()}
    edges = {m: {i.module for i in imps if i.module is not None} for m, imps in imports.items()}
    return edges, imports


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, plus modules importing themselves
    (Tarjan's algorithm, iterative so deep packages cannot hit the recursion limit). Sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1 or node in edges.get(node, ()):
                    found.append(sorted(comp))
    return sorted(found)


def describe(comp: list[str], imports: dict[str, list[Import]]) -> str:
    """One cycle as its modules and the import lines that close it."""
    members = set(comp)
    lines = [" <-> ".join(comp)]
    for m in comp:
        for i in imports[m]:
            line = f"    {m}:{i.line} imports {i.module}"
            if i.module in members and line not in lines:  # "from x import a, b" is one line, not two
                lines.append(line)
    return "\n".join(lines)


def _within(name: str, pkg: str) -> bool:
    return name == pkg or name.startswith(pkg + ".")


def forbidden(
    imports: dict[str, list[Import]], source: str, targets: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    """``"module:line imports name"`` for every import from a module in ``source`` (the package or one of
    its submodules) of a name in ``targets`` (or one of their submodules), except importers in ``allowed``."""
    return [
        f"{m}:{i.line} imports {i.name}"
        for m, imps in sorted(imports.items())
        if _within(m, source) and m not in allowed
        for i in imps
        if any(_within(i.name, t) for t in targets)
    ]


# -- the real package ---------------------------------------------------------------------------------

EDGES, IMPORTS = import_graph(REPO, "workbench")


def test_the_checker_sees_the_package():
    assert len(IMPORTS) > 100
    assert "workbench.core.workflow" in EDGES
    assert "workbench.core.bench.run" in EDGES["workbench.core.workflow"]  # a function-level import counts
    assert "workbench.cli.cmd_tui" in EDGES


def test_no_import_cycles():
    found = cycles(EDGES)
    assert not found, "import cycles (counting function-level and TYPE_CHECKING imports):\n" + "\n".join(
        describe(c, IMPORTS) for c in found
    )


# (source, forbidden targets, importers allowed anyway). The same rules as pyproject's import-linter
# contracts, here counting every import. Why each exists: the core runs headless (detached jobs, fleets,
# benchmark scripts) and must not pull in a face; the two faces are independent (the TUI must not depend on
# argparse handlers, and the CLI loads Textual only for `workbench tui`); telemetry samplers must run where
# no inference backend is installed (a power sweep on a bare board); hardware detection reports facts and
# the profiles package matches them (profiles -> hw, never back).
LAYER_RULES = (
    ("workbench.ui", ("workbench.cli",), ()),
    ("workbench.cli", ("workbench.ui",), ("workbench.cli.cmd_tui",)),
    ("workbench.core", ("workbench.ui", "workbench.cli", "textual"), ()),
    ("workbench.core.telemetry", ("workbench.core.backends",), ()),
    ("workbench.core.hw", ("workbench.core.profiles",), ()),
)


@pytest.mark.parametrize(
    ("source", "targets", "allowed"), LAYER_RULES, ids=[f"{s} !-> {'|'.join(t)}" for s, t, _ in LAYER_RULES]
)
def test_layer_rules(source, targets, allowed):
    bad = forbidden(IMPORTS, source, targets, allowed)
    assert not bad, f"{source} must not import {', '.join(targets)}:\n" + "\n".join(bad)


# -- the checker itself, on synthetic packages ------------------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


def test_checker_reports_a_cycle_through_a_function_level_import(tmp_path):
    root = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import g\n",
            "pkg/b.py": "def g():\n    from pkg import a\n    return a\n",
            "pkg/c.py": "import pkg.a\n",
        },
    )
    edges, imports = import_graph(root, "pkg")
    assert edges["pkg.b"] == {"pkg.a"}  # "from pkg import a" names the module, not the package
    assert cycles(edges) == [["pkg.a", "pkg.b"]]
    assert "pkg.b:2 imports pkg.a" in describe(["pkg.a", "pkg.b"], imports)


def test_checker_reports_a_type_checking_only_cycle_and_relative_imports(tmp_path):
    root = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "from .x import X\n",
            "pkg/sub/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..y import Y\nX = 1\n",
            "pkg/y.py": "from .sub import x\nY = 2\n",
        },
    )
    edges, _ = import_graph(root, "pkg")
    assert edges["pkg.sub"] == {"pkg.sub.x"}
    assert edges["pkg.sub.x"] == {"pkg.y"}
    assert cycles(edges) == [["pkg.sub.x", "pkg.y"]]


def test_checker_adds_no_parent_edges_and_reports_self_imports(tmp_path):
    root = _package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\n",
            "pkg/a.py": "import os\nfrom pkg.b import g\ndef f():\n    from pkg.a import f as again\n",
            "pkg/b.py": "import pkg.missing.thing\ng = 1\n",
        },
    )
    edges, imports = import_graph(root, "pkg")
    assert edges["pkg.b"] == {"pkg"}  # an unknown submodule resolves to the nearest module there is
    assert edges["pkg.a"] == {"pkg.b", "pkg.a"}  # not "pkg", although Python runs pkg/__init__.py first
    assert cycles(edges) == [["pkg", "pkg.a", "pkg.b"]]
    assert cycles({"pkg.a": {"pkg.a"}}) == [["pkg.a"]]
    assert forbidden(imports, "pkg.a", ("os",)) == ["pkg.a:1 imports os"]
    assert forbidden(imports, "pkg", ("pkg.bb",)) == []
    assert forbidden(imports, "pkg", ("os",), allowed=("pkg.a",)) == []
