"""A small Django project that stands in for a Canvas instance (like stripe-mock).

It serves a django-oauth-toolkit authorization server and the note_sign_api
plugin endpoints over HTTP for development, demos, tests and benchmarks.
Run it with `python -m canvas_sandbox <django command>`.

The plugin package's pure-Python transitions module is the single source of
the note rules, so `canvas_plugin/` goes on the import path here and the
sandbox imports `note_sign_api.transitions` instead of copying it.
"""

import sys
from pathlib import Path

_PLUGIN_ROOT = str(Path(__file__).resolve().parent.parent / "canvas_plugin")
if _PLUGIN_ROOT not in sys.path:
    sys.path.append(_PLUGIN_ROOT)
