"""The argparse parser every ``workbench`` command uses: a mistyped option or command gets a "did you mean".

``WorkbenchParser.parse_args`` finds the (sub)command the line selected, and for each unrecognised option
(``--precison``, ``--precison=int8``) the closest option string of that command (difflib, cutoff 0.6); a mistyped
command or choice (``bnech``) gets the closest choice. Sub-parsers are made with the same class
(``add_subparsers`` uses ``type(self)``), so every subcommand has it. Exit status 2, as for every usage error.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--")]


def close_option(word: str, options: Sequence[str]) -> str | None:
    """The option in ``options`` closest to ``word`` (an unknown ``--opt`` or ``--opt=value``), or None."""
    name = word.split("=", 1)[0]
    found = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


class WorkbenchParser(argparse.ArgumentParser):
    """argparse with suggestions for mistyped options, commands and choices (module docstring)."""

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._selected(ns)
            options = _option_strings(parser)
            hints = []
            for word in extras:
                if word.startswith("-"):
                    guess = close_option(word, options)
                    if guess:
                        hints.append(f"{word.split('=', 1)[0]} -> did you mean {guess}?")
            msg = "unrecognized arguments: " + " ".join(extras)
            if hints:
                msg += "\nhint: " + "; ".join(hints)
            parser.error(msg)
        return ns

    def _selected(self, ns: Any) -> argparse.ArgumentParser:
        """The innermost parser the parsed command line went into (``workbench results compare`` -> compare's)."""
        parser: argparse.ArgumentParser = self
        while True:
            sub = _subparsers(parser)
            if sub is None:
                return parser
            name = getattr(ns, sub.dest, None) if sub.dest != argparse.SUPPRESS else None
            nxt = sub.choices.get(name) if name else None
            if nxt is None:
                return parser
            parser = nxt

    def error(self, message: str) -> NoReturn:
        m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if m and "\nhint:" not in message:
            choices = re.findall(r"'([^']*)'", m.group(2)) or [c.strip() for c in m.group(2).split(",")]
            found = difflib.get_close_matches(m.group(1), choices, n=1, cutoff=0.6)
            if found:
                message += f"\nhint: did you mean {found[0]!r}?"
        m = re.search(r"argument (\S+): not allowed with argument (\S+)", message)
        if m and "\nhint:" not in message:  # a mutually exclusive pair (--detach / --foreground, --iterations / …)
            message += f"\nhint: give {m.group(2)} or {m.group(1)}, not both"
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")
