"""The import graph of the portal's packages: no cycle, nothing imports upward, small modules.

core (the error base, safe URLs, toasts) and observability (metrics, log
context) < integrations (HTTP to Canvas) < canvas_oauth (connecting, tokens)
< notes (the note work); portal, the project, may know them all. Between
modules no import cycle, counting imports deferred into functions (how
cycles hide) except a task module's shells; no module over 400 lines
(migrations and tests aside).
"""

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[1]
#: Package: the packages of the portal it may import (besides itself).
ALLOWED = {
    "core": set(),
    "observability": set(),
    "integrations": {"core", "observability"},
    "canvas_oauth": {"core", "observability", "integrations"},
    "notes": {"core", "observability", "integrations", "canvas_oauth"},
    "portal": {"core", "observability", "integrations", "canvas_oauth", "notes"},
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
        for package in ("core", "observability", "canvas_oauth", "notes", "portal"):
            for path in _modules(package):
                with self.subTest(module=str(path.relative_to(ROOT))):
                    self.assertFalse(_imported(path) & {"requests", "urllib3"})


#: (Directory the modules are named from, the packages in it) of the import graph.
GRAPHED = (
    (
        ROOT,
        (
            "core",
            "observability",
            "integrations",
            "canvas_oauth",
            "notes",
            "portal",
            "canvas_sandbox",
        ),
    ),
    # The plugin names its modules from canvas_plugin/ (`note_sign_api.transitions`).
    (ROOT / "canvas_plugin", ("note_sign_api",)),
)
#: Directories whose every module must stay small (besides GRAPHED's packages).
SIZED = ("bench", "scripts", "contract", "canvas_plugin/runner_check")
MAX_LINES = 400


def _sources(base: Path, package: str) -> Iterator[Path]:
    """Yield the package's modules, migrations and tests aside (none if it does not exist)."""
    for path in sorted((base / package).rglob("*.py")):
        parts = path.relative_to(base).parts
        if "migrations" not in parts and "tests" not in parts:
            yield path


def _module_name(base: Path, path: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """Return the imports under `if TYPE_CHECKING:`: they never run, so close no cycle."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test):
            for child in node.body:
                found.update(ast.walk(child))
    return found


def _inside_functions(tree: ast.Module) -> set[ast.AST]:
    """Return what sits inside functions: a task shell imports its service only when it runs.

    STYLE.md: task functions import their service inside the body, so a task
    module never closes an import cycle (services enqueue through it at import).
    """
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in node.body:
                found.update(ast.walk(child))
    return found


def _targets(node: ast.AST, *, module: str, is_package: bool) -> Iterator[str]:
    """Yield the dotted name of everything an import statement imports."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        # `from a import b`: the module a.b, or a name defined in a.
        yield from (f"{base}.{alias.name}" if base else alias.name for alias in node.names)


def _import_graph() -> dict[str, dict[str, str]]:
    """Return module -> {imported project module: "file:line" of the import}."""
    files = {
        _module_name(base, path): path
        for base, packages in GRAPHED
        for package in packages
        for path in _sources(base, package)
    }
    graph: dict[str, dict[str, str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skipped = _type_checking_only(tree)
        if module.endswith(".tasks"):
            skipped |= _inside_functions(tree)
        edges = graph.setdefault(module, {})
        for node in ast.walk(tree):
            if node in skipped or not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            is_package = path.name == "__init__.py"
            for name in _targets(node, module=module, is_package=is_package):
                # The deepest module the name reaches: "a.b.c" may be a function of a.b.
                while name and name not in files:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    edges.setdefault(name, f"{path.relative_to(ROOT)}:{node.lineno}")
    return graph


def _components(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in graph.get(node, {}):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def _cycle_in(graph: dict[str, dict[str, str]], members: set[str], start: str) -> list[str]:
    """Return the shortest path from `start` back to itself inside one component."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for successor in sorted(graph[node]):
            if successor == start:
                return [*paths[node], start]
            if successor in members and successor not in paths:
                paths[successor] = [*paths[node], successor]
                queue.append(successor)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def _cycle_report(graph: dict[str, dict[str, str]]) -> list[str]:
    """Return, per component, its modules and one of its cycles with the import lines."""
    found = []
    for component in _components(graph):
        cycle = _cycle_in(graph, set(component), component[0])
        lines = [graph[a][b] for a, b in itertools.pairwise(cycle)]
        found.append(
            f"{', '.join(component)}: e.g. {' -> '.join(cycle)}\n    " + "\n    ".join(lines)
        )
    return found


class ModuleImportCycleTests(SimpleTestCase):
    longMessage = False  # the message alone names every cycle

    def test_the_graph_sees_deferred_and_relative_imports(self):
        graph = _import_graph()
        self.assertGreater(len(graph), 50)
        # notes/tasks.py imports its services only inside the task functions (shells).
        self.assertFalse(any(m.startswith("notes.") for m in graph.get("notes.tasks", {})))
        # Anywhere else an import deferred into a function still counts.
        self.assertIn("notes.tasks", graph["notes.confirmation"])
        self.assertIn("note_sign_api.transitions", graph["note_sign_api.handlers.api"])

    def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(self):
        tree = ast.parse("def later():\n    from b import x\n")
        node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
        self.assertEqual(list(_targets(node, module="a", is_package=False)), ["b.x"])
        graph = {"a": {"b": "a.py:2"}, "b": {"c": "b.py:1"}, "c": {"a": "c.py:1"}, "d": {"a": ""}}
        self.assertEqual(_components(graph), [["a", "b", "c"]])
        self.assertEqual(_cycle_in(graph, {"a", "b", "c"}, "a"), ["a", "b", "c", "a"])

    def test_no_import_cycle_between_modules(self):
        found = _cycle_report(_import_graph())
        self.assertFalse(found, "import cycles:\n" + "\n".join(found))


class ModuleSizeTests(SimpleTestCase):
    longMessage = False

    def test_no_module_over_400_lines(self):
        roots = [(base, package) for base, packages in GRAPHED for package in packages]
        roots += [(ROOT, directory) for directory in SIZED]
        paths = [path for base, package in roots for path in _sources(base, package)]
        self.assertGreater(len(paths), 50)
        over = {
            str(path.relative_to(ROOT)): lines
            for path in paths
            if (lines := len(path.read_text().splitlines())) > MAX_LINES
        }
        self.assertFalse(over, f"modules over {MAX_LINES} lines: {over}")
