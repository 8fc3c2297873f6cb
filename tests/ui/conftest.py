"""UI tests run from the repository root: the app shows paths relative to the cwd."""

from __future__ import annotations

import pytest
from tui_helpers import REPO


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)
