"""``workbench profiles list | show NAME [--json] | validate FILE... | detect [--root DIR] [--json]``.

Stdlib only at module top (pydantic is imported inside the handlers). Exit codes: 0 ok; 3 (CONFIG)
when ``validate`` finds a problem or ``show`` is given an invalid/unknown profile.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workbench.cli.common import root_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profiles",
        help="list, show, validate and auto-detect device profiles",
        description="Device profiles: TOML files in the user config dir and bundled with workbench.",
    )
    sub = p.add_subparsers(dest="profiles_command", metavar="ACTION")
    p.set_defaults(handler="workbench.cli.cmd_profiles:run_list")

    q = sub.add_parser("list", help="every profile with its status (invalid ones show their first problem)")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler="workbench.cli.cmd_profiles:run_list")

    q = sub.add_parser("show", help="the resolved settings of a profile (extends merged)")
    q.add_argument("name", help="profile name or TOML path")
    q.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")
    q.set_defaults(handler="workbench.cli.cmd_profiles:run_show")

    q = sub.add_parser("validate", help="check profile files; prints every problem as FILE:LINE: message")
    q.add_argument("files", nargs="+", metavar="FILE", help="profile TOML file(s) (or names)")
    q.set_defaults(handler="workbench.cli.cmd_profiles:run_validate")

    q = sub.add_parser("detect", help="which device this is and which profile it gets")
    q.add_argument("--root", default="/", type=root_dir, metavar="DIR", help="filesystem root to inspect (default /)")
    q.add_argument("--no-nvml", action="store_true", help="do not query NVIDIA GPUs via NVML")
    q.add_argument("--json", action="store_true", help="print one JSON document")
    q.set_defaults(handler="workbench.cli.cmd_profiles:run_detect")


def run_list(args: argparse.Namespace) -> int:
    from workbench.core.profiles import list_profiles

    entries = list_profiles()
    if getattr(args, "json", False):
        rows = [
            {"name": e.name, "path": str(e.path), "description": e.description, "valid": e.error is None,
             "error": e.error}
            for e in entries
        ]  # fmt: skip
        print(json.dumps({"profiles": rows}, indent=2))
        return 0
    from workbench.core.textsafe import field

    width = max((len(field(e.name)) for e in entries), default=4)
    for e in entries:
        status = "ok" if e.error is None else "INVALID"
        # A profile is a user's TOML: its name and description stay on their line, escaped.
        print(f"{field(e.name):<{width}}  {status:<7}  {field(e.description)}")
        if e.error is not None:
            print(f"{'':<{width}}           {e.error}")
    if not entries:
        print("no profiles found", file=sys.stderr)
    return 0


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    return json.dumps(v)


def _print_tomlish(d: dict) -> None:
    """Resolved profile as TOML text (None values shown as comments: TOML has no null)."""
    for k in ("description", "extends"):
        if d.get(k) is not None:
            print(f"{k} = {_toml_value(d[k])}")
    print(f"# name: {d['name']}  file: {d['source_path']}  content_hash: {d['content_hash']}")
    for section, body in d.items():
        if not isinstance(body, dict) or section in ("content_hash",):
            continue
        print(f"\n[{section}]")
        for k, v in body.items():
            print(f"# {k} = (not set)" if v is None else f"{k} = {_toml_value(v)}")


def run_show(args: argparse.Namespace) -> int:
    from workbench.core.profiles import load_profile

    profile = load_profile(args.name)
    d = profile.to_dict()
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        _print_tomlish(d)
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from workbench.core.errors import ConfigError
    from workbench.core.profiles import resolve_path, validate_file

    bad = 0
    for item in args.files:
        try:
            path = resolve_path(item) if not Path(item).exists() else Path(item)
        except ConfigError as err:
            print(f"{item}:1: {err}", file=sys.stdout)
            bad += 1
            continue
        problems = validate_file(path)
        if problems:
            bad += 1
            for p in problems:
                print(p)
            print(f"{path}: INVALID ({len(problems)} problem{'s' if len(problems) != 1 else ''})", file=sys.stderr)
        else:
            print(f"{path}: ok", file=sys.stderr)
    return 3 if bad else 0


def run_detect(args: argparse.Namespace) -> int:
    from workbench.core.profiles.match import detect_device

    det = detect_device(Path(args.root), nvml=not args.no_nvml)
    if args.json:
        print(json.dumps(det.to_dict(), indent=2))
        return 0
    print(f"profile: {det.profile_name}")
    if det.hardware_profile and det.hardware_profile != det.profile_name:
        print(f"matches: {det.hardware_profile} (not used: its backend is not installed here)")
    print(f"kind:    {det.kind}")
    print(f"arch:    {det.arch}")
    if det.model:
        print(f"model:   {det.model}")
    if det.l4t:
        print(f"l4t:     R{det.l4t} (JetPack {det.jetpack or 'unknown'})")
    if det.gpu_name:
        print(f"gpu:     {det.gpu_name}")
    if det.tensorrt is not None:
        print(f"tensorrt: {det.tensorrt.one_line()}")
    print(f"reason:  {det.reason}")
    return 0
