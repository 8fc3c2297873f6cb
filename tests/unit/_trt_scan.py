"""Scan TensorRT backend sources for binding-name uses and the version guards around them.

A *use* is ``trt.X`` / ``trt.X.Y`` (``trt`` bound by ``import tensorrt as trt``) or ``<receiver>.m`` where the
receiver is a variable or attribute named as in ``compat.RECEIVERS`` (``builder``, ``config``, ``engine``, …),
typed by that table. Each use is checked against the reference name sets: the versions from which the code can
reach it (narrowed by the guards around it) must all define it.

Guards understood (anything else narrows nothing):
* ``<x>.has("feature")`` — the versions where every name of ``compat.FEATURES[feature]`` exists;
* ``<x>.at_least(M[, m])`` — the versions ≥ M.m;
* ``hasattr(trt, "X")``, ``hasattr(trt.X, "m")``, ``hasattr(<receiver>, "m")``;
* ``not``, ``and``, ``or`` of those; as ``if``/``elif``/``else`` branches, ``a if g else b``, ``g and a``,
  and early exits (``if not g: raise/return`` guards the rest of the block).
``getattr(obj, "NAME", default)`` is a probe, not a use.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from workbench.core.backends.tensorrt import compat as C

REF_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "trt" / "tensorrt-python-api.json"
REF = json.loads(REF_PATH.read_text())["versions"]
VERSIONS = frozenset(REF)


def vkey(v: str) -> tuple[int, int]:
    a, b = v.split(".")
    return int(a), int(b)


def exists(version: str, dotted: str) -> bool:
    data = REF[version]
    cls, _, member = dotted.partition(".")
    if not member:
        return cls in data["classes"] or cls in data["module_functions"] or cls in C.PY_HELPERS
    c = data["classes"].get(cls)
    if c is None:
        return False
    if member in c["members"]:
        return True
    if member.startswith("__") and member.endswith("__"):
        return True  # Python object protocol (e.g. __init__ of a subclassed interface)
    if cls == "Logger" and member in data["classes"].get("Severity", {}).get("members", []):
        return True  # documented: Severity values are also accessible in the Logger scope
    return False


def valid_versions(dotted: str) -> frozenset[str]:
    return frozenset(v for v in REF if exists(v, dotted))


def feature_versions(feature: str) -> frozenset[str]:
    return frozenset(v for v in REF if all(exists(v, n) for n in C.FEATURES[feature]))


@dataclass(frozen=True)
class Use:
    file: str
    line: int
    name: str
    reachable: frozenset[str]

    @property
    def missing(self) -> list[str]:
        return sorted(self.reachable - valid_versions(self.name), key=vkey)


def _receiver_type(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name) and node.id in C.RECEIVERS:
        return C.RECEIVERS[node.id]
    if isinstance(node, ast.Attribute) and node.attr in C.RECEIVERS:
        return C.RECEIVERS[node.attr]
    return None


def use_name(node: ast.AST) -> str | None:
    """The binding name an Attribute node uses, or None."""
    if not isinstance(node, ast.Attribute):
        return None
    v = node.value
    if isinstance(v, ast.Name) and v.id == "trt":
        return node.attr
    if isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id == "trt":
        return f"{v.attr}.{node.attr}"
    t = _receiver_type(v)
    if t is not None:
        return f"{t}.{node.attr}"
    return None


def cond_versions(expr: ast.AST) -> frozenset[str]:
    """Versions in which ``expr`` (a guard) can be true; VERSIONS when not a recognised guard."""
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
        inner = cond_versions(expr.operand)
        return VERSIONS - inner if inner != VERSIONS else VERSIONS
    if isinstance(expr, ast.BoolOp):
        parts = [cond_versions(x) for x in expr.values]
        out = VERSIONS if isinstance(expr.op, ast.And) else frozenset()
        for p in parts:
            out = out & p if isinstance(expr.op, ast.And) else out | p
        return out
    if isinstance(expr, ast.Call):
        f = expr.func
        args = expr.args
        if isinstance(f, ast.Attribute) and f.attr == "has" and len(args) == 1 and isinstance(args[0], ast.Constant):
            if args[0].value in C.FEATURES:
                return feature_versions(args[0].value)
        if (
            isinstance(f, ast.Attribute)
            and f.attr == "at_least"
            and args
            and all(isinstance(a, ast.Constant) for a in args)
        ):
            want = tuple(a.value for a in args) + (0,) * (2 - len(args))
            return frozenset(v for v in REF if vkey(v) >= want)
        if isinstance(f, ast.Name) and f.id == "hasattr" and len(args) == 2 and isinstance(args[1], ast.Constant):
            obj, member = args[0], args[1].value
            if isinstance(obj, ast.Name) and obj.id == "trt":
                return valid_versions(member)
            base = use_name(obj)
            if base is not None and "." not in base:
                return valid_versions(f"{base}.{member}")
            t = _receiver_type(obj)
            if t is not None:
                return valid_versions(f"{t}.{member}")
    return VERSIONS


def _exits(stmts: list[ast.stmt]) -> bool:
    return bool(stmts) and isinstance(stmts[-1], (ast.Raise, ast.Return, ast.Continue, ast.Break))


class _Scanner(ast.NodeVisitor):
    def __init__(self, file: str) -> None:
        self.file = file
        self.uses: list[Use] = []
        self.stack: list[frozenset[str]] = [VERSIONS]

    @property
    def reach(self) -> frozenset[str]:
        return self.stack[-1]

    def _with(self, versions: frozenset[str], nodes) -> None:
        self.stack.append(self.reach & versions)
        for n in nodes if isinstance(nodes, list) else [nodes]:
            self.visit(n)
        self.stack.pop()

    def _block(self, stmts: list[ast.stmt]) -> None:
        """Visit a statement list, applying early-exit guards to the statements after them."""
        pushed = 0
        for st in stmts:
            self.visit(st)
            if isinstance(st, ast.If) and _exits(st.body) and not st.orelse:
                g = cond_versions(st.test)
                if g != VERSIONS:
                    self.stack.append(self.reach & (VERSIONS - g))
                    pushed += 1
        for _ in range(pushed):
            self.stack.pop()

    def generic_visit(self, node: ast.AST) -> None:
        for _field, value in ast.iter_fields(node):
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self._block(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        g = cond_versions(node.test)
        self.stack.append(self.reach & g)
        self._block(node.body)
        self.stack.pop()
        self.stack.append(self.reach & (VERSIONS - g if g != VERSIONS else VERSIONS))
        self._block(node.orelse)
        self.stack.pop()

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self.visit(node.test)
        g = cond_versions(node.test)
        self._with(g, node.body)
        self._with(VERSIONS - g if g != VERSIONS else VERSIONS, node.orelse)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        acc = VERSIONS
        for value in node.values:
            self._with(acc, value)
            if isinstance(node.op, ast.And):
                acc = acc & cond_versions(value)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name) and f.id in ("getattr", "hasattr") and len(node.args) >= 2:
            # getattr(obj, "NAME", default) / hasattr(obj, "NAME"): probes; only the object expression is a use.
            self.visit(node.args[0])
            for a in node.args[2:]:
                self.visit(a)
            return
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = use_name(node)
        if name is not None:
            self.uses.append(Use(self.file, node.lineno, name, self.reach))
        self.generic_visit(node)


def scan_source(source: str, file: str = "<src>") -> list[Use]:
    s = _Scanner(file)
    s.visit(ast.parse(source))
    return s.uses


def violations(uses: list[Use]) -> list[str]:
    return [f"{u.file}:{u.line}: {u.name} missing in TensorRT {', '.join(u.missing)}" for u in uses if u.missing]


# Calls that produce TensorRT objects, and the binding class of the result (receiver naming is checked on them).
FACTORIES = {
    "Builder": "Builder",
    "OnnxParser": "OnnxParser",
    "Runtime": "Runtime",
    "Logger": "Logger",
    "Builder.create_network": "INetworkDefinition",
    "Builder.create_builder_config": "IBuilderConfig",
    "Builder.create_optimization_profile": "IOptimizationProfile",
    "Runtime.deserialize_cuda_engine": "ICudaEngine",
    "ICudaEngine.create_execution_context": "IExecutionContext",
    "ICudaEngine.create_engine_inspector": "EngineInspector",
    "IBuilderConfig.create_timing_cache": "ITimingCache",
    "IBuilderConfig.get_timing_cache": "ITimingCache",
    "INetworkDefinition.get_input": "ITensor",
    "INetworkDefinition.get_layer": "ILayer",
    "OnnxParser.get_error": "ParserError",
}


def naming_problems(source: str, file: str = "<src>") -> list[str]:
    """Assignments of a factory result to a name that does not follow the receiver convention."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Call):
            continue
        made = FACTORIES.get(use_name(node.value.func) or "")
        if made is None:
            continue
        for target in node.targets:
            name = (
                target.id
                if isinstance(target, ast.Name)
                else target.attr
                if isinstance(target, ast.Attribute)
                else None
            )
            if C.RECEIVERS.get(name or "") != made:
                out.append(f"{file}:{node.lineno}: a {made} is assigned to {name!r}; name it as in compat.RECEIVERS")
    return out
