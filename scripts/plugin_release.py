"""Write the Canvas plugin as a repository `canvas deploy` accepts: dist/<prefix>__note_sign_api/.

Canvas Platform deploys a plugin named `<org prefix>__<package>` (manifest `name`,
package folder, every import and class path) from a git repository whose root holds
the package. This script copies canvas_plugin/note_sign_api and its tests under that
name, renames every `note_sign_api` reference, adds a pyproject.toml and a .gitignore,
makes the folder its own git repository (kept across releases, so deploys keep one
history), checks the renaming, then runs the plugin's tests, `canvas validate-manifest`
and `canvas validate` on the copy.

Run it with the plugin environment's Python (stdlib only):

    make plugin-release PREFIX=acme
    canvas_plugin/.venv/bin/python scripts/plugin_release.py acme
    canvas_plugin/.venv/bin/python scripts/plugin_release.py acme --no-checks

Then deploy: `canvas deploy dist/acme__note_sign_api/acme__note_sign_api --instance <instance>`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = ROOT / "canvas_plugin"
PACKAGE = "note_sign_api"
DIST = ROOT / "dist"
#: A publisher prefix: a lowercase identifier, no double or trailing underscore.
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
#: Canvas Platform's own rule for a plugin name (canvas_cli, apps/platform/commands.py).
PLUGIN_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*__[a-z][a-z0-9_]*")
#: `note_sign_api` not already part of a longer identifier (`acme__note_sign_api` is left alone).
REFERENCE = re.compile(rf"\b{PACKAGE}\b")
TEXT_SUFFIXES = {".py", ".json", ".md", ".html", ".txt", ".ini", ".toml", ".css", ".js", ".cfg"}
SKIPPED = {"__pycache__", ".pytest_cache", ".ruff_cache"}
#: Tests of this script: they need the source repository, not the released one.
DEV_ONLY_TESTS = {"test_release.py"}

PYPROJECT = """\
[project]
name = "{name}"
version = "{version}"
description = "{description}"
readme = "{name}/README.md"
license = "MIT"
requires-python = ">=3.11"
dependencies = [{dependencies}]

