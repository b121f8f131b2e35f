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


#: Deferred imports that close a cycle on purpose, with why (module, module it imports).
DEFERRED_ALLOWED = {
    # A settings change (override_settings) drops the pooled HTTP session.
    ("integrations.canvas.settings", "integrations.canvas.http"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_imports(path: Path, known: set[str]) -> set[str]:
    """Return the project modules `path` imports, at import time or inside a function.

    `from a import b` counts `a.b` when that is a module, else `a`; importing
    `a.b` also runs `a`, so every parent package counts too. A deferred
    import inside a function is a dependency all the same (hiding a cycle
    is what it is usually for); only task modules' shells may defer theirs.
    """
    found: set[str] = set()
    body = ast.parse(path.read_text(), filename=str(path)).body
    nodes = [n for stmt in body for n in ast.walk(stmt)]
    deferred = {
        id(n)
        for stmt in body
        for fn in ast.walk(stmt)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for n in ast.walk(fn)
    }
    for node in nodes:
        if id(node) in deferred and path.name == "tasks.py":
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                for a in node.names
            ]
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found & known


class ModuleCycleTests(SimpleTestCase):
    def test_no_import_cycle_between_modules(self):
        paths = {_module_name(p): p for package in ALLOWED for p in _modules(package)}
        known = set(paths)
        graph = {name: _module_imports(path, known) - {name} for name, path in paths.items()}
        # A package's __init__ imports its own modules; a module importing its
        # package's __init__ is Python's normal order, not a cycle of ours.
        for name in graph:
            graph[name] = {
                m
                for m in graph[name]
                if not name.startswith(f"{m}.") and (name, m) not in DEFERRED_ALLOWED
            }
        cycles = []
        state: dict[str, int] = {}  # 1: on the stack, 2: done

        def visit(name: str, stack: list[str]) -> None:
            state[name] = 1
            for target in sorted(graph[name]):
                if state.get(target) == 1:
                    cycles.append([*stack[stack.index(target) :], target])
                elif target not in state:
                    visit(target, [*stack, target])
            state[name] = 2

        for name in sorted(graph):
            if name not in state:
                visit(name, [name])
        self.assertEqual(cycles, [])
