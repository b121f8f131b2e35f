"""Run the plugin in the canvas SDK's own plugin runner and check the contract through real events.

Usage (from canvas_plugin/, with its .venv):
    .venv/bin/python runner_check/check.py <plugin package dir> [<plugin package dir> ...]

Each package directory (e.g. note_sign_api, or the released
../dist/acme__note_sign_api/acme__note_sign_api) gets two passes, each in its own
runner: `defaults` runs the directory as it is, with no SECRETS.json, so every plugin
variable is at its default (cases.py); `switched` runs a copy in a temporary directory
whose SECRETS.json sets visibility=all and restrict_signing_to_provider=true, which the
runner hands the handlers as their secrets (switched_cases.py). The package itself is
never written to. A pass starts
`canvas run-plugin <dir> --db-seed-file runner_check/seed.py` (gRPC on
127.0.0.1:50051, SQLite inside the SDK's install, DATABASE_URL unset), waits for
it, sends SIMPLE_API_AUTHENTICATE then SIMPLE_API_REQUEST events with the actor
set, in order, checks status, body and effects of every reply, stops the runner
by its process id (its whole process group) and checks its log for handler
exceptions. Exits 1 with one line per difference, naming the package, the pass and
the event.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Run as a script: this folder is on sys.path, so its sibling modules import plainly.
from cases import default_cases
from expect import Checks
from runner_rpc import Client, Runner
from switched_cases import SWITCHED_VARIABLES, switched_cases

#: Lines in the runner's log that mean a handler or the plugin failed.
BAD_LOG = re.compile(
    r"Traceback|Encountered exception|Unable to load|Failed to|ERROR|CRITICAL|Error loading"
)
#: Where the plugin runner reads a plugin's variables (settings.SECRETS_FILE_NAME).
SECRETS_FILE = "SECRETS.json"


@dataclass(frozen=True)
class Pass:
    """One run of the plugin: its variables (None: the package as it is) and its cases."""

    name: str
    variables: dict[str, str] | None
    cases: Callable[[Checks], None]


PASSES = (
    Pass("defaults", None, default_cases),
    Pass("switched", SWITCHED_VARIABLES, switched_cases),
)


def check_plugin(plugin_dir: Path, run: Pass) -> list[str]:
    """Run one pass's cases against one plugin package; return the differences."""
    with tempfile.TemporaryDirectory(prefix="runner_check_") as tmp:
        started = time.monotonic()
        target, problems = prepare(plugin_dir, run, Path(tmp))
        runner = Runner(target, Path(tmp))
        try:
            ids = runner.start()
            client = Client(target.name)
            try:
                checks = Checks(client, ids)
                run.cases(checks)
                problems += checks.problems
            finally:
                client.close()
        finally:
            runner.stop()
        log = runner.log()
        problems += log_problems(log, target.name)
        if problems:
            problems.append(f"--- runner log ({runner.log_path.name}) ---\n{log.rstrip()}")
        print(
            f"runner_check {plugin_dir.name} ({run.name}): "
            f"{'FAILED' if problems else 'ok'} in {time.monotonic() - started:.1f} s"
        )
        return problems


def prepare(plugin_dir: Path, run: Pass, tmp: Path) -> tuple[Path, list[str]]:
    """Return the directory the runner loads for `run`, and any problem with the package.

    defaults: the package itself, which must hold no SECRETS.json. Otherwise a copy
    under `tmp` (same name: the name is the plugin's) with the pass's SECRETS.json.
    """
    if run.variables is None:
        if (plugin_dir / SECRETS_FILE).exists():
            return plugin_dir, [f"{plugin_dir / SECRETS_FILE} exists: the variables are not unset"]
        return plugin_dir, []
    copy = tmp / "plugin" / plugin_dir.name
    shutil.copytree(plugin_dir, copy, ignore=shutil.ignore_patterns("__pycache__", SECRETS_FILE))
    (copy / SECRETS_FILE).write_text(json.dumps(run.variables))
    return copy, []


def log_problems(log: str, plugin_name: str) -> list[str]:
    """Return what the runner's log says went wrong: errors, a plugin or handler not loaded."""
    problems = [f"runner log: {line.strip()}" for line in log.splitlines() if BAD_LOG.search(line)]
    if f'Successfully loaded plugin "{plugin_name}"' not in log:
        problems.append(f"runner log: plugin {plugin_name} was not loaded")
    for loaded, total in re.findall(r"\((\d+)/(\d+) handlers loaded\)", log):
        if loaded != total:
            problems.append(f"runner log: only {loaded}/{total} handlers loaded")
    return problems


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.monotonic()
    problems: list[str] = []
    for raw in argv:
        plugin_dir = Path(raw).resolve()
        if not (plugin_dir / "CANVAS_MANIFEST.json").is_file():
            problems.append(f"{plugin_dir}: no CANVAS_MANIFEST.json")
            continue
        for run in PASSES:
            found = check_plugin(plugin_dir, run)
            problems += [f"[{plugin_dir.name}, {run.name}] {p}" for p in found]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"runner_check: {'FAILED' if problems else 'ok'} in {time.monotonic() - started:.1f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
