"""A small Django project that stands in for a Canvas instance (like stripe-mock).

It serves a django-oauth-toolkit authorization server and the note_sign_api
plugin endpoints over HTTP for development, demos, tests and benchmarks.
Run it with `python -m canvas_sandbox <django command>`.

It stands in for Canvas with the plugin installed: what the plugin decides
(who may act, the to-sign queue, allowed actions) comes from the plugin's own
pure-Python `note_sign_api.transitions`, so `canvas_plugin/` goes on the
import path here. What Canvas does when it applies the effects afterwards is
the sandbox's own engine (`clinic/engine.py`), written from Canvas's
documentation and never imported from the plugin.
"""

import sys
from pathlib import Path

_PLUGIN_ROOT = str(Path(__file__).resolve().parent.parent / "canvas_plugin")
if _PLUGIN_ROOT not in sys.path:
    sys.path.append(_PLUGIN_ROOT)
