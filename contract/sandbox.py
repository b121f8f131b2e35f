"""A sandbox of the run's own: started on a free port, seeded, given test notes; stopped after.

Plain subprocess and HTTP (no Django here): `python -m canvas_sandbox serve`
on 127.0.0.1 with a temporary SQLite database; tokens for two staff
members and the write phase's test notes come from its control API.
SANDBOX_* variables in the environment configure it (the variants).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

from contract.config import ROOT, Target, TargetKind, portal_settings_read

FIRST, SECOND = "provider", "provider2"
PLUGIN_NAME = "note_sign_api"
PUBLIC_CLIENT_ID = "canvas-note-portal-dev"


class SandboxStartError(RuntimeError):
    """The sandbox did not start or its control API refused a call."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox:
    """One running sandbox process and the Target pointing at it."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="contract-sandbox-"))
        self.process: subprocess.Popen | None = None
        self.base_url = ""
        self.http = requests.Session()

    def start(self, *, timeout: float = 60.0) -> None:
        """Start the server (migrated, seeded) and wait until it answers /healthz."""
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "canvas_sandbox.settings",
                "PYTHONUNBUFFERED": "1",
                "SANDBOX_DATABASE_URL": f"sqlite:///{self.workdir / 'sandbox.sqlite3'}",
                "SANDBOX_LOG_LEVEL": "WARNING",
                # The installation's zone is the portal's, unless a variant says otherwise.
                "SANDBOX_CLINIC_TIME_ZONE": os.environ.get(
                    "SANDBOX_CLINIC_TIME_ZONE", portal_settings_read().clinic_time_zone
                ),
            }
        )
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        with open(self.workdir / "sandbox.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "canvas_sandbox", "serve", f"127.0.0.1:{port}"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SandboxStartError(f"the sandbox exited; see {self.workdir / 'sandbox.log'}")
            try:
                if self.http.get(f"{self.base_url}/healthz", timeout=(0.5, 2)).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)  # bounded polling for the server to start
        raise SandboxStartError(f"the sandbox did not answer within {timeout:.0f} s")

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API; raise SandboxStartError on a refusal."""
        response = self.http.request(
            method,
            f"{self.base_url}/sandbox/control/{path}",
            json=body,
            headers={"X-Sandbox-Control": "1"},
            timeout=(3.05, 30),
        )
        if response.status_code >= 400:
            raise SandboxStartError(f"control {method} {path} answered {response.status_code}")
        return response.json()

    def target(self) -> Target:
        """Issue tokens and create the test notes; return the Target for the run."""
        token = self.control("POST", "tokens", {"username": FIRST})["access_token"]
        token_2 = self.control("POST", "tokens", {"username": SECOND})["access_token"]
        notes = [self.control("POST", "notes", {"state": "NEW", "kind": "encounter"}) for _ in "ab"]
        appointment = self.control("POST", "notes", {"state": "BKD", "kind": "appointment"})
        # A locked note FIRST wrote and SECOND supervises: the signing-restriction case reads it.
        self.control(
            "POST",
            "notes",
            {"state": "LKD", "kind": "encounter", "supervising_provider": SECOND},
        )
        return Target(
            base_url=self.base_url,
            plugin_name=PLUGIN_NAME,
            token=token,
            token_2=token_2,
            write=True,
            note_ids=tuple(note["id"] for note in notes),
            appointment_id=appointment["id"],
            client_id=PUBLIC_CLIENT_ID,
            kind=TargetKind.SANDBOX,
            portal=portal_settings_read(),
        )

    def stop(self) -> None:
        """Stop the server and delete its folder (database and log) unless SANDBOX_KEEP_LOGS."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.http.close()
        if not os.environ.get("SANDBOX_KEEP_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def target_override(target: Target, **changes: Any) -> Target:
    """Return `target` with some fields changed (tests)."""
    return replace(target, **changes)
