"""The plugin runner and its gRPC client: start `canvas run-plugin`, send SimpleAPI events.

check.py drives these; nothing here knows the contract's cases.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from base64 import b64decode, b64encode
from pathlib import Path
from urllib.parse import urlencode

import grpc
from canvas_generated.messages.effects_pb2 import EffectType
from canvas_generated.messages.events_pb2 import Event as EventRequest
from canvas_generated.messages.events_pb2 import EventType
from canvas_generated.services.plugin_runner_pb2_grpc import PluginRunnerStub

HERE = Path(__file__).resolve().parent
CANVAS = HERE.parent / ".venv" / "bin" / "canvas"
SEED = HERE / "seed.py"
PORT = 50051
START_TIMEOUT = 60.0
RPC_TIMEOUT = 10.0


class Runner:
    """One `canvas run-plugin` process, started in its own process group."""

    def __init__(self, plugin_dir: Path, workdir: Path) -> None:
        self.plugin_dir = plugin_dir
        self.log_path = workdir / f"{plugin_dir.name}.runner.log"
        self.seed_out = workdir / f"{plugin_dir.name}.seed.json"
        self.process: subprocess.Popen | None = None

    def start(self) -> dict:
        """Start the runner on a freshly seeded database; return the seeded ids."""
        port_must_be_free()
        env = {**os.environ, "RUNNER_CHECK_SEED_OUT": str(self.seed_out)}
        env.pop("DATABASE_URL", None)  # run-plugin refuses anything but its SQLite file
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [CANVAS, "run-plugin", str(self.plugin_dir), "--db-seed-file", str(SEED)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=HERE.parent,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"runner for {self.plugin_dir.name} exited with {self.process.returncode} "
                    f"before serving; its log:\n{self.log()}"
                )
            with grpc.insecure_channel(f"127.0.0.1:{PORT}") as channel:
                try:
                    grpc.channel_ready_future(channel).result(timeout=0.5)
                    break
                except grpc.FutureTimeoutError:
                    pass
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"runner for {self.plugin_dir.name} did not serve on port {PORT} within "
                    f"{START_TIMEOUT:.0f} s; its log:\n{self.log()}"
                )
        return json.loads(self.seed_out.read_text())

    def stop(self) -> None:
        """Stop the runner and its children by its process (group) id."""
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid  # start_new_session: the group id is the runner's pid
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def log(self) -> str:
        """Return the runner's output so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def port_must_be_free() -> None:
    """Fail when something already listens on the runner's fixed port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", PORT))
        except OSError as error:
            raise SystemExit(
                f"port {PORT} is in use ({error}); stop the other plugin runner first"
            ) from None


class Reply:
    """The answer to one request: status, body and the effects beside the response."""

    def __init__(self, effects: list, label: str) -> None:
        responses = [e for e in effects if e.type == EffectType.SIMPLE_API_RESPONSE]
        if len(responses) != 1:
            names = [EffectType.Name(e.type) for e in effects]
            raise AssertionError(f"{label}: expected one SIMPLE_API_RESPONSE, got {names}")
        payload = json.loads(responses[0].payload)
        self.status = payload["status_code"]
        self.raw = b64decode(payload.get("body") or "")
        self.effects = [e for e in effects if e.type != EffectType.SIMPLE_API_RESPONSE]
        self.effect_names = [EffectType.Name(e.type) for e in self.effects]

    def json(self):
        """Return the body parsed as JSON (None when empty)."""
        return json.loads(self.raw) if self.raw else None


class Client:
    """Sends SimpleAPI events to the runner the way Canvas does, with the actor set."""

    def __init__(self, plugin_name: str) -> None:
        self.plugin_name = plugin_name
        self.channel = grpc.insecure_channel(f"127.0.0.1:{PORT}")
        self.stub = PluginRunnerStub(self.channel)

    def send(self, event_type: int, actor: str, context: dict) -> list:
        request = EventRequest(type=event_type, actor=actor, context=json.dumps(context))
        effects = []
        for response in self.stub.HandleEvent(request, timeout=RPC_TIMEOUT):
            effects.extend(response.effects)
        return effects

    def call(self, method: str, path: str, *, actor: str, query: dict | None = None, token=True):
        """Send the authentication pass, then (when it answered 200) the request pass."""
        label = f"{method} {path}{'?' + urlencode(query) if query else ''} as {actor or 'nobody'}"
        context = {
            "plugin_name": self.plugin_name,
            "method": method,
            "path": path,
            "query_string": urlencode(query or {}),
            "body": b64encode(b"").decode(),
            "headers": {"Authorization": "Bearer runner-check-token"} if token else {},
        }
        auth = Reply(self.send(EventType.SIMPLE_API_AUTHENTICATE, actor, context), label)
        if auth.status != 200:
            return label + " [authenticate]", auth
        return label, Reply(self.send(EventType.SIMPLE_API_REQUEST, actor, context), label)

    def close(self) -> None:
        self.channel.close()
