"""Untrusted text in the TUI (issue 18, item 4): a model path with markup in it (a folder named ``[/]a[bold]x``) is
shown as named — never parsed as markup, so no MarkupError and no styling — in notifications, the model pane, the
status line, the results table and detail, and the jobs table; control characters and bidi overrides from the
model (producer, input names, symbolic dims) are shown escaped, never raw."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))

from rich.text import Text  # noqa: E402
from test_terminal_escapes import EVIL, SHOWN, make_evil_model  # noqa: E402
from tui_helpers import FIXTURES, PROFILE, rich_text, screen_lines, text, wait_for, wait_idle  # noqa: E402

RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MARKUP_DIR = "a[/]b[bold]x"  # folders "a[" and "]b[bold]x": as markup, an unmatched closing tag and a bold one


def _assert_clean(shown: str) -> None:
    hit = RAW.search(shown)
    assert hit is None, f"raw {hit.group()!r} shown: {shown[max(0, hit.start() - 60) : hit.end() + 20]!r}"


def test_a_failed_load_of_a_path_with_markup_notifies_it_literally(tmp_path):
    from workbench.ui.app import make_app

    missing = tmp_path / MARKUP_DIR / ("gone" + EVIL + ".onnx")
    missing.parent.mkdir(parents=True)  # "a[" and "]b[bold]x": the path reads a[/]b[bold]x

    async def go():
        app = make_app(str(missing), profile=PROFILE)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_idle(pilot)
            await wait_for(pilot, lambda: app._notifications, 30, "the failure's notification")
            notes = [(n.title, n.message, n.markup) for n in app._notifications]
            await wait_for(pilot, lambda: any("gone" in ln for ln in screen_lines(app)), 30, "the toast on screen")
            return notes, "\n".join(screen_lines(app)), text(app.screen.query_one("#model-info"))

    notes, screen, info = asyncio.run(go())
    (title, message, markup) = notes[0]
    assert markup is False
    assert f"{MARKUP_DIR}/gone{SHOWN}.onnx" in message  # the path as named, its controls escaped
    _assert_clean(message)
    assert f"{MARKUP_DIR}/gone" in screen  # the toast shows the brackets: nothing was taken as a tag
    _assert_clean(screen)
    assert f"{MARKUP_DIR}/gone{SHOWN}.onnx" in info
    _assert_clean(info)


def _stored_result(model_path: Path) -> int:
    from workbench.core.results.result import result_from_dict
    from workbench.core.results.store import ResultStore

    d = copy.deepcopy(json.loads((FIXTURES / "results.json").read_text())["results"][0])
    d.pop("id", None)
    d["model"] = str(model_path)
    d["profile"] = "pro[bold]file" + EVIL
    with ResultStore() as db:
        return db.add(result_from_dict(d))


def test_model_results_and_jobs_show_markup_and_escapes_literally(tmp_path, workbench_home):
    from workbench.core import jobs
    from workbench.ui.app import make_app

    model = make_evil_model(tmp_path / MARKUP_DIR)
    rid = _stored_result(model)
    # A job whose command holds such a name (a missing file: the job fails at once, naming it in its outcome).
    job = jobs.start(["inspect", MARKUP_DIR + EVIL])
    deadline = time.monotonic() + 120
    while job.state() == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.state() == "failed"

    async def go():
        app = make_app(str(model), profile=PROFILE)
        seen = {}
        async with app.run_test(size=(160, 50), notifications=True) as pilot:
            await wait_idle(pilot)
            seen["info"] = text(app.screen.query_one("#model-info"))
            seen["status"] = text(app.screen.query_one("#status"))
            app.notify(f"exported to {model}")  # as on_exported says it: a path the user typed
            await pilot.pause(0.1)
            seen["notes"] = [n.message for n in app._notifications]
            seen["screen"] = "\n".join(screen_lines(app))

            await pilot.press("7")
            table = app.screen.query_one("#results-table")
            await wait_for(pilot, lambda: table.row_count == 1, 30, "the stored result")
            seen["row"] = table.get_row(str(rid))
            await pilot.press("enter")
            detail = app.screen.query_one("#results-detail")
            await wait_for(pilot, lambda: "Model:" in rich_text(detail), 10, "the detail")
            seen["detail"] = rich_text(detail, width=400)

            await pilot.press("j")
            jt = app.screen.query_one("#jobs-table")
            await wait_for(pilot, lambda: jt.row_count >= 1, 30, "the jobs list")
            seen["job_row"] = jt.get_row(job.id)
            seen["jobs_screen"] = "\n".join(screen_lines(app))
        return seen

    seen = asyncio.run(go())
    info = seen["info"]
    _assert_clean(info)
    assert f"producer prod{SHOWN}" in info
    assert f"x{SHOWN}  float32  batch{SHOWN}x4" in info
    assert f"dynamic: batch{SHOWN}" in info
    assert f"{MARKUP_DIR}/m{SHOWN}.onnx" in info
    assert f"m{SHOWN}.onnx" in seen["status"]
    _assert_clean(seen["status"])
    assert seen["notes"][-1] == f"exported to {tmp_path}/{MARKUP_DIR}/m{SHOWN}.onnx"
    _assert_clean(seen["screen"])
    assert "[bold]x" in seen["screen"]  # the model pane and the toast show the tag's text

    row = seen["row"]
    assert all(isinstance(c, Text) or c == "" for c in row)  # Text cells: never parsed as markup
    assert any(str(c) == f"pro[bold]file{SHOWN}" for c in row)
    for c in row:
        _assert_clean(str(c))
    assert f"Model: {tmp_path}/{MARKUP_DIR}/m{SHOWN}.onnx" in seen["detail"]
    _assert_clean(seen["detail"])

    job_row = [str(c) for c in seen["job_row"]]
    assert f"inspect '{MARKUP_DIR}\\x…" in job_row  # the command (shell-quoted), cut at the column's width
    assert f"model file {MARKUP_DIR}{SHOWN} does not exist" in job_row  # the outcome
    assert all(isinstance(c, Text) for c in seen["job_row"])
    _assert_clean(seen["jobs_screen"])
