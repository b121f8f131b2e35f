"""Run the portal and the Canvas sandbox together for development (`make run`).

Prepares both databases (migrate + idempotent demo seed), starts the sandbox
on 127.0.0.1:8001, the portal on 127.0.0.1:8000 and the portal's task
worker (it confirms what Canvas accepted), prints where to go and how to
sign in, and stops them all on Ctrl-C.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PORTAL = "http://127.0.0.1:8000"
SANDBOX = "http://127.0.0.1:8001"
DEMO_TIME_ZONE = "America/Los_Angeles"


def run(*args: str) -> None:
    """Run a set-up command in the project root; stop everything if it fails."""
    subprocess.run([PY, *args], cwd=ROOT, check=True)


def wait_for(url: str, timeout: float = 60.0) -> bool:
    """Return True once `url` answers (any status), False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - fixed local URL
            return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.3)
    return False


def clinic_time_zone() -> str:
    """Return the portal's CLINIC_TIME_ZONE as its settings read it: the environment, then .env."""
    import environ  # the portal's own reader of .env

    env_file = ROOT / ".env"
    if env_file.is_file():
        environ.Env.read_env(env_file)  # fills in only what the environment lacks
    return os.environ.get("CLINIC_TIME_ZONE") or DEMO_TIME_ZONE


def prepare() -> None:
    """Migrate and seed the portal and the sandbox, in the clinic's time zone."""
    # The demo clinic is in California unless .env or the environment say
    # otherwise; the sandbox seeds today's appointments in the clinic's day.
    zone = clinic_time_zone()
    os.environ.setdefault("CLINIC_TIME_ZONE", zone)
    os.environ.setdefault("SANDBOX_CLINIC_TIME_ZONE", zone)
    run("manage.py", "migrate", "--no-input", "-v", "0")
    run("manage.py", "seed_demo")
    # Actions a stopped worker left unconfirmed are settled before it restarts.
    run("manage.py", "confirm_note_actions")
    run("-m", "canvas_sandbox", "migrate", "--no-input", "-v", "0")
    run("-m", "canvas_sandbox", "seed")


def start() -> list[subprocess.Popen]:
    """Start the sandbox, the portal and two task workers; return their processes."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Canvas applies a plugin's effects after the answer: let a person see the
    # note change a moment after the 202 (tests keep the default 0).
    sandbox_env = {"SANDBOX_EFFECT_DELAY_MS": "400", **env}
    return [
        subprocess.Popen(
            [PY, "-m", "canvas_sandbox", "runserver", "127.0.0.1:8001"], cwd=ROOT, env=sandbox_env
        ),
        subprocess.Popen([PY, "manage.py", "runserver", "127.0.0.1:8000"], cwd=ROOT, env=env),
        # Two task workers, one per lane, as in production: "default"
        # confirms what Canvas accepted, "bulk" carries out bulk runs, so a
        # click's confirmation never waits behind a run. They poll the queue
        # every 0.05 s when idle, so "Signing..." turns into "Signed" a
        # moment after the effect lands.
        *(
            subprocess.Popen(
                [
                    PY,
                    "manage.py",
                    "db_worker",
                    "--queue-name",
                    queue,
                    "--interval",
                    "0.05",
                    "--no-reload",
                ],
                cwd=ROOT,
                env=env,
            )
            for queue in ("default", "bulk")
        ),
    ]


def stop(procs: list[subprocess.Popen]) -> None:
    """Terminate every process still running, killing any that will not stop in 10 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    """Prepare, start, report, and wait for Ctrl-C."""
    prepare()
    procs = start()
    signal.signal(signal.SIGTERM, lambda *_: (stop(procs), sys.exit(0)))
    try:
        ready = wait_for(f"{SANDBOX}/") and wait_for(f"{PORTAL}/healthz")
        print(
            "\n"
            "  Canvas Note Portal  " + PORTAL + "/accounts/login/\n"
            "    sign in as provider, frontdesk or admin (password: canvas-demo)\n"
            "  Canvas sandbox      " + SANDBOX + "/\n"
            "    Canvas staff provider and frontdesk (password: canvas-demo)\n"
            + ("" if ready else "  (still starting: watch the log below)\n")
            + "  Task workers (2)    default: confirm each action Canvas accepts; bulk: runs\n"
            "  Press Ctrl-C to stop them all.\n",
            flush=True,
        )
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        print("A process stopped; stopping the others.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop(procs)


if __name__ == "__main__":
    sys.exit(main())
