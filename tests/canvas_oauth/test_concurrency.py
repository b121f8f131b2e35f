"""Refresh storms and key rotation against the live sandbox, on PostgreSQL only.

SQLite ignores select_for_update, so these run where the row lock is real:
DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_oauth .venv/bin/pytest tests/canvas_oauth
"""

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import unittest
from datetime import timedelta
from pathlib import Path

from django.db import connection, connections
from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from canvas_oauth import conf, operations, tokens
from canvas_oauth.crypto import token_decrypt
from canvas_oauth.models import CanvasConnection
from integrations.canvas.auth import AuthClient
from tests.canvas_oauth.test_live import live_settings
from tests.factories import make_connection, make_user
from tests.helpers import KEY_A, KEY_B
from tests.live import sandbox

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = connection.vendor == "postgresql"
SKIP_REASON = (
    "Concurrency tests need PostgreSQL (SQLite ignores select_for_update): run with "
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_oauth"
)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConcurrencyBase(TransactionTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if ON_POSTGRES:
            cls.sb = sandbox()

    def setUp(self):
        settings = live_settings(self.sb)
        settings.enable()
        self.addCleanup(settings.disable)
        self.sb.reset_faults()
        self.user = make_user("pat")
        tokens = self.sb.issue_tokens("provider")
        # Expired a minute ago: every caller must refresh (or wait for the one that does).
        make_connection(
            self.user,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_in=-60,
        )
        self.sb.reset_stats()

    def stored_access(self) -> str:
        row = CanvasConnection.objects.get(user=self.user)
        return token_decrypt(
            user_id=self.user.pk, kind="access", ciphertext=row.access_token_encrypted
        )


@unittest.skipUnless(ON_POSTGRES, SKIP_REASON)
class RefreshStormTests(ConcurrencyBase):
    def test_twenty_threads_cause_exactly_one_refresh(self):
        barrier = threading.Barrier(20)
        results: list[str] = []
        errors: list[str] = []

        def worker():
            try:
                barrier.wait(timeout=30)
                results.append(tokens.access_token_get(user=self.user))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 20)
        self.assertEqual(len(set(results)), 1)
        self.assertEqual(self.sb.stats()["token_requests"]["refresh_token"], 1)
        self.assertEqual(self.sb.api("GET", "/me", token=results[0]).status_code, 200)
        row = CanvasConnection.objects.get(user=self.user)
        self.assertEqual((row.status, row.refresh_count), ("active", 1))

    def test_four_processes_cause_exactly_one_refresh(self):
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": (
                f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                f"/{db['NAME']}"
            ),
            "CANVAS_BASE_URL": self.sb.base_url,
            "CANVAS_CLIENT_ID": self.sb.client_id,
            "CANVAS_CLIENT_SECRET": "",
            "CANVAS_PLUGIN_NAME": "note_sign_api",
            "TOKEN_ENCRYPTION_KEYS": KEY_A,
            "DJANGO_LOG_LEVEL": "ERROR",
            "PYTHONPATH": str(ROOT),
        }
        procs = [
            subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("concurrent_worker.py")),
                 str(self.user.pk)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]  # fmt: skip
        try:
            for proc in procs:  # all set up (Django loaded) before any starts
                line = proc.stdout.readline().strip()
                if line != "ready":
                    self.fail(f"worker did not start: {line!r} {proc.communicate(timeout=30)}")
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            outputs = [proc.communicate(timeout=120) for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
        results = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
        self.assertEqual([r["error"] for r in results], [""] * 4, [e for _o, e in outputs])
        self.assertEqual([r["ok"] for r in results], [True] * 4, results)
        self.assertEqual(len({r["token_sha256"] for r in results}), 1)
        self.assertEqual(results[0]["token_sha256"], _sha(self.stored_access()))
        self.assertEqual(self.sb.stats()["token_requests"]["refresh_token"], 1)
        row = CanvasConnection.objects.get(user=self.user)
        self.assertEqual((row.status, row.refresh_count), ("active", 1))


@unittest.skipUnless(ON_POSTGRES, SKIP_REASON)
class RotationDuringRefreshTests(ConcurrencyBase):
    def test_rotation_waits_for_a_refresh_in_progress_and_loses_nothing(self):
        """Key rotation blocked on the row lock must not write back the old refresh token."""
        rotation_result: dict = {}
        refresh_result: dict = {}
        real_refresh = AuthClient.token_refresh

        def rotate():
            try:
                rotation_result.update(operations.connections_keys_rotate())
            finally:
                connections.close_all()

        rotation = threading.Thread(target=rotate)

        def refresh_holding_the_lock(client, *, refresh_token):
            # The refreshing worker holds the row lock here: start the rotation
            # and wait (bounded) until PostgreSQL shows it blocked on that lock.
            rotation.start()
            deadline = time.monotonic() + 20
            with connections["default"].cursor() as cursor:
                while time.monotonic() < deadline:
                    # pg_locks is live (pg_stat_activity is a per-transaction snapshot).
                    cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    if cursor.fetchone()[0]:
                        break
                    threading.Event().wait(0.02)
                else:
                    raise AssertionError("the rotation never waited for the row lock")
            return real_refresh(client, refresh_token=refresh_token)

        def refresh():
            try:
                from unittest import mock

                with mock.patch.object(AuthClient, "token_refresh", refresh_holding_the_lock):
                    refresh_result["token"] = tokens.access_token_get(user=self.user)
            except Exception as exc:
                refresh_result["error"] = repr(exc)
            finally:
                connections.close_all()

        with override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B, KEY_A]):
            worker = threading.Thread(target=refresh)
            worker.start()
            worker.join(timeout=60)
            rotation.join(timeout=60)
        self.assertNotIn("error", refresh_result)
        # The refresh wrote under KEY_B first; the rotation found the row current.
        self.assertEqual(rotation_result, {"rotated": 0, "current": 1, "empty": 0, "failed": 0})
        with override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B]):
            self.assertEqual(self.stored_access(), refresh_result["token"])
            later = timezone.now() + timedelta(seconds=36000)
            from unittest import mock

            with mock.patch.object(conf, "now", return_value=later):
                token = tokens.access_token_get(user=self.user)  # the stored refresh token works
        self.assertEqual(self.sb.api("GET", "/me", token=token).status_code, 200)
        self.assertEqual(self.sb.stats()["token_requests"]["refresh_token"], 2)
