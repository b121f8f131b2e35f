"""Tests of the Canvas sandbox: over real HTTP against tests/live.py's server, and its engine.

The plugin's modules they compare against are loaded with tests.plugin_modules.
"""
