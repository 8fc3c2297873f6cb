"""An empty --telemetry (``--telemetry "$SRC"`` with SRC unset) is a usage error, not a silent "auto"."""

from __future__ import annotations

import pytest

from workbench.cli.main import main


@pytest.mark.parametrize("command", ["bench", "run", "sweep", "tui"])
@pytest.mark.parametrize("value", ["", "  "])
def test_empty_telemetry_is_a_usage_error(command, value, capsys):
    with pytest.raises(SystemExit) as ei:
        main([command, "--telemetry", value])
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "argument --telemetry: empty: give auto, host, sysfs, tegrastats, nvml or replay:FILE" in err
