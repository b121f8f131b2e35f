"""Start and stop the servers of a bench run; everything started is stopped.

Each server runs in its own process group (`start_new_session`), so stopping
it stops its gunicorn workers too. `Stack.stop()` runs from `finally`, from
atexit and on SIGTERM/SIGINT (turned into KeyboardInterrupt by the caller).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RESERVED_PORTS = {8000, 8001}


class BenchError(RuntimeError):
    """A set-up step failed; the message says which and why."""


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1 (never 8000/8001)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port
    raise BenchError("no free port found")


def run(args: list[str], *, env: dict[str, str], timeout: float = 300, what: str = "") -> str:
    """Run a set-up command to completion; return its stdout or raise BenchError."""
    try:
        done = subprocess.run(
            args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what or args[1:3]} timed out after {timeout:.0f} s") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise BenchError(f"{what or ' '.join(args[1:3])} failed:\n    " + "\n    ".join(tail))
    return done.stdout


def wait_http(url: str, *, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers (any HTTP status) or raise BenchError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"server exited with {proc.returncode} before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=2)  # fixed local URL
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise BenchError(f"{url} did not answer within {timeout:.0f} s")


class Stack:
    """The long-running processes of one run."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self._stopped = False
        atexit.register(self.stop)

    def start(self, name: str, args: list[str], *, env: dict[str, str]) -> subprocess.Popen:
        """Start a server in its own process group, logging to <log_dir>/<name>.log."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.procs.append((name, proc))
        return proc

    def cpu_seconds(self, name: str) -> float | None:
        """Return the CPU time (user + system) used so far by server `name` and its workers."""
        proc = next((p for n, p in self.procs if n == name), None)
        return None if proc is None else group_cpu_seconds(proc.pid)

    def stop_one(self, proc: subprocess.Popen, *, timeout: float = 10) -> None:
        """Stop one server and its workers: SIGINT to its group, SIGKILL after `timeout`.

        SIGINT is gunicorn's quick shutdown: a bench has no request worth
        waiting for once it is over.
        """
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def stop(self) -> None:
        """Stop every server still running (idempotent)."""
        for _name, proc in list(reversed(self.procs)):
            try:
                self.stop_one(proc)
            except Exception as exc:  # keep stopping the others
                print(f"warning: could not stop pid {proc.pid}: {exc}", file=sys.stderr)
        self._stopped = True


def group_cpu_seconds(pgid: int) -> float:
    """Return the CPU seconds of every live process in process group `pgid` (Linux /proc).

    A gunicorn master and its workers share the group, and the workers live
    for the whole run, so differences between two readings are what the
    server spent in between.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces; the rest follows its ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # fields[2] is pgrp; utime/stime are fields[11:13]
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def gunicorn_args(
    app: str,
    *,
    port: int,
    workers: int,
    threads: int,
    timeout: int = 60,
    access_log: Path | None = None,
    keepalive: int = 2,
) -> list[str]:
    """Return the gunicorn command line for a threaded server on 127.0.0.1:port.

    With `access_log`, each request is logged as "<worker pid> <path> <status>"
    (the path without its query string), so the bench can tell which worker
    processes served a burst.
    """
    extra = (
        ["--access-logfile", str(access_log), "--access-logformat", "%(p)s %(U)s %(s)s"]
        if access_log
        else []
    )
    return [
        PY,
        "-m",
        "gunicorn",
        app,
        *extra,
        "-k",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        str(timeout),
        "--graceful-timeout",
        "5",
        "--keep-alive",
        str(keepalive),
        "--backlog",
        "256",
        "--log-level",
        "warning",
    ]
