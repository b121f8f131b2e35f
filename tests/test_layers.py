"""The import graph of the portal's packages: no cycle, nothing imports upward.

core (the error base, safe URLs, toasts) < integrations (HTTP to Canvas) <
canvas_oauth (linking, tokens) < notes (the note work); portal, the
project, may know them all.
"""

import ast
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[1]
#: Package: the packages of the portal it may import (besides itself).
ALLOWED = {
    "core": set(),
    "integrations": {"core"},
    "canvas_oauth": {"core", "integrations"},
    "notes": {"core", "integrations", "canvas_oauth"},
    "portal": {"core", "integrations", "canvas_oauth", "notes"},
}


def _imported(path: Path) -> set[str]:
    """Return the top-level names of every module `path` imports (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(package: str) -> list[Path]:
    return [p for p in sorted((ROOT / package).rglob("*.py")) if "migrations" not in p.parts]


class ImportGraphTests(SimpleTestCase):
    def test_no_package_imports_upward(self):
        for package, allowed in ALLOWED.items():
            modules = _modules(package)
            self.assertTrue(modules, package)
            for path in modules:
                with self.subTest(module=str(path.relative_to(ROOT))):
                    imported = (_imported(path) & ALLOWED.keys()) - {package}
                    self.assertLessEqual(imported, allowed)

    def test_only_the_integration_layer_speaks_http(self):
        for package in ("core", "canvas_oauth", "notes", "portal"):
            for path in _modules(package):
                with self.subTest(module=str(path.relative_to(ROOT))):
                    self.assertFalse(_imported(path) & {"requests", "urllib3"})
