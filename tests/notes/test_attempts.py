"""note_action_perform: validation, audit rows, token refresh, double submit, faults."""

import uuid
from datetime import timedelta

import requests
import responses
from django.db import connection, transaction
from django.test import TestCase, TransactionTestCase, override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from responses import matchers

from canvas_oauth import exceptions as oauth_exceptions
from canvas_oauth.models import CanvasConnection
from integrations.canvas import exceptions
from notes import attempts, confirmation
from notes import exceptions as notes_exceptions
from notes.models import NoteActionAttempt
from tests.factories import clock_at, make_attempt, make_connection, make_user
from tests.helpers import (
    API,
    CLIENT_ID,
    SETTINGS,
    TOKEN_URL,
    CanvasMockMixin,
    accepted,
    ensure_groups,
    error,
    token_body,
)

ACCEPTED_JSON = '{"note_id": "x", "action": "sign", "effects": [], "from_state": "LKD"}'


def queued_confirmations():
    """Return the attempt ids of the confirm tasks in the database queue, oldest first."""
    return [
        row.args_kwargs["args"][0]
        for row in DBTaskResult.objects.order_by("enqueued_at")
        if row.task_path == "notes.tasks.attempt_confirm"
    ]


def bearer(token):
    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


@override_settings(**SETTINGS)
class NoteActionPerformTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        cls.frontdesk = make_user("frontdesk", groups=("Front desk",))
        make_connection(cls.provider, access_token="at-1", refresh_token="rt-1", staff_id="s-77")
        make_connection(cls.frontdesk)

    def setUp(self):
        super().setUp()
        self.note_id = uuid.uuid4()

    def action_url(self, action="sign"):
        return f"{API}notes/{self.note_id}/{action}"

    def perform(self, action="sign", user=None, **kwargs):
        return attempts.note_action_perform(
            user=user or self.provider, note_id=str(self.note_id), action=action, **kwargs
        )

    def only_attempt(self):
        attempts = list(NoteActionAttempt.objects.all())
        self.assertEqual(len(attempts), 1)
        return attempts[0]

    # -- success ----------------------------------------------------------

    def test_a_202_is_recorded_accepted_with_what_canvas_said_and_queued_for_confirming(self):
        post = self.rsps.post(
            self.action_url(),
            status=202,
            json=accepted(self.note_id, "sign"),
            match=[bearer("at-1")],
        )
        result = self.perform(request_id="req-12345678", client_ip="10.1.2.3")
        # One Canvas call: the confirmation reads the note later, in the background.
        self.assertEqual(post.call_count, 1)
        self.assertEqual(len(self.rsps.calls), 1)
        attempt = self.only_attempt()
        self.assertEqual(result.pk, attempt.pk)
        self.assertTrue(result.in_flight)
        self.assertEqual(attempt.outcome, "accepted")
        self.assertEqual(attempt.expected_state, "SGN")
        self.assertEqual(attempt.accepted_at.isoformat(), "2026-11-30T10:00:00+00:00")
        self.assertIsNone(attempt.resolved_at)
        self.assertEqual(queued_confirmations(), [attempt.pk])
        self.assertEqual(attempt.upstream_status, 202)
        self.assertEqual(attempt.error_code, "")
        self.assertEqual(attempt.user, self.provider)
        self.assertEqual(attempt.username, "provider")
        self.assertEqual(attempt.canvas_staff_id, "s-77")
        self.assertEqual(attempt.note_id, self.note_id)
        self.assertEqual(attempt.action, "sign")
        self.assertEqual(attempt.request_id, "req-12345678")
        self.assertEqual(attempt.client_ip, "10.1.2.3")
        self.assertIsNotNone(attempt.finished_at)
        self.assertGreaterEqual(attempt.duration_ms, 0)

    def test_a_202_without_a_readable_expected_state_is_still_accepted(self):
        for expected in [None, "SGN", {"label": "no code"}]:
            with self.subTest(expected=expected):
                self.rsps.reset()
                body = {**accepted(self.note_id, "sign"), "expected_state": expected}
                self.rsps.post(self.action_url(), status=202, json=body)
                attempt = self.perform()
                attempt.refresh_from_db()
                self.assertEqual((attempt.outcome, attempt.expected_state), ("accepted", ""))
                # Confirmed against the action's own final states instead.
                self.assertEqual(confirmation.expected_states_of(attempt), ("SGN",))

    def test_audit_row_is_pending_and_committed_before_the_call(self):
        seen = {}

        def callback(request):
            row = NoteActionAttempt.objects.get()
            seen["outcome"] = row.outcome
            return (
                202,
                {},
                ACCEPTED_JSON,
            )

        self.rsps.add_callback("POST", self.action_url(), callback=callback)
        self.perform()
        # That it is committed (visible to another connection) is shown by
        # DoubleSubmitRaceTests, where a second thread sees it.
        self.assertEqual(seen, {"outcome": "pending"})
        self.assertEqual(self.only_attempt().outcome, "accepted")

    def test_bad_client_ip_is_dropped(self):
        self.rsps.post(self.action_url(), status=202, json=accepted(self.note_id, "sign"))
        self.perform(client_ip="not-an-ip", request_id="x" * 200)
        attempt = self.only_attempt()
        self.assertIsNone(attempt.client_ip)
        self.assertEqual(len(attempt.request_id), 64)

    # -- refused before any call ------------------------------------------

    def test_invalid_input_is_refused_before_any_call_or_row(self):
        cases = [
            ("sign", "not-a-uuid", exceptions.InvalidNoteId),
            ("sign", "3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f" * 1000, exceptions.InvalidNoteId),
            ("sign", "\uff13f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f", exceptions.InvalidNoteId),
            ("sign", "3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6ф", exceptions.InvalidNoteId),
            ("sign", "../../me", exceptions.InvalidNoteId),
            ("sign", "", exceptions.InvalidNoteId),
            ("sign", None, exceptions.InvalidNoteId),
            ("delete", str(uuid.uuid4()), notes_exceptions.InvalidAction),
            ("", str(uuid.uuid4()), notes_exceptions.InvalidAction),
            ("SIGN", str(uuid.uuid4()), notes_exceptions.InvalidAction),
        ]
        for action, note_id, exc_class in cases:
            with (
                self.subTest(action=action, note_id=str(note_id)[:50]),
                self.assertRaises(exc_class),
            ):
                attempts.note_action_perform(user=self.provider, note_id=note_id, action=action)
        self.assertEqual(len(self.rsps.calls), 0)
        self.assertFalse(NoteActionAttempt.objects.exists())

    def test_uppercase_and_padded_uuids_are_accepted(self):
        self.rsps.post(self.action_url(), status=202, json=accepted(self.note_id, "sign"))
        attempts.note_action_perform(
            user=self.provider, note_id=f"  {str(self.note_id).upper()}\n", action="sign"
        )
        self.assertEqual(self.only_attempt().note_id, self.note_id)

    def test_front_desk_cannot_sign_and_nothing_is_called(self):
        for action in ["lock", "sign", "lock_sign", "unlock"]:
            with (
                self.subTest(action=action),
                self.assertRaises(notes_exceptions.ActionNotPermitted),
            ):
                self.perform(action, user=self.frontdesk)
        self.assertEqual(len(self.rsps.calls), 0)
        self.assertFalse(NoteActionAttempt.objects.exists())

    def test_front_desk_can_check_in(self):
        self.rsps.post(
            self.action_url("checkin"), status=202, json=accepted(self.note_id, "checkin")
        )
        self.perform("checkin", user=self.frontdesk)
        self.assertEqual(self.only_attempt().outcome, "accepted")

    def test_refuses_to_run_inside_a_transaction(self):
        with self.assertRaises(RuntimeError), transaction.atomic():
            self.perform()
        self.assertEqual(len(self.rsps.calls), 0)

    # -- upstream errors ---------------------------------------------------

    def test_every_contract_error_completes_the_row_as_failed(self):
        cases = [
            (400, "invalid_note_id", exceptions.InvalidNoteId, {}),
            (403, "forbidden", exceptions.Forbidden, {}),
            (404, "note_not_found", exceptions.NoteNotFound, {}),
            (409, "action_not_allowed", exceptions.ActionNotAllowed, {"state": "SGN"}),
            (422, "action_rejected", exceptions.ActionRejected, {}),
            (429, "rate_limited", exceptions.RateLimited, {}),
            (500, "server_error", exceptions.CanvasUnavailable, {}),
            (503, "unavailable", exceptions.CanvasUnavailable, {}),
        ]
        for status, code, exc_class, extra in cases:
            with self.subTest(status=status):
                self.rsps.reset()
                post = self.rsps.post(self.action_url(), status=status, json=error(code, **extra))
                with self.assertRaises(exc_class):
                    self.perform()
                self.assertEqual(post.call_count, 1)
                attempt = NoteActionAttempt.objects.order_by("-id").first()
                self.assertEqual(
                    (attempt.outcome, attempt.upstream_status, attempt.error_code),
                    ("failed", status, code),
                )
        self.assertEqual(NoteActionAttempt.objects.count(), len(cases))
        self.assertFalse(NoteActionAttempt.objects.filter(outcome="pending").exists())

    def test_html_and_invalid_json_bodies(self):
        for status, body, exc_class, outcome in [
            (502, "<html><h1>Bad gateway</h1></html>", exceptions.CanvasUnavailable, "failed"),
            (202, "<html>login</html>", exceptions.CanvasUnavailable, "failed"),
            (200, "{not json", exceptions.CanvasUnavailable, "failed"),
        ]:
            with self.subTest(status=status, body=body):
                self.rsps.reset()
                self.rsps.post(
                    self.action_url(), status=status, body=body, content_type="text/html"
                )
                with self.assertRaises(exc_class):
                    self.perform()
                attempt = NoteActionAttempt.objects.order_by("-id").first()
                self.assertEqual(attempt.outcome, outcome)

    def test_read_timeout_is_unknown_never_retried_and_confirmed_by_reading(self):
        post = self.rsps.post(self.action_url(), body=requests.ReadTimeout("slow"))
        result = self.perform()
        self.assertEqual(post.call_count, 1)
        self.assertEqual(len(self.rsps.calls), 1)  # no retry, no fresh read
        attempt = self.only_attempt()
        self.assertEqual((attempt.outcome, attempt.error_code), ("unknown", "outcome_unknown"))
        # Canvas may have acted: it is followed and confirmed like an accepted one.
        self.assertTrue(result.in_flight)
        self.assertEqual(queued_confirmations(), [attempt.pk])

    def test_connect_timeout_is_failed_unavailable(self):
        self.rsps.post(self.action_url(), body=requests.ConnectTimeout("no route"))
        with self.assertRaises(exceptions.CanvasUnavailable):
            self.perform()
        attempt = self.only_attempt()
        self.assertEqual((attempt.outcome, attempt.error_code), ("failed", "canvas_unavailable"))

    # -- 401: one refresh, one retry ---------------------------------------

    def test_401_refreshes_once_and_retries_once(self):
        first = self.rsps.post(
            self.action_url(), status=401, json=error("unauthenticated"), match=[bearer("at-1")]
        )
        token = self.rsps.post(
            TOKEN_URL,
            json=token_body(access="at-2", refresh="rt-2"),
            match=[
                matchers.urlencoded_params_matcher(
                    {
                        "grant_type": "refresh_token",
                        "refresh_token": "rt-1",
                        "client_id": CLIENT_ID,
                        "scope": "offline_access",
                    },
                    allow_blank=True,
                )
            ],
        )
        second = self.rsps.post(
            self.action_url(),
            status=202,
            json=accepted(self.note_id, "sign"),
            match=[bearer("at-2")],
        )
        self.perform()
        self.assertEqual((first.call_count, token.call_count, second.call_count), (1, 1, 1))
        self.assertEqual(self.only_attempt().outcome, "accepted")
        link = CanvasConnection.objects.get(user=self.provider)
        self.assertEqual(link.refresh_count, 1)

    def test_second_401_fails_without_a_third_call(self):
        post = self.rsps.post(self.action_url(), status=401, json=error("unauthenticated"))
        token = self.rsps.post(TOKEN_URL, json=token_body(access="at-2", refresh="rt-2"))
        with self.assertRaises(exceptions.Unauthenticated):
            self.perform()
        self.assertEqual((post.call_count, token.call_count), (2, 1))
        attempt = self.only_attempt()
        self.assertEqual((attempt.outcome, attempt.upstream_status), ("failed", 401))

    def test_refresh_refused_marks_reconnect_and_fails(self):
        self.rsps.post(self.action_url(), status=401, json=error("unauthenticated"))
        self.rsps.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
        with self.assertRaises(oauth_exceptions.ReauthorizationRequired):
            self.perform()
        attempt = self.only_attempt()
        self.assertEqual((attempt.outcome, attempt.error_code), ("failed", "reconnect_needed"))

    def test_link_revoked_by_an_admin_mid_request(self):
        def revoke_then_401(request):
            CanvasConnection.objects.filter(user=self.provider).update(
                status=CanvasConnection.Status.DISCONNECTED
            )
            return (401, {}, '{"error": {"code": "unauthenticated", "message": "x"}}')

        self.rsps.add_callback("POST", self.action_url(), callback=revoke_then_401)
        with self.assertRaises(oauth_exceptions.NotConnected):
            self.perform()
        self.assertEqual(len(self.rsps.calls), 1)  # no refresh, no retry
        attempt = self.only_attempt()
        self.assertEqual((attempt.outcome, attempt.error_code), ("failed", "not_linked"))

    def test_not_linked_and_reconnect_needed_fail_without_calling_the_plugin(self):
        loner = make_user("loner", groups=("Providers",))
        stale = make_user("stale", groups=("Providers",))
        make_connection(stale, status="reconnect_needed")
        for user, exc_class, code in [
            (loner, oauth_exceptions.NotConnected, "not_linked"),
            (stale, oauth_exceptions.ReauthorizationRequired, "reconnect_needed"),
        ]:
            with self.subTest(user=user.username):
                with self.assertRaises(exc_class):
                    self.perform(user=user)
                attempt = NoteActionAttempt.objects.get(user=user)
                self.assertEqual((attempt.outcome, attempt.error_code), ("failed", code))
        self.assertEqual(len(self.rsps.calls), 0)

    def test_expired_token_with_token_endpoint_down(self):
        with_expired = make_user("expired", groups=("Providers",))
        make_connection(with_expired, expires_in=10)
        self.rsps.post(TOKEN_URL, status=503, body="<html>down</html>")
        with self.assertRaises(exceptions.AuthorizationServerUnavailable):
            self.perform(user=with_expired)
        attempt = NoteActionAttempt.objects.get(user=with_expired)
        self.assertEqual(attempt.outcome, "failed")

    # -- double submit -------------------------------------------------------

    def test_second_identical_submit_while_pending_makes_no_call(self):
        inner = {}

        def callback(request):
            # The same person clicks again while Canvas is still working.
            try:
                self.perform()
            except notes_exceptions.AlreadyInProgress as exc:
                inner["error"] = exc
            return (
                202,
                {},
                ACCEPTED_JSON,
            )

        self.rsps.add_callback("POST", self.action_url(), callback=callback)
        self.perform()
        self.assertIn("error", inner)
        posts = [c for c in self.rsps.calls if c.request.method == "POST"]
        self.assertEqual(len(posts), 1)
        outcomes = sorted(NoteActionAttempt.objects.values_list("outcome", "error_code"))
        self.assertEqual(outcomes, [("accepted", ""), ("failed", "already_in_progress")])

    def test_stale_pending_row_does_not_block_forever(self):
        long_ago = timezone.now() - timedelta(hours=1)
        make_attempt(
            self.provider,
            note_id=self.note_id,
            action="sign",
            outcome="pending",
            started_at=long_ago,
        )
        self.rsps.post(self.action_url(), status=202, json=accepted(self.note_id, "sign"))
        self.perform()
        rows = sorted(NoteActionAttempt.objects.values_list("outcome", "error_code"))
        self.assertEqual(rows, [("accepted", ""), ("unknown", "abandoned")])

    def test_other_actions_or_users_are_not_blocked(self):
        make_attempt(self.provider, note_id=self.note_id, action="lock", outcome="pending")
        self.rsps.post(self.action_url(), status=202, json=accepted(self.note_id, "sign"))
        self.perform("sign")
        with self.assertRaises(notes_exceptions.AlreadyInProgress):
            self.perform("lock")

    # -- an exception in the middle -----------------------------------------

    def test_exception_after_sending_leaves_the_row_unknown(self):
        def explode(request):
            raise RuntimeError("worker bug")

        self.rsps.add_callback("POST", self.action_url(), callback=explode)
        with self.assertRaises(RuntimeError):
            self.perform()
        attempt = self.only_attempt()
        self.assertEqual((attempt.outcome, attempt.error_code), ("unknown", "internal_error"))
        self.assertIsNotNone(attempt.finished_at)

    def test_exception_before_sending_leaves_the_row_failed(self):
        with_expired = make_user("expired2", groups=("Providers",))
        make_connection(with_expired, expires_in=10)

        def explode(request):
            raise RuntimeError("token endpoint client bug")

        self.rsps.add_callback("POST", TOKEN_URL, callback=explode)
        with self.assertRaises(RuntimeError):
            self.perform(user=with_expired)
        attempt = NoteActionAttempt.objects.get(user=with_expired)
        self.assertEqual((attempt.outcome, attempt.error_code), ("failed", "internal_error"))

    def test_interrupt_during_the_call_is_not_left_pending(self):
        def interrupt(request):
            raise KeyboardInterrupt

        self.rsps.add_callback("POST", self.action_url(), callback=interrupt)
        with self.assertRaises(KeyboardInterrupt):
            self.perform()
        self.assertEqual(self.only_attempt().outcome, "unknown")

    def test_token_never_reaches_the_log(self):
        self.rsps.post(self.action_url(), status=500, json=error("boom"))
        with (
            self.assertLogs("notes", level="INFO") as logs,
            self.assertRaises(exceptions.CanvasError),
        ):
            self.perform()
        self.assertNotIn("at-1", "\n".join(logs.output))
        self.assertNotIn("rt-1", "\n".join(logs.output))


