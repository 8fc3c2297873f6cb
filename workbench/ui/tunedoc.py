"""A tune job's outcome document (``outcome.json`` ``{"command": "tune", "tune": TuneResult.to_dict()}``) read back
into the core's typed ``TuneResult`` (core/tune/types.py ``TuneResult.from_dict``), with one error naming the file
when it is not one, for the Tune screen and the Jobs list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tune_result_from_dict(d: Mapping[str, Any], where: str = "the tune outcome") -> Any:
    """``TuneResult.to_dict()`` -> ``TuneResult``.

    Raises:
        WorkbenchError: ``d`` is not a tune document (a missing key or a value of the wrong type), naming
            ``where`` (the job's outcome file) and the key.
    """
    from workbench.core.errors import WorkbenchError
    from workbench.core.tune.types import TuneResult

    try:
        return TuneResult.from_dict(d)
    except KeyError as exc:
        raise WorkbenchError(
            f"{where}: not a tune result (no key {exc.args[0]!r})",
            hint="the tune was written by another workbench version, or its file was cut off: run `workbench tune` "
            "again (it resumes from stored runs)",
        ) from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise WorkbenchError(
            f"{where}: not a tune result ({exc})",
            hint="the tune was written by another workbench version, or its file was cut off: run `workbench tune` "
            "again (it resumes from stored runs)",
        ) from None
