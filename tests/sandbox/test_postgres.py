"""The sandbox on PostgreSQL under gunicorn: exact cross-process counts and one refresh winner.

Runs when DATABASE_URL (as in CI's PostgreSQL pass) or SANDBOX_TEST_POSTGRES_URL
points at a PostgreSQL server; the sandbox gets a database of its own.
"""

import os
import threading
import time
import unittest

import requests
from django.test import SimpleTestCase

from tests.live import LiveSandbox


def _postgres_url() -> str:
    for name in ("SANDBOX_TEST_POSTGRES_URL", "DATABASE_URL"):
        value = os.environ.get(name, "")
        if value.startswith(("postgres://", "postgresql://")):
            return value
    return ""


class PostgresMultiProcessTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        url = _postgres_url()
        if not url:
            raise unittest.SkipTest("no PostgreSQL URL (DATABASE_URL or SANDBOX_TEST_POSTGRES_URL)")
        cls.sandbox = LiveSandbox.start_on_postgres(url, workers=2, threads=4)
        cls.addClassCleanup(cls.sandbox.stop)

    def setUp(self):
        self.addCleanup(self.sandbox.reset_faults)

    def _together(self, count, call):
        results = [None] * count
        barrier = threading.Barrier(count)

        def run(index):
            barrier.wait()
            results[index] = call()

        threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def test_concurrent_refreshes_of_one_token_have_exactly_one_winner(self):
        tokens = self.sandbox.issue_tokens("provider")
        self.sandbox.reset_stats()
        responses = self._together(8, lambda: self.sandbox.refresh(tokens["refresh_token"]))
        statuses = sorted(response.status_code for response in responses)
        self.assertEqual(statuses, [200] + [400] * 7)
        for response in responses:
            if response.status_code == 400:
                self.assertEqual(response.json()["error"], "invalid_grant")
        self.assertEqual(self.sandbox.stats()["token_requests"]["refresh_token"], 8)

    def test_plugin_requests_are_counted_exactly_across_processes(self):
        token = self.sandbox.issue_tokens("provider")["access_token"]
        self.sandbox.reset_stats()
        # A fresh connection per request: a kept-alive one the server has
        # since closed would fail the request before it reaches the sandbox.
        responses = self._together(
            24,
            lambda: requests.get(
                self.sandbox.api_url + "/me",
                headers={"Authorization": f"Bearer {token}"},
                timeout=(3.05, 30),
            ),
        )
        self.assertEqual([r.status_code for r in responses], [200] * 24)
        self.assertEqual(self.sandbox.stats()["plugin_requests"], 24)

    def test_faults_are_shared_and_deterministic_across_processes(self):
        token = self.sandbox.issue_tokens("provider")["access_token"]
        runs = []
        for _ in range(2):
            self.sandbox.set_faults(error_rate=0.5, error_status=500, seed=11)
            runs.append(
                [self.sandbox.api("GET", "/me", token=token).status_code for _ in range(16)]
            )
        self.assertEqual(runs[0], runs[1])
        self.assertEqual(set(runs[0]), {200, 500})

    def test_due_effects_land_exactly_once_whichever_process_reads_first(self):
        token = self.sandbox.issue_tokens("provider")["access_token"]
        self.sandbox.set_faults(effect_delay_ms=300)
        notes = [self.sandbox.create_note(state="NEW", kind="encounter") for _ in range(6)]
        for note in notes:
            response = self.sandbox.api("POST", f"/notes/{note['id']}/lock_sign", token=token)
            self.assertEqual(response.status_code, 202, response.text)
        # Past every effect's due time on the server's own clock (another process: no
        # seam reaches it, and polling through the control API would apply them).
        time.sleep(0.4)
        reads = self._together(
            24,
            lambda: [
                self.sandbox.api("GET", f"/notes/{n['id']}", token=token).json()["state"]["code"]
                for n in notes
            ],
        )
        self.assertEqual({code for read in reads for code in read}, {"SGN"})
        for note in notes:
            with self.subTest(note=note["id"]):
                self.assertEqual(
                    [e["state"] for e in self.sandbox.history(note["id"])], ["NEW", "LKD", "SGN"]
                )
                self.assertEqual(
                    [e["status"] for e in self.sandbox.effects(note["id"])],
                    ["applied", "applied"],
                )