@override_settings(**SETTINGS)
class DoubleSubmitRaceTests(TransactionTestCase):
    """Two threads, two database connections: one upstream call, on SQLite and PostgreSQL.

    The partial unique index that guards it exists on both.
    """

    def setUp(self):
        ensure_groups()
        self.user = make_user("provider", groups=("Providers",))
        make_connection(self.user, access_token="at-1")
        self.note_id = uuid.uuid4()

    def test_concurrent_identical_submits_call_canvas_once(self):
        import threading

        inside = threading.Event()
        release = threading.Event()
        results = {}

        def slow_post(request):
            inside.set()
            release.wait(10)
            return (
                202,
                {},
                ACCEPTED_JSON,
            )

        def run(name):
            try:
                attempts.note_action_perform(
                    user=self.user, note_id=str(self.note_id), action="sign"
                )
                results[name] = "ok"
            except notes_exceptions.AlreadyInProgress:
                results[name] = "in progress"
            finally:
                connection.close()

        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            post = rsps.add_callback("POST", f"{API}notes/{self.note_id}/sign", callback=slow_post)
            first = threading.Thread(target=run, args=("first",))
            first.start()
            self.assertTrue(inside.wait(10))
            second = threading.Thread(target=run, args=("second",))
            second.start()
            second.join(10)
            release.set()
            first.join(10)
        self.assertEqual(results, {"first": "ok", "second": "in progress"})
        self.assertEqual(post.call_count, 1)
        self.assertEqual(
            sorted(NoteActionAttempt.objects.values_list("outcome", flat=True)),
            ["accepted", "failed"],
        )

    def test_mocked_clock_makes_old_pending_rows_stale(self):
        make_attempt(self.user, note_id=self.note_id, action="sign", outcome="pending")
        later = timezone.now() + timedelta(minutes=5)
        with (
            clock_at(attempts, later),
            responses.RequestsMock() as rsps,
        ):
            rsps.post(
                f"{API}notes/{self.note_id}/sign", status=202, json=accepted(self.note_id, "sign")
            )
            attempts.note_action_perform(user=self.user, note_id=str(self.note_id), action="sign")
        self.assertEqual(
            sorted(NoteActionAttempt.objects.values_list("outcome", flat=True)),
            ["accepted", "unknown"],
        )
