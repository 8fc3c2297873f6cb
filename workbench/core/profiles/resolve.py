"""Find, merge (``extends``) and validate device profile files.

Lookup of a bare name: the user directory (``paths.user_profiles_dir()``, so a user file shadows a
bundled one) then the bundled ``workbench/data/profiles``. An argument containing "/" or ending in
``.toml`` is a path. A parent named in ``extends`` is looked up next to the child first, then as above;
``extends`` may also be a path (relative to the child's folder).

Merge: the parent is resolved first; the child's tables are merged into it key by key (nested tables
recursively; lists and scalars replace). ``description`` and ``extends`` are never inherited. Every
profile except ``base`` extends ``base`` unless it says ``extends = "none"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import ConfigError
from workbench.core.profiles.tomldoc import TomlDoc, did_you_mean, read_toml, table_name

NO_PARENT = "none"
BASE = "base"


def _search_dirs() -> list[Path]:
    return [paths.user_profiles_dir(), paths.bundled_profiles_dir()]


def is_path_like(name_or_path: str) -> bool:
    return "/" in name_or_path or name_or_path.endswith(".toml")


def available_names() -> list[str]:
    """Names of every profile in the user and bundled directories (sorted, unique)."""
    names: set[str] = set()
    for d in _search_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


def find_profile(name: str, *, near: Path | None = None) -> Path | None:
    """Path of the profile called ``name`` (``near`` first, then user dir, then bundled), or None."""
    dirs = ([near] if near is not None else []) + _search_dirs()
    for d in dirs:
        p = d / f"{name}.toml"
        if p.is_file():
            return p
    return None


def _deep_merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(parent)
    for k, v in child.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class _Resolver:
    """Resolves one extends chain, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.docs: list[TomlDoc] = []  # most-derived first
        self.chain_broken = False

    def resolve(self, path: Path, stack: tuple[Path, ...] = ()) -> dict[str, Any] | None:
        doc = read_toml(path)
        self.docs.append(doc)
        self.problems.extend(doc.problems)
        if doc.data is None:
            self.chain_broken = True
            return None
        own = dict(doc.data)
        ext = own.pop("extends", None)
        own.pop("description", None)
        parent_name = self._parent_name(doc, ext)
        if parent_name is None:
            return own
        line = doc.line_for(("extends",))
        if is_path_like(parent_name):
            parent_path: Path | None = (path.parent / parent_name).expanduser()
            if not parent_path.is_file():
                parent_path = None
        else:
            parent_path = find_profile(parent_name, near=path.parent)
        if parent_path is None:
            looked = ", ".join(str(d) for d in [path.parent.resolve(), *_search_dirs()])
            hint = did_you_mean(parent_name, available_names())
            self.problems.append(
                f"{doc.where(line)}: extends '{parent_name}': no such profile (looked in {looked}){hint}"
            )
            self.chain_broken = True
            return own
        here = path.resolve()
        chain = (*stack, here)
        if parent_path.resolve() in chain:
            names = [p.stem for p in chain] + [parent_path.stem]
            root = self.docs[0]  # report it in the file being checked, naming the whole chain
            self.problems.append(f"{root.where(root.line_for(('extends',)))}: extends cycle: {' -> '.join(names)}")
            self.chain_broken = True
            return own
        parent = self.resolve(parent_path, chain)
        if parent is None:
            return own
        return _deep_merge(parent, own)

    def _parent_name(self, doc: TomlDoc, ext: Any) -> str | None:
        if ext is None:
            return None if doc.path.stem == BASE else BASE
        if not isinstance(ext, str):
            self.problems.append(
                f"{doc.where(doc.line_for(('extends',)))}: extends: must be a profile name or path string (got {ext!r})"
            )
            return None
        if ext.strip().lower() == NO_PARENT or ext.strip() == "":
            return None
        return ext.strip()


def _known_fields(loc: tuple[Any, ...]) -> list[str]:
    """Field names valid at the table ``loc`` (for "did you mean")."""
    from workbench.core.profiles.schema import SECTIONS, TOP_LEVEL_KEYS, ShapeRange

    if not loc:
        return list(TOP_LEVEL_KEYS)
    model = SECTIONS.get(str(loc[0]))
    if model is None:
        return []
    if len(loc) == 1:
        return list(model.model_fields)
    if loc[0] == "build" and loc[1] == "shapes" and len(loc) == 3:
        return list(ShapeRange.model_fields)
    return []


