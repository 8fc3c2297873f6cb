"""The Calibrate screen's verdict shows the per-slice, collapsed and task lines the CLI prints (same core text)."""

from __future__ import annotations

from workbench.core.accuracy import AccuracyReport
from workbench.core.results.summary import accuracy_detail_lines
from workbench.ui.screens.calibrate import verdict_text

REPORT = {
    "top1": None, "top1_fp32": None, "held_out": True, "samples": 16, "labeled": 0, "metric": "top1",
    "thresholds": {"max_top1_drop_pts": 0.5, "min_cosine": 0.99},
    "vs_fp32": {"cosine_min": 0.99998, "cosine_mean": 0.99998, "max_abs": 12.3, "mean_abs": 0.5, "top1_agreement": None},
    "per_output": {}, "verdict": "fail",
    "reasons": ["collapsed: output 'output' channels 4:10 (scores): at most 2 distinct values per channel (0, 1.97)"],
    "advice": ["keep the collapsed tensor in float"],
    "per_slice": {"output": {"axis": 1, "channels": 10, "selection": "parts", "slices": [
        {"name": "boxes", "channels": "0:4", "cosine": 0.99998, "max_abs": 12.3, "mean_abs": 1.0,
         "fp32_range": [0, 502], "range": [0, 502], "distinct": 3},
        {"name": "scores", "channels": "4:10", "cosine": 0.56, "max_abs": 0.99, "mean_abs": 0.3,
         "fp32_range": [0, 1], "range": [0, 1.97], "distinct": 2}]}},
    "collapsed": [{"output": "output", "axis": 1, "channels": "4:10", "part": "scores", "reason": "at most 2 ..."}],
    "task": {"kind": "detection", "output": "output", "positions": 4047, "agreement_pct": 49.0,
             "min_agreement_pct": 90.0, "score_threshold": 0.25},
}  # fmt: skip


def test_verdict_text_has_the_new_lines() -> None:
    rep = AccuracyReport.from_dict(REPORT)
    text = verdict_text(rep).plain
    for line in accuracy_detail_lines(rep):
        assert line in text
    assert "slices of 'output': boxes cos 0.99998 max-abs 12.3, scores cos 0.56000 max-abs 0.99" in text
    assert "task detection ('output'): top-class agreement 49.00 % on 4047 positions with FP32 score > 0.25" in text
    assert "reason: collapsed: output 'output' channels 4:10 (scores)" in text


def test_verdict_text_of_an_old_report_is_unchanged() -> None:
    old = {k: v for k, v in REPORT.items() if k not in ("per_slice", "collapsed", "task")}
    old.update(verdict="pass", reasons=[], advice=[])
    text = verdict_text(AccuracyReport.from_dict(old)).plain
    assert text.count("\n") == 1  # header line and the cosine line, nothing more
