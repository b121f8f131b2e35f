"""Tests of the Canvas sandbox, over real HTTP against tests/live.py's server."""

# Importing the sandbox package puts canvas_plugin/ on sys.path, so the tests
# can compare against the plugin's own transitions module.
import canvas_sandbox  # noqa: F401