def _format_error(err: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    dotted = ".".join(str(p) for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        key, parent = str(loc[-1]), loc[:-1]
        where = "top-level key or table" if not parent else f"key in {table_name(parent)}:"
        if not parent and key in ("name", "source_path"):
            return f"unknown top-level key '{key}' (a profile's name is its file name; use description)"
        return f"unknown {where} '{key}'{did_you_mean(key, _known_fields(parent))}"
    if kind == "missing":
        return f"missing key '{loc[-1]}' in {table_name(loc[:-1])}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got = err.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    return f"{dotted}: {msg}{shown}"


def _locate(docs: list[TomlDoc], loc: tuple[Any, ...]) -> str:
    """FILE:LINE of the most-derived file in the chain that sets ``loc`` (or its nearest table)."""
    for i in range(len(loc), 0, -1):
        for d in docs:
            if d.data is not None and d.sets(loc[:i]):
                return d.where(d.line_for(loc[:i]))
    return docs[0].where(1)


def analyse_file(path: Path) -> tuple[Any, list[str]]:
    """Resolve and validate the profile file at ``path``.

    Returns ``(profile, problems)``: a :class:`Profile` and ``[]`` when valid, else ``None`` and every
    problem as ``FILE:LINE: message`` (sorted by file order in the chain, then line)."""
    from pydantic import ValidationError

    from workbench.core.profiles.schema import Profile

    path = Path(path)
    r = _Resolver()
    merged = r.resolve(path)
    problems = list(r.problems)
    if merged is None:
        return None, problems
    own = r.docs[0].data or {}
    desc = own.get("description", "")
    ext = own.get("extends")
    for d in r.docs:  # keys the loader fills in itself must not come from a file
        for reserved in ("name", "source_path"):
            if d.data is not None and reserved in d.data:
                msg = _format_error({"type": "extra_forbidden", "loc": (reserved,), "msg": "", "input": None})
                problems.append(f"{d.where(d.line_for((reserved,)))}: {msg}")
    data = dict(merged)
    data["name"] = path.stem
    data["description"] = desc
    if isinstance(ext, str) and ext.strip().lower() not in ("", NO_PARENT):
        data["extends"] = ext.strip()
    else:
        data["extends"] = None if (ext is not None or path.stem == BASE) else BASE
    data["source_path"] = path
    profile = None
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        located = []
        for err in exc.errors():
            if r.chain_broken and err["type"] == "missing":
                continue  # keys a missing/broken parent would have given: not this file's fault
            located.append(f"{_locate(r.docs, tuple(err['loc']))}: {_format_error(err)}")
        problems.extend(located)
    if profile is not None and not problems:
        problems.extend(_cross_checks(profile, r.docs))
    if problems:
        return None, _order(problems, r.docs)
    return profile, []


def _cross_checks(profile: Any, docs: list[TomlDoc]) -> list[str]:
    out = []
    b, dev = profile.build, profile.device
    if b.dla_core >= 0 and b.dla_core >= dev.dla_cores:
        out.append(
            f"{_locate(docs, ('build', 'dla_core'))}: build.dla_core: {b.dla_core} but device.dla_cores is "
            f"{dev.dla_cores} (DLA cores are numbered from 0; use -1 for GPU only)"
        )
    if b.backend == "onnxruntime" and b.dla_core >= 0:
        out.append(f"{_locate(docs, ('build', 'dla_core'))}: build.dla_core: DLA needs backend 'tensorrt'")
    return out


def _order(problems: list[str], docs: list[TomlDoc]) -> list[str]:
    rank = {str(d.path): i for i, d in enumerate(docs)}

    def key(p: str) -> tuple[int, int, str]:
        head, _, rest = p.partition(": ")
        file, _, line = head.rpartition(":")
        return (rank.get(file, len(rank)), int(line) if line.isdigit() else 0, rest)

    seen: set[str] = set()
    unique = [p for p in problems if not (p in seen or seen.add(p))]
    return sorted(unique, key=key)


def resolve_path(name_or_path: str) -> Path:
    """The file a profile name or path refers to; ConfigError naming the candidates if none."""
    if is_path_like(name_or_path):
        p = Path(name_or_path).expanduser()
        if not p.is_file():
            raise ConfigError(f"profile file not found: {p}", hint="check the path, or give a profile name")
        return p
    p = find_profile(name_or_path)
    if p is None:
        names = available_names()
        raise ConfigError(
            f"no profile named '{name_or_path}'{did_you_mean(name_or_path, names)}",
            hint=f"available: {', '.join(names) or '(none)'}; user profiles go in {paths.user_profiles_dir()}",
        )
    return p


def list_profile_paths() -> list[tuple[str, Path]]:
    """``(name, path)`` of every profile file, user directory first (it shadows bundled names)."""
    seen: dict[str, Path] = {}
    for d in _search_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                seen.setdefault(p.stem, p)
    return sorted(seen.items())
