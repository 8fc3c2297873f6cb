"""Benchmark: child-process timed loop, typed event stream, statistics (trtexec definitions)."""
