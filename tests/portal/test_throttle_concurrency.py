"""Parallel sign-in guesses against the throttle, on PostgreSQL only.

SQLite runs one writer at a time, so the race cannot happen there; these
run where the row lock is real:
DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_h14 .venv/bin/pytest tests/portal
"""

import threading
import time
import unittest
from unittest import mock

from django.contrib.auth.backends import ModelBackend
from django.db import connection, connections
from django.test import Client, TransactionTestCase, override_settings
from django.urls import reverse

from portal.models import SignInEvent, SignInThrottle
from tests.factories import PASSWORD, make_user

ON_POSTGRES = connection.vendor == "postgresql"
SKIP_REASON = (
    "Concurrency tests need PostgreSQL (SQLite runs one writer at a time): run with "
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_h14"
)
THREADS = 20
#: How long a password check takes here: as long as a real PBKDF2 hash, so the
#: parallel requests are all in flight at once.
CHECK_SECONDS = 0.2


@unittest.skipUnless(ON_POSTGRES, SKIP_REASON)
@override_settings(
    LOGIN_FAILURE_LIMIT=5,
    LOGIN_ADDRESS_FAILURE_LIMIT=8,
    LOGIN_LOCKOUT_SECONDS=900,
    # Past both limits, so the limits themselves are what stops the burst.
    LOGIN_SLOWDOWN_AFTER=50,
    LOGIN_SLOWDOWN_SECONDS=5,
)
class ParallelGuessTests(TransactionTestCase):
    def setUp(self):
        make_user("pat")
        self.checks: list[str] = []
        lock = threading.Lock()
        original = ModelBackend.authenticate

        self.right_password_checking = threading.Event()

        def counted(backend, request, username=None, password=None, **kwargs):
            with lock:
                self.checks.append(username)
            if password == PASSWORD:
                self.right_password_checking.set()
            time.sleep(CHECK_SECONDS)
            return original(backend, request, username, password, **kwargs)

        patcher = mock.patch.object(ModelBackend, "authenticate", counted)
        patcher.start()
        self.addCleanup(patcher.stop)

    def burst(self, attempts: list[tuple[str, str]], *, after=None) -> list[int]:
        """POST every (username, password) at once from one address; return the statuses.

        With `after` (an Event), the attempts start once it is set.
        """
        barrier = threading.Barrier(len(attempts))
        statuses: list[int] = []
        errors: list[str] = []

        def worker(username: str, password: str) -> None:
            client = Client(raise_request_exception=False)
            try:
                barrier.wait(timeout=30)
                if after is not None and not after.wait(timeout=30):
                    raise TimeoutError("never started")
                response = client.post(
                    reverse("login"),
                    {"username": username, "password": password},
                    REMOTE_ADDR="10.9.0.1",
                )
                statuses.append(response.status_code)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker, args=attempt) for attempt in attempts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertEqual(errors, [])
        self.assertEqual(len(statuses), len(attempts))
        return statuses

    def test_twenty_parallel_wrong_passwords_get_at_most_the_limit_of_checks(self):
        statuses = self.burst([("pat", "wrong-password")] * THREADS)
        self.assertEqual(statuses, [200] * THREADS)
        self.assertEqual(len(self.checks), 5)
        self.assertEqual(SignInEvent.objects.filter(kind="failure").count(), 5)
        self.assertEqual(SignInEvent.objects.filter(kind="refused").count(), THREADS - 5)
        self.assertEqual(SignInEvent.objects.filter(kind="lockout").count(), 1)
        row = SignInThrottle.objects.get(scope="username", key="pat")
        self.assertEqual(row.failures, 5)
        self.assertIsNotNone(row.locked_until)
        # The right password now meets the lock, not a password check.
        response = Client().post(
            reverse("login"), {"username": "pat", "password": PASSWORD}, REMOTE_ADDR="10.9.0.2"
        )
        self.assertContains(response, "Too many failed sign-in attempts")
        self.assertEqual(len(self.checks), 5)

    def test_a_success_during_the_burst_breaks_nothing(self):
        # The right password is being checked when 19 wrong ones arrive: 4 of
        # them are let through, and the success deletes the username's row
        # while they are still being checked.
        signed_in = []

        def right():
            response = Client(raise_request_exception=False).post(
                reverse("login"), {"username": "pat", "password": PASSWORD}, REMOTE_ADDR="10.9.0.1"
            )
            signed_in.append(response.status_code)
            connections.close_all()

        first = threading.Thread(target=right)
        first.start()
        statuses = self.burst(
            [("pat", "wrong-password")] * (THREADS - 1), after=self.right_password_checking
        )
        first.join(timeout=60)
        self.assertEqual(signed_in, [302])
        self.assertEqual(statuses, [200] * (THREADS - 1))
        self.assertEqual(len(self.checks), 5)
        # Every wrong password that was checked is counted and kept.
        self.assertEqual(SignInEvent.objects.filter(kind="failure").count(), 4)
        self.assertEqual(SignInEvent.objects.filter(kind="refused").count(), THREADS - 5)
        self.assertEqual(SignInThrottle.objects.get(scope="username", key="pat").failures, 4)

    def test_many_usernames_from_one_address_get_at_most_its_limit_of_checks(self):
        statuses = self.burst([(f"guess{i}", "wrong-password") for i in range(THREADS)])
        self.assertEqual(statuses, [200] * THREADS)
        self.assertEqual(len(self.checks), 8)
        self.assertEqual(SignInEvent.objects.filter(kind="failure").count(), 8)
        row = SignInThrottle.objects.get(scope="address", key="10.9.0.1")
        self.assertEqual(row.failures, 8)
        self.assertIsNotNone(row.locked_until)
