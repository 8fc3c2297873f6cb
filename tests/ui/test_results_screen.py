"""The Results screen at 80×24 over a real results database: a model column that tells different models apart,
each run's scenario, marked rows that stay marked wherever the cursor is, and the compare verdict of `workbench
results compare` — the same lines, from the same core code (core/results/compare.py)."""

from __future__ import annotations

import asyncio
import copy
import json

from rich.text import Text
from textual.widgets import DataTable
from tui_helpers import FIXTURES, PROFILE, rich_text, text, wait_for, wait_idle

from workbench.core.results.compare import column_heads, compare, verdict_lines
from workbench.core.results.result import result_from_dict
from workbench.core.results.store import ResultStore
from workbench.ui.screens.results import MARKED_ROW_STYLE, model_names


def _entries() -> list[dict]:
    """Four results made from a recorded one: two models both called model.onnx, a server run, a contended run,
    and a run whose telemetry was replayed."""
    base = json.loads((FIXTURES / "results.json").read_text())["results"][0]
    out = []
    for i, (path, extra) in enumerate(
        [
            ("/models/vision/model.onnx", {}),
            (
                "/models/audio/model.onnx",
                {
                    "scenario": "server",
                    "server": {
                        "qps_offered": 500.0,
                        "queries": 300,
                        "seed": 0,
                        "arrivals_s": [0.0, 0.002],
                        "latency_from": "scheduled arrival",
                    },
                },
            ),  # fmt: skip
            (
                "/models/vision/model.onnx",
                {
                    "contention": {
                        "others_cores": 1.4,
                        "other_benchmarks": [],
                        "threshold_cores": 0.25,
                        "contended": True,
                        "window_s": 3.0,
                        "resolution_cores": 0.01,
                    },
                },
            ),  # fmt: skip
            (
                "/models/audio/model.onnx",
                {"telemetry": {"source": "replay:t.log", "measured": False}, "measured": False},
            ),
        ]
    ):
        d = copy.deepcopy(base)
        d.pop("id", None)
        d["model"] = path
        d["latency_ms"] = dict(d["latency_ms"], median=0.04 + 0.01 * i)
        d.update(extra)
        out.append(d)
    return out


def test_model_names_tell_models_apart():
    rs = [result_from_dict(dict(d, id=i + 1)) for i, d in enumerate(_entries())]
    names = model_names(rs)
    assert names == {1: "vision/model", 2: "audio/model", 3: "vision/model", 4: "audio/model"}
    long = result_from_dict(dict(_entries()[0], id=9, model="/m/ch_PP-OCRv4_rec_infer.onnx"))
    assert model_names([long]) == {9: "ch_PP-O…_infer"}
    changed = result_from_dict(dict(_entries()[0], id=10, model_sha256="ab" * 32))
    other = result_from_dict(dict(_entries()[0], id=11, model_sha256="cd" * 32))
    assert model_names([changed, other]) == {10: "model@abab", 11: "model@cdcd"}


def test_results_screen_at_80x24(workbench_home):
    from workbench.ui.app import make_app

    with ResultStore() as db:
        ids = [db.add(result_from_dict(d)) for d in _entries()]
        stored = {i: db.get(i) for i in ids}

    async def go():
        app = make_app(None, profile=PROFILE)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("7")
            table = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count == 4, 30, "four results in the table")
            # the model column is on screen at 80 columns, and the two model.onnx files read differently
            widths = [c.get_render_width(table) for c in table.ordered_columns]
            keys = [c.key.value for c in table.ordered_columns]
            assert sum(widths[: keys.index("model") + 1]) <= 78
            assert sum(widths[: keys.index("acc") + 1]) <= 78  # every figure too; only when/profile may scroll
            models = {int(k.value): str(table.get_cell(k, "model")) for k in table.rows}
            assert models == {ids[0]: "vision/model", ids[1]: "audio/model", ids[2]: "vision/model",
                              ids[3]: "audio/model"}  # fmt: skip
            scen = {int(k.value): str(table.get_cell(k, "scenario")) for k in table.rows}
            assert scen[ids[1]] == "server" and scen[ids[0]] == "single"

            # the server run's detail names its scenario
            async def goto(rid: int) -> None:
                table.move_cursor(row=table.get_row_index(str(rid)))
                await wait_for(pilot, lambda: table.cursor_row == table.get_row_index(str(rid)), 10, "the cursor")

            await goto(ids[1])
            await pilot.press("enter")
            detail = app.screen.query_one("#results-detail")
            await wait_for(pilot, lambda: "scenario server" in rich_text(detail), 10, "the detail")
            assert "scenario server, 300 queries at 500 QPS" in rich_text(detail)
            # mark the contended run (A) and the plain one (B), then move the cursor away: both stay marked
            for rid in (ids[2], ids[0]):
                await goto(rid)
                await pilot.press("space")
            await goto(ids[3])
            for letter, rid in (("A", ids[2]), ("B", ids[0])):
                row = table.get_row(str(rid))
                assert isinstance(row[0], Text) and str(row[0]) == letter
                assert all(isinstance(c, Text) and c.style == MARKED_ROW_STYLE for c in row[1:])
            unmarked = table.get_row(str(ids[1]))
            # unmarked: plain cells (Text, never parsed as markup: names are the user's), without the marked style
            assert unmarked[0] == "" and isinstance(unmarked[1], Text) and not unmarked[1].style
            head = text(app.screen.query_one("#results-head"))
            assert f"A  #{ids[2]}" in head and f"B  #{ids[0]}" in head
            # compare: the core's verdict lines, word for word, and the core's column headings
            await pilot.press("c")
            await wait_for(pilot, lambda: "Verdict" in rich_text(detail), 60, "the comparison (worker)")
            shown = " ".join(rich_text(detail, width=200).split())
            doc = compare([stored[ids[2]], stored[ids[0]]])
            for line in verdict_lines(doc):  # the CLI's lines: "Verdict: A = #3, B = #1: no significant …"
                assert " ".join(line.split()) in shown
            assert f"Verdict: A = #{ids[2]}, B = #{ids[0]}: " in shown
            assert "no significant difference claimed: A was contended" in shown
            # the replayed run is labelled as the CLI labels it
            await goto(ids[0])
            await pilot.press("space")  # unmark B
            await goto(ids[3])
            await pilot.press("space")  # mark the replayed run as B
            await wait_for(pilot, lambda: f"#{ids[3]}" in text(app.screen.query_one("#results-head")), 10, "mark")
            await pilot.press("c")
            await wait_for(pilot, lambda: "[replayed]" in rich_text(detail, width=200), 60, "replayed label")
            heads = column_heads(compare([stored[ids[2]], stored[ids[3]]]), (f"#{ids[2]}", f"#{ids[3]}"))
            assert heads[1] == f"#{ids[3]} [replayed]"

    asyncio.run(go())
