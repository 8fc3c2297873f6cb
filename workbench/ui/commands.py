"""Command palette (ctrl+p): screen switches, profile switch, run/stop benchmark, power sweep, export — only what applies now."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.ui.keymap import SCREENS


class WorkbenchCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app: Any = self.app
        out: list[tuple[str, Callable[[], Any], str]] = []
        for mode, _bid, _key, label in SCREENS:
            out.append((f"Go to {label}", partial(app.action_goto, mode), f"switch to the {label} screen"))
        out.append(("Help: keys", app.action_help, "list every key"))
        if app.busy == "bench":
            out.append(("Stop benchmark", app.action_cancel_job, "stop the running benchmark"))
        elif app.busy is None and app.state.ctx is not None:
            out.append(("Run benchmark", self._run_bench, f"benchmark {app.state.precision.upper()} now"))
        if app.busy is None and app.state.ctx is not None:
            out.append(("Run power sweep", self._run_sweep, "benchmark every nvpmodel power mode (Jetson)"))
        if app.busy is not None and app.busy != "bench":
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

    def _run_bench(self) -> None:
        app: Any = self.app
        app.switch_mode("bench")
        app.call_after_refresh(lambda: app.screen.action_start())

    def _run_sweep(self) -> None:
        app: Any = self.app
        app.switch_mode("sweep")
        app.call_after_refresh(lambda: app.screen.action_start())

    def _export(self, fmt: str) -> None:
        app: Any = self.app
        app.job_export(app.results_source(), fmt, f"workbench-results.{fmt}", None)
        app.notify(f"exporting to workbench-results.{fmt}…", timeout=3)

    async def discover(self) -> Hits:
        for name, cb, help_text in self._commands():
            yield DiscoveryHit(name, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, cb, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), cb, help=help_text)