[project.optional-dependencies]
test = [{test_dependencies}]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
python_files = ["test_*.py"]
addopts = "-q --strict-markers -p no:cacheprovider"
filterwarnings = [
    "ignore:.*_after_postgeneration will stop saving:DeprecationWarning",
    "ignore:.*json_encoders. is deprecated:DeprecationWarning",
]
"""

GITIGNORE = """\
.venv/
__pycache__/
*.pyc
.pytest_cache/
.ruff_cache/
*.egg-info/
.env
"""


class ReleaseError(Exception):
    """The release cannot be written or does not pass its checks."""


def plugin_name(prefix: str) -> str:
    """Return `<prefix>__note_sign_api`, refusing a prefix that is not a lowercase identifier."""
    if not PREFIX_PATTERN.fullmatch(prefix or ""):
        raise ReleaseError(
            f"PREFIX {prefix!r} is not a publisher prefix: use your organization's prefix, "
            "lowercase letters, digits and single underscores, starting with a letter "
            "(`canvas login` lists your organizations' prefixes)."
        )
    name = f"{prefix}__{PACKAGE}"
    if not PLUGIN_NAME_PATTERN.fullmatch(name):
        raise ReleaseError(f"{name!r} is not a name Canvas Platform accepts.")
    return name


def rename(text: str, name: str) -> str:
    """Return `text` with every un-prefixed `note_sign_api` reference renamed to `name`."""
    return REFERENCE.sub(name, text)


def copy_tree(source: Path, target: Path, name: str, *, skip: set[str] = frozenset()) -> None:
    """Copy `source` to `target`, renaming references in text files and leaving others as is."""
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if SKIPPED & set(relative.parts) or path.name in skip:
            continue
        destination = target / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif path.suffix in TEXT_SUFFIXES:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(rename(path.read_text(encoding="utf-8"), name), encoding="utf-8")
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def clear(directory: Path) -> None:
    """Empty `directory` except its .git, so a re-release keeps the repository's history."""
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def requirements() -> list[str]:
    """Return the plugin environment's pinned requirements."""
    lines = (PLUGIN_DIR / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def is_runtime(requirement: str) -> bool:
    """Return whether a requirement is the canvas SDK itself (the rest serve the tests)."""
    return re.split(r"[=<>!~\[ ;]", requirement, maxsplit=1)[0].lower() == "canvas"


def write_release(prefix: str) -> Path:
    """Write dist/<name>/ and return it."""
    name = plugin_name(prefix)
    out = DIST / name
    clear(out)
    copy_tree(PLUGIN_DIR / PACKAGE, out / name, name)
    copy_tree(PLUGIN_DIR / "tests", out / "tests", name, skip=DEV_ONLY_TESTS)
    manifest = json.loads((out / name / "CANVAS_MANIFEST.json").read_text())
    (out / "pyproject.toml").write_text(
        PYPROJECT.format(
            name=name,
            version=manifest["plugin_version"],
            description=json.dumps(manifest["description"])[1:-1],
            dependencies=", ".join(json.dumps(r) for r in requirements() if is_runtime(r)),
            test_dependencies=", ".join(json.dumps(r) for r in requirements() if not is_runtime(r)),
        )
    )
    (out / ".gitignore").write_text(GITIGNORE)
    if not (out / ".git").exists() and shutil.which("git"):
        # Its own repository: `canvas deploy` refuses a package nested in a larger one.
        subprocess.run(["git", "init", "--quiet", str(out)], check=True)
    return out


def check_release(out: Path, name: str) -> list[str]:
    """Return what is wrong with the released copy (nothing when it is right).

    The folder, the manifest's name and class paths, and the imports all say `name`;
    no text file keeps an un-prefixed `note_sign_api`.
    """
    package = out / name
    if not (package / "CANVAS_MANIFEST.json").is_file():
        return [f"{package}/CANVAS_MANIFEST.json is missing"]
    problems = []
    if (out / PACKAGE).exists():
        problems.append(f"{out / PACKAGE} still exists")
    problems += _manifest_problems(json.loads((package / "CANVAS_MANIFEST.json").read_text()), name)
    problems += _text_problems(out, name)
    for required in ("tests", "pyproject.toml", ".gitignore"):
        if not (out / required).exists():
            problems.append(f"{required} is missing")
    return problems


def _manifest_problems(manifest: dict, name: str) -> list[str]:
    """Return where the manifest does not say `name` (its name, its classes' paths)."""
    problems = []
    if manifest.get("name") != name:
        problems.append(f"manifest name is {manifest.get('name')!r}, not {name!r}")
    components = manifest.get("components", {})
    for component in components.get("handlers", []) + components.get("applications", []):
        if not component["class"].startswith(f"{name}."):
            problems.append(f"manifest class {component['class']!r} is not under {name}")
    return problems


def _text_problems(out: Path, name: str) -> list[str]:
    """Return every un-prefixed reference in the copy's text files, or that none imports `name`."""
    problems = []
    imports = 0
    for path in sorted(out.rglob("*")):
        if ".git" in path.parts or not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            if REFERENCE.search(line):
                problems.append(f"{path.relative_to(out)}:{number}: un-prefixed {line.strip()!r}")
        imports += len(re.findall(rf"^\s*(?:from|import) {name}\b", text, re.MULTILINE))
    if imports == 0:
        problems.append(f"no file imports {name}")
    return problems


def run_checks(out: Path, name: str) -> None:
    """Run the plugin's tests, `canvas validate-manifest` and `canvas validate` on the copy."""
    bin_dir = Path(sys.executable).parent
    canvas = bin_dir / "canvas"
    if not canvas.exists():
        raise ReleaseError(f"{canvas} not found: run this with the plugin environment's Python")
    for command in (
        [sys.executable, "-m", "pytest"],
        [str(canvas), "validate-manifest", name],
        [str(canvas), "validate", name],
    ):
        shown = " ".join([Path(command[0]).name, *command[1:]])
        print(f"[{out.relative_to(ROOT)}] $ {shown}", flush=True)
        if subprocess.run(command, cwd=out, check=False).returncode != 0:
            raise ReleaseError(f"{' '.join(command[1:])} failed in {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="your organization's plugin prefix, e.g. acme")
    parser.add_argument(
        "--no-checks", action="store_true", help="write the copy, skip tests and validation"
    )
    args = parser.parse_args(argv)
    try:
        name = plugin_name(args.prefix)
        out = write_release(args.prefix)
        problems = check_release(out, name)
        if problems:
            raise ReleaseError(
                "the released copy is not fully renamed:\n  " + "\n  ".join(problems)
            )
        print(f"Wrote {out.relative_to(ROOT)}: folder, manifest and imports say {name}.")
        if not args.no_checks:
            run_checks(out, name)
    except ReleaseError as error:
        print(f"plugin-release: {error}", file=sys.stderr)
        return 2
    print(
        f"Ready to deploy:\n"
        f"  canvas login\n"
        f"  canvas deploy {out.relative_to(ROOT)}/{name} --instance <instance>\n"
        f"  canvas config set {name} portal_url=https://<portal>/ --instance <instance>\n"
        f"and set the portal's CANVAS_PLUGIN_NAME={name}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
