"""Command palette (ctrl+p): screen switches, profile switch, run/stop benchmark, power sweep, export — only what applies now."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.ui.api import WorkbenchApi
from workbench.ui.keymap import SCREENS
from workbench.ui.messages import JobKind


class WorkbenchCommands(Provider):
    @property
    def wb(self) -> WorkbenchApi:
        return cast(WorkbenchApi, self.app)

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = self.wb
        out: list[tuple[str, Callable[[], Any], str]] = []
        for mode, _bid, _key, label in SCREENS:
            out.append((f"Go to {label}", partial(app.action_goto, mode), f"switch to the {label} screen"))
        out.append(("Help: keys", app.action_help, "list every key"))
        if app.busy == JobKind.BENCH:
            out.append(("Stop benchmark", app.action_cancel_job, "stop the running benchmark"))
        elif app.busy is None and app.state.job is not None:
            out.append(("Run benchmark", self._run_bench, f"benchmark {app.state.precision.upper()} now"))
        if app.busy is None and app.state.job is not None:
            out.append(("Run power sweep", self._run_sweep, "benchmark every nvpmodel power mode (Jetson)"))
        if app.busy is not None and app.busy != JobKind.BENCH:
            out.append((f"Cancel {app.busy}", app.action_cancel_job, "cancel the running job"))
        if app.busy is None:
            try:
                from workbench.core.profiles import list_profiles

                for e in list_profiles():
                    if not e.error:
                        out.append((f"Switch profile: {e.name}", partial(app.set_profile, e.name), e.description))
            except Exception:  # noqa: BLE001 - the palette must open even when profiles cannot be listed
                pass
            out.append(
                ("Switch profile: auto-detect", partial(app.set_profile, None), "use the detected device's profile")
            )
        for fmt, name in (("csv", "CSV"), ("json", "JSON"), ("md", "Markdown")):
            out.append((f"Export results as {name}", partial(self._export, fmt), f"write ./workbench-results.{fmt}"))
        return out

    def _start_on(self, mode: str) -> None:
        app = self.app
        self.wb.switch_mode(mode)
        app.call_after_refresh(lambda: getattr(app.screen, "action_start")())  # noqa: B009 - the screen's key action

    def _run_bench(self) -> None:
        self._start_on("bench")

    def _run_sweep(self) -> None:
        self._start_on("sweep")

    def _export(self, fmt: str) -> None:
        wb = self.wb
        wb.start_export(wb.results_source(), fmt, f"workbench-results.{fmt}", None)
        wb.notify(f"exporting to workbench-results.{fmt}…", timeout=3)

    async def discover(self) -> Hits:
        for name, cb, help_text in self._commands():
            yield DiscoveryHit(name, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, cb, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), cb, help=help_text)
