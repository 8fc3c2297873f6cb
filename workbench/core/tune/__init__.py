"""``workbench tune``: the fastest deployment that keeps its accuracy, searched and measured (types.py: the typed
candidates, outcomes and result both faces read)."""
