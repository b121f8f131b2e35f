"""The one way tests load a module of the plugin (canvas_plugin/) without the Canvas SDK."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PLUGIN_ROOT = Path(__file__).resolve().parents[1] / "canvas_plugin"


def plugin_module(dotted: str) -> ModuleType:
    """Return the plugin's module `dotted` (e.g. "note_sign_api.transitions"), loaded once.

    The file canvas_plugin/<dotted as a path>.py is loaded on its own, under
    the name "canvas_plugin:<dotted>" (registered in sys.modules first, as
    dataclasses need). It must be plain Python that imports no SDK; of the
    plugin it may import only plain modules (transitions.py imports codes.py):
    those resolve through canvas_plugin/ appended to sys.path, as the Canvas
    sandbox does, so the enums are the same objects everywhere. Every caller
    gets the same module object.
    """
    if str(PLUGIN_ROOT) not in sys.path:
        sys.path.append(str(PLUGIN_ROOT))
    name = f"canvas_plugin:{dotted}"
    if name in sys.modules:
        return sys.modules[name]
    path = PLUGIN_ROOT.joinpath(*dotted.split(".")).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no plugin module {dotted!r} at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
