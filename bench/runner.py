"""Orchestrate a bench run: databases, servers, seed data, scenarios, report.

Every server is started by `procs.Stack` and stopped in `finally` (also on
Ctrl-C and SIGTERM); every loop is bounded by a deadline; every HTTP call
has a timeout; all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import config, report, scenarios
from bench.http import Control, Direct, PortalUser
from bench.procs import PY, ROOT, BenchError, Stack, free_port, gunicorn_args, run, wait_http

RESULTS = Path(__file__).resolve().parent / "results"
PUBLIC_CLIENT_ID = "canvas-note-portal-dev"


def say(message: str) -> None:
    """Print a progress line (flushed, so `make bench` shows it live)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Run:
    """Everything the scenarios need to reach the servers of this run."""

    settings: config.Settings
    tmp: Path
    stack: Stack
    database: str = ""
    portal_url: str = ""
    sandbox_url: str = ""
    portal_env: dict[str, str] = field(default_factory=dict)
    sandbox_env: dict[str, str] = field(default_factory=dict)
    access_log: Path | None = None
    control: Control | None = None
    password: str = ""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def task(self, name: str, timeout: float = 120, **kwargs: Any) -> Any:
        """Run a bench.portal_tasks task with the portal's environment; return its JSON."""
        import subprocess

        try:
            done = subprocess.run(
                [PY, "-m", "bench.portal_tasks", name],
                cwd=ROOT,
                env=self.portal_env,
                input=json.dumps(kwargs),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"portal task {name} timed out") from exc
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-12:]
            raise BenchError(f"portal task {name} failed:\n    " + "\n    ".join(tail))
        return json.loads(done.stdout.strip().splitlines()[-1])

    def login(self, username: str) -> PortalUser:
        user = PortalUser(self.portal_url, username, timeout=self.settings.client_timeout)
        user.login(self.password)
        return user

    def login_many(self, usernames: list[str]) -> list[PortalUser]:
        """Sign in several users, a few at a time (each sign-in hashes a password)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(self.login, usernames))

    def direct(self, username: str) -> Direct:
        """Return a direct plugin client with a freshly minted token of `username`'s staff."""
        token = self.control.tokens(username)["access_token"]
        return Direct(self.sandbox_url, token, timeout=self.settings.client_timeout)

    def requires(self, *pieces: str) -> str:
        """Return "" if every named piece of the portal exists, else why not."""
        why = [f"{p} missing ({self.missing[p]})" for p in pieces if self.missing.get(p)]
        return "; ".join(why)


def _databases(settings: config.Settings, tmp: Path) -> tuple[str, str, str]:
    """Create fresh bench databases on PostgreSQL, or SQLite files with a warning."""
    try:
        import psycopg

        with psycopg.connect(
            f"{settings.postgres_url}/postgres", autocommit=True, connect_timeout=3
        ) as conn:
            for name in (settings.portal_db, settings.sandbox_db):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            limit = int(conn.execute("SHOW max_connections").fetchone()[0])
            in_use = conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0]
        wanted = (
            settings.portal_workers * settings.portal_threads
            + settings.sandbox_workers * settings.sandbox_threads
            + settings.confirm_workers
        )
        if wanted + in_use + 5 > limit:
            print(
                f"WARNING: the servers may hold {wanted} PostgreSQL connections, "
                f"{in_use} are in use and max_connections is {limit}: "
                "expect 'too many clients' errors.",
                file=sys.stderr,
                flush=True,
            )
        return (
            "postgresql",
            f"{settings.postgres_url}/{settings.portal_db}",
            f"{settings.postgres_url}/{settings.sandbox_db}",
        )
    except Exception as exc:
        print(
            f"WARNING: PostgreSQL at {settings.postgres_url} is unreachable ({exc}); "
            "falling back to SQLite. Concurrency figures (refresh storm, throughput) "
            "are not representative on SQLite.",
            file=sys.stderr,
            flush=True,
        )
        return (
            "sqlite",
            f"sqlite:///{tmp / 'portal.sqlite3'}",
            f"sqlite:///{tmp / 'sandbox.sqlite3'}",
        )


