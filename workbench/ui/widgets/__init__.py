"""Reusable widgets: latency plot, telemetry panel, nav bar."""
