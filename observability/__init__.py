"""Metrics and log context for every layer: imports no package of the portal."""
