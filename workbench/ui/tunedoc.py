"""A tune job's outcome document (``outcome.json`` ``{"command": "tune", "tune": TuneResult.to_dict()}``) read back
into the core's typed ``TuneResult`` (core/tune/types.py), for the Tune screen and the Jobs list.

``TuneResult`` has ``to_dict`` but no ``from_dict`` yet; this is its inverse, built only from the ``from_dict`` of the
parts (``Candidate``, ``CandidateOutcome``, ``TuneBounds``). The front is stored as outcome rows; it comes back as the
candidates' keys (each recomputed from the row's candidate, so a row whose ``key`` disagrees is never on the front).
"""

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
    from workbench.core.tune.types import Candidate, CandidateOutcome, TuneBounds, TuneRecommendation, TuneResult

    try:
        outcomes = tuple(CandidateOutcome.from_dict(row) for row in d.get("candidates") or ())
        keys = {o.candidate.key for o in outcomes}
        front = tuple(k for row in d.get("front") or () if (k := Candidate.from_dict(row["candidate"]).key) in keys)
        rec = d.get("recommendation")
        recommendation = None
        if rec is not None:
            recommendation = TuneRecommendation(
                Candidate.from_dict(rec["settings"]),
                int(rec["result_id"]) if rec.get("result_id") is not None else None,
                tuple(str(r) for r in rec.get("reasons") or ()),
            )
        return TuneResult(
            tune_id=str(d.get("tune_id") or ""),
            model=str(d.get("model") or ""),
            profile=str(d.get("profile") or ""),
            objective=str(d.get("objective") or "p50"),
            bounds=TuneBounds.from_dict(d.get("bounds") or {}),
            budget_s=float(d.get("budget_s") or 0.0),
            elapsed_s=float(d.get("elapsed_s") or 0.0),
            outcomes=outcomes,
            front=front,
            recommendation=recommendation,
            no_recommendation=d.get("no_recommendation"),
            profile_path=d.get("profile_path"),
            stopped=str(d.get("stopped") or "done"),
        )
    except KeyError as exc:
        raise WorkbenchError(f"{where}: not a tune result (no key {exc.args[0]!r})") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise WorkbenchError(f"{where}: not a tune result ({exc})") from None