def _base_env() -> dict[str, str]:
    drop = ("SANDBOX_", "DJANGO_", "CANVAS_", "DATABASE_URL", "TOKEN_ENCRYPTION_KEYS")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start_sandbox(r: Run, database_url: str) -> None:
    s = r.settings
    env = {
        **_base_env(),
        "DJANGO_SETTINGS_MODULE": "canvas_sandbox.settings",
        "SANDBOX_DATABASE_URL": database_url,
        "SANDBOX_DEBUG": "false",
        # Off without DEBUG unless asked for: the bench drives the sandbox through it.
        "SANDBOX_CONTROL": "true",
        "SANDBOX_LOG_LEVEL": "WARNING",
        "SANDBOX_CONN_MAX_AGE": "60",
        "SANDBOX_ALLOWED_HOSTS": "127.0.0.1",
    }
    say("sandbox: migrate + seed")
    run(
        [PY, "-m", "canvas_sandbox", "migrate", "--no-input", "-v", "0"],
        env=env,
        what="sandbox migrate",
    )
    run([PY, "-m", "canvas_sandbox", "seed"], env=env, what="sandbox seed")
    port = free_port()
    r.sandbox_url = f"http://127.0.0.1:{port}"
    proc = r.stack.start(
        "sandbox",
        gunicorn_args(
            "canvas_sandbox.wsgi:application",
            port=port,
            workers=s.sandbox_workers,
            threads=s.sandbox_threads,
            keepalive=s.sandbox_keepalive_s,
        ),
        env=env,
    )
    r.sandbox_env = env
    wait_http(f"{r.sandbox_url}/sandbox/control/stats", timeout=60, proc=proc)
    r.control = Control(r.sandbox_url)
    say(f"sandbox: {r.sandbox_url} ({s.sandbox_workers} workers x {s.sandbox_threads} threads)")


