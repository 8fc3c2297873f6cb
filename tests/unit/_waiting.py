"""Wait for a state, never for a time: tests must pass on a 2-core machine with a CPU hog beside them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(pred: Callable[[], T], *, timeout: float = 60.0, what: str = "the condition") -> T:
    """Poll ``pred`` every 10 ms until it returns something truthy and return that; the timeout only bounds a hang.

    Raises:
        AssertionError: ``pred`` stayed falsy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)
