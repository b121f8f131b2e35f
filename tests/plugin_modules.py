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
    dataclasses need), without putting canvas_plugin/ on sys.path: so it
    must be plain Python that imports nothing of the plugin or the SDK (the
    rules module transitions.py, the contract's table tests/contract_cases.py).
    Every caller gets the same module object.
    """
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