def _start_portal(r: Run, database_url: str) -> None:
    from cryptography.fernet import Fernet

    s = r.settings
    static_root = r.tmp / "static"
    r.access_log = r.tmp / "portal-access.log"
    r.portal_env = {
        **_base_env(),
        "DJANGO_ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "bench.portal_settings",
        "BENCH_STATIC_ROOT": str(static_root),
        "DJANGO_DEBUG": "false",
        "DJANGO_HTTPS": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "CANVAS_BASE_URL": r.sandbox_url,
        "CANVAS_CLIENT_ID": PUBLIC_CLIENT_ID,
        "CANVAS_READ_TIMEOUT": str(s.canvas_read_timeout),
        "DJANGO_LOG_LEVEL": "WARNING",
        # Short, so an action Canvas refused settles as "not applied" quickly.
        "NOTES_CONFIRM_SECONDS": str(s.confirm_seconds),
        # The bench plans runs back to back as one user: not what the limit guards.
        "NOTES_BULK_PLANS_PER_MINUTE": "10000",
    }
    say("portal: migrate + collectstatic")
    run(
        [PY, "manage.py", "migrate", "--no-input", "-v", "0"],
        env=r.portal_env,
        what="portal migrate",
    )
    run(
        [PY, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        env=r.portal_env,
        what="portal collectstatic",
    )
    r.missing = r.task("probe")
    port = free_port()
    r.portal_url = f"http://127.0.0.1:{port}"
    proc = r.stack.start(
        "portal",
        gunicorn_args(
            "portal.wsgi:application",
            port=port,
            workers=s.portal_workers,
            threads=s.portal_threads,
            access_log=r.access_log,
        ),
        env=r.portal_env,
    )
    wait_http(f"{r.portal_url}/healthz", timeout=60, proc=proc)
    say(f"portal: {r.portal_url} ({s.portal_workers} workers x {s.portal_threads} threads)")


def _start_workers(r: Run) -> None:
    """Start the workers as `make run` does: the "default" (confirmation) and "bulk" lanes."""
    s = r.settings
    lanes = [(f"worker{i}", "default") for i in range(1, s.confirm_workers + 1)]
    for name, queue in [*lanes, (scenarios.BULK_WORKER, "bulk")]:
        proc = r.stack.start(
            name,
            [
                PY,
                "manage.py",
                "db_worker",
                "--queue-name",
                queue,
                "--interval",
                "0.05",
                "--no-reload",
                "--no-startup-delay",
                "--worker-id",
                f"bench-{name}-{secrets.token_hex(4)}",
            ],
            env=r.portal_env,
        )
        time.sleep(1.0)
        if proc.poll() is not None:
            log = r.stack.log_dir / f"{name}.log"
            text = log.read_text(errors="replace") if log.exists() else ""
            tail = text.strip().splitlines()[-10:]
            raise BenchError(
                f"db_worker exited with {proc.returncode}:\n    " + "\n    ".join(tail)
            )
    say(
        f"worker: {s.confirm_workers} db_worker process(es) on default, 1 on bulk, "
        f"NOTES_CONFIRM_SECONDS={s.confirm_seconds:g}"
    )


def _usernames(s: config.Settings) -> list[str]:
    names = ["ovh", "wl", "storm"]
    names += [f"thr{i:02d}" for i in range(1, s.throughput_users + 1)]
    names += [f"flt{i:02d}" for i in range(1, s.faults_users + 1)]
    names += [f"cnf{i:02d}" for i in range(1, s.confirm_users + 1)]
    names += list(scenarios.BULK_USERS)
    names += list(scenarios.NEIGHBOUR_USERS)
    return names


def _seed(r: Run) -> None:
    """Give every bench user a sandbox staff identity, real tokens and a linked portal account."""
    if r.requires("make_connection"):
        say(f"not seeding linked users: {r.requires('make_connection')}")
        return
    names = _usernames(r.settings)
    import subprocess

    done = subprocess.run(
        [PY, "-m", "bench.sandbox_tasks", "staff"],
        cwd=ROOT,
        env=r.sandbox_env,
        input=json.dumps({"usernames": names}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise BenchError("sandbox staff failed: " + done.stderr.strip()[-800:])
    specs = []
    for name in names:
        tokens = r.control.tokens(name)
        me = Direct(r.sandbox_url, tokens["access_token"]).me()
        r.users[name] = {"staff_id": me["staff"]["id"], "staff_name": me["staff"]["name"]}
        specs.append(
            {
                "username": name,
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "expires_in": tokens["expires_in"],
                "staff_id": me["staff"]["id"],
                "staff_name": me["staff"]["name"],
                "canvas_user_id": str(me.get("user_id") or name),
            }
        )
    r.password = secrets.token_urlsafe(18)
    r.task("seed", users=specs, password=r.password)
    say(f"seeded {len(specs)} linked users")


def _run_scenarios(r: Run, results: dict[str, Any]) -> None:
    """Run the chosen scenarios in order, each into `results` even when it fails."""
    for name in r.settings.scenarios:
        say(f"scenario {name}")
        try:
            results[name] = scenarios.REGISTRY[name](r)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one broken scenario must not hide the others
            results[name] = {"status": f"not run: {type(exc).__name__}: {exc}"}
        finally:
            with contextlib.suppress(Exception):
                r.control.reset_faults()
        say(f"scenario {name}: {results[name].get('status', 'done')}")


def main(argv: list[str] | None = None) -> int:
    """Run the bench; return the process exit status."""
    settings = config.parse(argv)
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    stack = Stack(RESULTS / "logs")
    r = Run(settings=settings, tmp=tmp, stack=stack)
    results: dict[str, Any] = {}

    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(RESULTS / "logs", ignore_errors=True)
        r.database, portal_db, sandbox_db = _databases(settings, tmp)
        say(f"database: {r.database}")
        _start_sandbox(r, sandbox_db)
        _start_portal(r, portal_db)
        _start_workers(r)
        _seed(r)
        r.messages = r.task("messages")["messages"] if not r.requires("audit_model") else []
        _run_scenarios(r, results)
    except KeyboardInterrupt:
        print("interrupted: stopping the servers", file=sys.stderr, flush=True)
        status = 130
    except BenchError as exc:
        print(f"bench set-up failed: {exc}", file=sys.stderr, flush=True)
        status = 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    meta = {
        "database": r.database,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "elapsed_s": round(time.monotonic() - started, 1),
        "settings": settings.as_dict(),
        "missing_pieces": {k: v for k, v in r.missing.items() if v},
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if results or status == 0:
        report.write(results, meta, RESULTS)
    return status
