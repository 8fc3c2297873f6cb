"""UI-free core. Never imports Textual, the CLI or the UI (checked by tests/unit/test_import_graph.py and the
import-linter contracts in pyproject.toml)."""
