"""README: "Every expected failure prints one `error:` line naming the file, key or line, and a `hint:`".

An AST scan of ``workbench/**/*.py`` for every ``WorkbenchError`` subclass built without a ``hint=`` keyword where
it is

- raised directly: ``raise ModelError(...)``;
- assigned to a name that the same function then raises: ``err = ModelError(...)`` ... ``raise err``;
- returned by an error factory: ``return ModelError(...)`` (its caller raises what it returns).

``hint=None`` or a ``hint=`` whose value may be empty counts as given: the scan checks that each error was given a
thought, not what it says. A failure lists ``FILE:LINE`` of every culprit.
"""

from __future__ import annotations

import ast
from pathlib import Path

from workbench.core import errors

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "workbench"

#: Error classes that need no hint, with the reason.
EXEMPT_CLASSES: dict[str, str] = {
    "Cancelled": "the user cancelled (Ctrl-C, `workbench jobs cancel`, the TUI's cancel): not a failure, nothing to fix",
}

#: ``"path/relative/to/repo.py:function"`` -> why a raise there may go without a hint. Keep it small: an entry is
#: for an error that never reaches a person as it is (always caught and replaced by one that has a hint).
ALLOWLIST: dict[str, str] = {}


def _error_classes() -> set[str]:
    names: set[str] = set()
    todo: list[type] = [errors.WorkbenchError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names - set(EXEMPT_CLASSES)


def _class_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):  # errors.ModelError(...), E.BuildError(...)
        return f.attr
    return None


def _has_hint(call: ast.Call) -> bool:
    return any(k.arg == "hint" for k in call.keywords) or any(k.arg is None for k in call.keywords)  # **kwargs


class _Scan(ast.NodeVisitor):
    def __init__(self, classes: set[str], rel: str) -> None:
        self.classes, self.rel = classes, rel
        self.found: list[tuple[str, int, str]] = []  # (path:line, line, function)
        self.func: list[str] = []
        self.assigned: list[dict[str, ast.Call]] = [{}]

    def _error_call(self, node: ast.AST | None) -> ast.Call | None:
        if isinstance(node, ast.Call) and _class_name(node) in self.classes and not _has_hint(node):
            return node
        return None

    def _report(self, call: ast.Call) -> None:
        self.found.append((f"{self.rel}:{call.lineno}", call.lineno, self.func[-1] if self.func else "<module>"))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.func.append(node.name)
        self.assigned.append({})
        self.generic_visit(node)
        self.assigned.pop()
        self.func.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Assign(self, node: ast.Assign) -> None:
        call = self._error_call(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if call is not None:
                    self.assigned[-1][target.id] = call
                else:
                    self.assigned[-1].pop(target.id, None)
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        call = self._error_call(node.exc)
        if call is None and isinstance(node.exc, ast.Name):
            call = self.assigned[-1].get(node.exc.id)
        if call is not None:
            self._report(call)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        call = self._error_call(node.value)
        if call is not None:
            self._report(call)
        self.generic_visit(node)


def _scan(path: Path, classes: set[str]) -> list[tuple[str, int, str]]:
    rel = path.relative_to(ROOT).as_posix()
    scan = _Scan(classes, rel)
    scan.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return sorted(set(scan.found), key=lambda f: f[1])


def _culprits() -> tuple[list[str], set[str]]:
    classes = _error_classes()
    culprits: list[str] = []
    used: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for where, _line, func in _scan(path, classes):
            key = f"{where.rsplit(':', 1)[0]}:{func}"
            if key in ALLOWLIST:
                used.add(key)
                continue
            culprits.append(f"{where} ({func})")
    return culprits, used


def test_the_scan_sees_the_error_classes() -> None:
    classes = _error_classes()
    assert {"UsageError", "ModelError", "PowerError", "RunnerStateError", "WorkbenchError"} <= classes
    assert "Cancelled" not in classes


def test_the_scan_finds_raises_without_a_hint(tmp_path: Path) -> None:
    src = tmp_path / "sample.py"
    src.write_text(
        "def f(x):\n"
        "    if x == 1:\n"
        "        raise ModelError('a')\n"  # 3: direct
        "    if x == 2:\n"
        "        raise errors.UsageError('b', hint='do this')\n"  # has a hint
        "    err = ConfigError('c')\n"  # 6: raised below
        "    if x == 3:\n"
        "        raise err from None\n"
        "    if x == 4:\n"
        "        raise Cancelled('d')\n"  # exempt
        "    return BuildError('e')\n"  # 11: a factory's error
    )
    found = _Scan(_error_classes(), "sample.py")
    found.visit(ast.parse(src.read_text()))
    assert sorted(line for _, line, _ in found.found) == [3, 6, 11]
    assert {func for *_, func in found.found} == {"f"}


def test_every_error_has_a_hint() -> None:
    culprits, _ = _culprits()
    assert not culprits, (
        f"{len(culprits)} error(s) raised without hint= (say what to do next: a flag, a file to check, a command to "
        "run; or list the function in ALLOWLIST with the reason):\n  " + "\n  ".join(culprits)
    )


def test_the_allowlist_has_no_stale_entries() -> None:
    _, used = _culprits()
    stale = sorted(set(ALLOWLIST) - used)
    assert not stale, f"ALLOWLIST entries that no longer match a raise without a hint: {stale}"
