"""`calibrate` and `bench --precision int8` on cpu-x86_64, through the real `workbench` command: the INT8 recipe is the
one picked for this machine's CPU (precision/cpu_recipes.py), and the JSON says which one, for which instruction set
and why; the bundled model and calibration set."""

from __future__ import annotations

import json

from workbench.core.hw.cpu_isa import detect
from workbench.core.precision.cpu_recipes import PLAIN_RECIPES, recipe_for_isa


def test_calibrate_and_bench_int8_record_the_recipe_for_this_cpu(run_cli):
    isa = detect().isa
    want = recipe_for_isa(isa)
    res = run_cli("calibrate", "--profile", "cpu-x86_64", "--json", "--foreground", timeout=300)
    assert res.returncode == 0, res.stderr
    cal = json.loads(res.stdout)
    assert (cal["cpu_recipe"]["cpu_recipe"], cal["cpu_recipe"]["isa"]) == (want, isa)
    assert cal["cpu_recipe"]["source"] == "auto" and cal["cpu_recipe"]["reason"]
    assert cal["quant_format"] == PLAIN_RECIPES[want]["quant_format"]
    assert f"INT8 recipe {want} (auto for {isa}" in res.stderr  # the calibrate step says it as it starts

    res = run_cli(
        "bench", "--profile", "cpu-x86_64", "--precision", "int8", "--iterations", "30", "--warmup-iterations", "3",
        "--no-store", "--json", "--foreground", timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    calibration = json.loads(res.stdout)["calibration"]
    assert (calibration["cpu_recipe"], calibration["isa"]) == (want, isa)
    assert calibration["cached"] is True and calibration["recipe_reason"]  # the QDQ model calibrate made, reused
