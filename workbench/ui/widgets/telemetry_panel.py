"""Telemetry next to the latency: power (total and per rail), temperatures, CPU/GPU load and clocks, RAM,
energy per inference. Missing values read "n/a" with the source's reason; recorded data carries its label.

Polls its feed every ``interval_s`` (default 0.5 s) and redraws only when the sample changed (no busy redraw).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from workbench.core.live import energy_per_inference_mj


def _reason(unavailable: dict[str, str], *keys: str) -> str:
    for k in keys:
        for name, why in unavailable.items():
            if name == k or name.startswith(k + "."):
                return why
    return "not reported by this source"


def _fmt(v: float | None, fmt: str, unit: str) -> str | None:
    return None if v is None else f"{v:{fmt}}{unit}"


def telemetry_lines(
    sample: Any, feed: Any, *, ips: float | None = None, wide: bool = True, compact: bool = False
) -> list[tuple[str, str, str]]:
    """(label, value, reason) rows for a sample; reason is "" when the value is present. ``compact`` puts the
    rails on the power line and lists at most three temperatures (one line each at 80 columns)."""
    un = getattr(feed, "unavailable", {}) or {}
    rows: list[tuple[str, str, str]] = []

    def row(label: str, value: str | None, *keys: str, reason: str | None = None) -> None:
        rows.append((label, value, "") if value is not None else (label, "n/a", reason or _reason(un, *keys)))

    total = sample.total_power_mw if sample is not None else None
    rule = f" ({sample.total_power_rule})" if sample is not None and sample.total_power_rule else ""
    rails = []
    if sample is not None and sample.rails_mw:
        rails = [
            f"{k} {v.now_mw / 1000:.2f}"
            for k, v in sample.rails_mw.items()
            if v.now_mw is not None and not k.startswith("NC") and k != sample.total_power_rule
        ]
    power = f"{total / 1000:.2f} W{rule}" if total is not None else None
    if power is not None and rails and compact:
        power += " · " + ", ".join(rails) + " W"
    row("Power", power, "total_power_mw", "power")
    if rails and not compact:
        rows.append(("  rails", ", ".join(rails) + " W", ""))
    e = energy_per_inference_mj(total, ips)
    why_e = "no benchmark running" if total is not None and not ips else None
    row("Energy", _fmt(e, ".3f", " mJ/inference (live estimate)"), "total_power_mw", "power", reason=why_e)
    temps = {k: v for k, v in (sample.temps_c.items() if sample is not None else ()) if v is not None}
    if temps:
        items = sorted(temps.items(), key=lambda kv: -kv[1])
        shown = items[:3] if compact or not wide else items
        rows.append(("Temp", ", ".join(f"{k} {v:.1f}" for k, v in shown) + " °C", ""))
    else:
        row("Temp", None, "temps_c", "temps")
    cpu = sample.cpu_load_mean_pct if sample is not None else None
    freqs = [c.freq_mhz for c in (sample.cpu if sample is not None else ()) if c.online and c.freq_mhz is not None]
    cpu_text = None
    if cpu is not None:
        online = sum(1 for c in sample.cpu if c.online)
        cpu_text = f"{cpu:.0f} % of {online} cores"
        if freqs:
            cpu_text += f" @ {sum(freqs) / len(freqs):.0f} MHz"
    row("CPU", cpu_text, "cpu")
    gpu = sample.gpu if sample is not None else None
    gpu_text = None
    if gpu is not None and (gpu.load_pct is not None or gpu.freq_mhz):
        parts = []
        if gpu.load_pct is not None:
            parts.append(f"{gpu.load_pct:.0f} %")
        f = [x for x in gpu.freq_mhz if x is not None]
        if f:
            parts.append(f"@ {max(f):.0f} MHz")
        gpu_text = " ".join(parts)
    row("GPU", gpu_text, "gpu", "gpu.load_pct")
    ram = sample.ram_mb if sample is not None else None
    ram_text = None
    if ram is not None and ram.used is not None and ram.total is not None:
        ram_text = f"{ram.used:.0f} / {ram.total:.0f} MB"
    row("RAM", ram_text, "ram_mb")
    return rows


class TelemetryPanel(Static):
    DEFAULT_CSS = """
    TelemetryPanel { height: auto; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, interval_s: float = 0.5) -> None:
        super().__init__("", id=id)
        self.interval_s = interval_s
        self.ips: float | None = None
        self.compact = False
        self._last_key: Any = object()

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(self.interval_s, self.poll)

    def poll(self) -> None:
        feed = getattr(self.app, "telemetry", None)
        sample = feed.latest() if feed is not None else None
        wide = self.size.width >= 60 or self.size.width == 0
        key = (
            id(feed),
            getattr(feed, "error", None),
            sample.seq if sample is not None else None,
            round(self.ips or 0, -1),
            wide,
            self.compact,
        )
        if key == self._last_key:
            return
        self._last_key = key
        self.update(self.render_text(feed, sample, wide))

    def render_text(self, feed: Any, sample: Any, wide: bool) -> Text:
        t = Text(no_wrap=self.compact, overflow="ellipsis")
        if feed is None:
            t.append("Telemetry: starting…", style="dim")
            return t
        t.append(f"Telemetry: {feed.name}", style="bold")
        if feed.label:
            label = "recorded" if self.compact and feed.label.startswith("recorded") else feed.label
            t.append(f"  [{label}]", style="bold yellow")
        t.append("\n")
        if feed.error:
            t.append(f"n/a: {feed.error}", style="yellow")
            return t
        for label, value, reason in telemetry_lines(sample, feed, ips=self.ips, wide=wide, compact=self.compact):
            t.append(f"{label:<7} ", style="bold")
            if reason:
                t.append("n/a", style="yellow")
                t.append(f" ({reason})\n", style="dim")
            else:
                t.append(f"{value}\n")
        t.rstrip()
        return t
