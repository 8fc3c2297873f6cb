"""Stable exit codes of every ``workbench`` command (documented in README.md)."""

from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    OK = 0
    FAILURE = 1  # unexpected internal error (a bug: please report it)
    USAGE = 2
    CONFIG = 3
    MODEL = 4
    DATASET = 5
    CALIBRATION = 6
    BACKEND_UNAVAILABLE = 7
    BUILD = 8
    BENCHMARK = 9
    RESULTS = 10
    STORAGE = 11
    TELEMETRY = 12
    POWER = 13
    HOSTS_FAILED = 14  # `workbench fleet`: a host failed or was unreachable; the others' work is done and stored
    CANCELLED = 130
