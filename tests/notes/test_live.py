"""The notes service and pages against the real Canvas sandbox over HTTP (tests/live.py)."""

import secrets
import time
import uuid
from datetime import timedelta

from django.test import TestCase, override_settings
from django.utils import timezone

from canvas_oauth.exceptions import ReauthorizationRequired
from integrations.canvas import exceptions
from integrations.canvas.plugin import plugin_client
from notes import attempts, confirmation, late
from notes import exceptions as notes_exceptions
from notes.models import NoteActionAttempt
from notes.worklist import note_get_for_user
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import ensure_groups
from tests.live import LiveSandbox, sandbox


class LiveSandboxMixin:
    """Start (once) the sandbox and link local users to its staff with real tokens."""

    @classmethod
    def setUpClass(cls):
        cls.sandbox = sandbox()
        cls.settings_override = override_settings(
            CANVAS_BASE_URL=cls.sandbox.base_url,
            CANVAS_CLIENT_ID=cls.sandbox.client_id,
            CANVAS_CLIENT_SECRET="",
            CANVAS_PLUGIN_NAME="note_sign_api",
            CANVAS_SCOPES="offline_access",
            CANVAS_READ_TIMEOUT=10.0,
        )
        cls.settings_override.enable()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.settings_override.disable()

    @classmethod
    def link(cls, username, group, *, access_token=None):
        user = make_user(username, groups=(group,))
        tokens = cls.sandbox.issue_tokens(username)
        me = plugin_client().me(access_token=tokens["access_token"])
        make_connection(
            user,
            access_token=access_token or tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_in=tokens["expires_in"],
            staff_id=me["staff"]["id"],
            staff_name=me["staff"]["name"],
            canvas_user_id=me["user_id"] or f"cu-{username}",
        )
        return user

    def setUp(self):
        super().setUp()
        self.sandbox.reset_faults()
        self.addCleanup(self.sandbox.reset_faults)
        # Like Canvas, apply each action's effects a moment after the 202.
        self.sandbox.set_faults(effect_delay_ms=EFFECT_DELAY_MS)


EFFECT_DELAY_MS = 200


def settle(attempt, *, timeout=10.0):
    """Run the worker's check until the attempt settles, waiting for each next read (bounded).

    The task runner is the `db_worker` process in tests/notes/test_workers.py
    and the e2e suite; here the same check runs in the test's own process.
    """
    deadline = time.monotonic() + timeout
    while True:
        check = confirmation.attempt_check(attempt_id=attempt.pk)
        if check.final:
            return NoteActionAttempt.objects.get(pk=attempt.pk)
        if time.monotonic() > deadline:
            raise AssertionError(f"attempt {attempt.pk} still {check.outcome} after {timeout} s")
        wait = (check.retry_at - timezone.now()).total_seconds()
        time.sleep(min(max(wait, 0.0), 1.0))  # bounded wait for the next read


class LiveNoteActionTests(LiveSandboxMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = cls.link("provider", "Providers")
        cls.frontdesk = cls.link("frontdesk", "Front desk")

    def perform(self, user, note, action):
        return attempts.note_action_perform(
            user=user, note_id=note["id"], action=action, request_id="live-test-1"
        )

    @override_settings(NOTES_CONFIRM_SECONDS=1)
    def test_a_late_landing_end_to_end_not_applied_then_applied_late(self):
        # Canvas applies the signature 2 s after the 202; the portal stops at 1 s.
        self.sandbox.set_faults(effect_delay_ms=2000)
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        attempt = settle(self.perform(self.provider, note, "sign"))
        self.assertEqual(attempt.outcome, "not_applied")
        recorded_at = attempt.resolved_at
        self.sandbox.wait_for_state(note["id"], "SGN")
        self.assertEqual(late.attempts_find_late(), 1)
        attempt.refresh_from_db()
        self.assertEqual(attempt.outcome, "applied_late")
        self.assertGreaterEqual(attempt.applied_at, attempt.accepted_at + timedelta(seconds=1.5))
        self.assertEqual(attempt.resolved_at, recorded_at)  # both times kept
        self.assertGreater(attempt.late_found_at, recorded_at)
        self.assertEqual(attempt.note_state, "SGN")
        self.assertEqual(late.attempts_find_late(), 0)  # never twice

    def test_each_action_reaches_the_state_the_sandbox_reports(self):
        cases = [
            ("provider", "lock", "NEW", "encounter", "LKD"),
            ("provider", "sign", "LKD", "encounter", "SGN"),
            ("provider", "lock_sign", "NEW", "encounter", "SGN"),
            ("provider", "lock_sign", "LKD", "encounter", "SGN"),
            ("provider", "unlock", "SGN", "encounter", "ULK"),
            ("provider", "unlock", "LKD", "encounter", "ULK"),
            ("frontdesk", "checkin", "BKD", "appointment", "CVD"),
            ("frontdesk", "noshow", "BKD", "appointment", "NSW"),
            ("provider", "checkin", "NSW", "appointment", "CVD"),
        ]
        for username, action, start, kind, expected in cases:
            with self.subTest(action=action, start=start):
                user = self.provider if username == "provider" else self.frontdesk
                note = self.sandbox.create_note(state=start, kind=kind)
                attempt = self.perform(user, note, action)
                # Accepted, not applied: the sandbox applies the effects 200 ms later.
                self.assertEqual((attempt.outcome, attempt.upstream_status), ("accepted", 202))
                self.assertEqual((attempt.expected_state, attempt.in_flight), (expected, True))
                self.assertEqual(attempt.canvas_staff_id, user.canvas_connection.canvas_staff_id)
                attempt = settle(attempt)
                self.assertEqual(attempt.outcome, "confirmed")
                self.assertEqual(attempt.note_state, expected)
                self.assertGreater(attempt.applied_at, attempt.accepted_at)
                self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], expected)

    @override_settings(NOTES_CONFIRM_SECONDS=1.5)
    def test_an_effect_canvas_refuses_is_not_applied(self):
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        self.sandbox.veto(note["id"])
        attempt = settle(self.perform(self.provider, note, "sign"))
        self.assertEqual(attempt.outcome, "not_applied")
        self.assertEqual(attempt.note_state, "LKD")
        self.assertIn("sign", attempt.note_action_list)  # the row offers Sign again
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "LKD")

    def test_state_conflict_is_409_and_nothing_changes(self):
        note = self.sandbox.create_note(state="SGN", kind="encounter")
        with self.assertRaises(exceptions.ActionNotAllowed) as caught:
            self.perform(self.provider, note, "lock")
        self.assertEqual(caught.exception.state, "SGN")
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "SGN")
        attempt = NoteActionAttempt.objects.get(note_id=note["id"])
        self.assertEqual((attempt.outcome, attempt.upstream_status), ("failed", 409))
        # What the person is told, with the note as Canvas shows it now.
        reply = attempts.note_action_reply(user=self.provider, note_id=note["id"], action="lock")
        self.assertEqual(reply.message, "This note is Signed; it can't be locked.")
        self.assertEqual(reply.note["state"]["code"], "SGN")

    def test_note_type_rejection_is_422(self):
        note = self.sandbox.create_note(state="LKD", kind="encounter_nosig")
        with self.assertRaises(exceptions.ActionRejected) as caught:
            self.perform(self.provider, note, "sign")
        self.assertIn("signature", caught.exception.message)
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "LKD")

    def test_unknown_note_is_404(self):
        with self.assertRaises(exceptions.NoteNotFound):
            self.perform(self.provider, {"id": str(uuid.uuid4())}, "lock")

    def test_front_desk_cannot_sign_and_canvas_sees_nothing(self):
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        self.sandbox.reset_stats()
        with self.assertRaises(notes_exceptions.ActionNotPermitted):
            self.perform(self.frontdesk, note, "sign")
        self.assertEqual(self.sandbox.stats()["plugin_requests"], 0)
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "LKD")

    def test_slow_canvas_is_outcome_unknown_and_not_retried(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        self.sandbox.reset_stats()
        self.sandbox.set_faults(latency_ms=1500)
        with override_settings(CANVAS_READ_TIMEOUT=0.5):
            attempt = self.perform(self.provider, note, "lock")
        self.assertEqual(self.sandbox.stats()["plugin_requests"], 1)
        self.assertEqual((attempt.outcome, attempt.in_flight), ("unknown", True))
        # Canvas did act behind the timeout: reading its history confirms it.
        self.sandbox.set_faults()
        self.assertEqual(settle(attempt).outcome, "confirmed")
        self.assertEqual(len(self.sandbox.effects(note["id"])), 1)  # never sent again

    def test_html_instead_of_json_is_unavailable(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        self.sandbox.set_faults(html_instead_of_json=True, error_rate=1.0)
        with self.assertRaises(exceptions.CanvasUnavailable):
            self.perform(self.provider, note, "lock")
        self.assertEqual(NoteActionAttempt.objects.get(note_id=note["id"]).outcome, "failed")


class LiveSigningRestrictionTests(LiveSandboxMixin, TestCase):
    """Canvas restricts signing to the provider; the plugin variable says nothing of it."""

    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = cls.link("provider", "Providers")

    def setUp(self):
        super().setUp()
        self.assertEqual(
            self.sandbox.set_canvas_settings(restrict_signing_to_provider=True),
            {"restrict_signing_to_provider": True},
        )
        self.addCleanup(self.sandbox.set_canvas_settings, restrict_signing_to_provider=None)
        variables = self.sandbox.set_plugin_variables(restrict_signing_to_provider=False)
        self.assertEqual(variables["restrict_signing_to_provider"], "false")
        self.addCleanup(self.sandbox.set_plugin_variables, restrict_signing_to_provider=None)

    @override_settings(NOTES_CONFIRM_SECONDS=1.5)
    def test_a_cosignature_is_accepted_then_not_applied(self):
        # The nurse wrote and signed it; the provider supervises it and co-signs.
        note = self.sandbox.create_note(
            state="SGN", kind="encounter", provider="nurse", supervising_provider="provider"
        )
        before = self.sandbox.history(note["id"])
        shown = note_get_for_user(user=self.provider, note_id=note["id"])
        self.assertIn("sign", shown["allowed_actions"])  # the plugin offers the co-signature
        attempt = attempts.note_action_perform(
            user=self.provider, note_id=note["id"], action="sign", request_id="live-restrict"
        )
        self.assertEqual((attempt.outcome, attempt.upstream_status), ("accepted", 202))
        attempt = settle(attempt)
        # Canvas refused the effect when applying it: the portal says not applied.
        self.assertEqual(attempt.outcome, "not_applied")
        self.assertEqual(attempt.note_state, "SGN")
        self.assertEqual(self.sandbox.history(note["id"]), before)


class LiveNamespacedPluginTests(TestCase):
    """Canvas installs the plugin as acme__note_sign_api: CANVAS_PLUGIN_NAME follows it."""

    NAME = "acme__note_sign_api"
    link = classmethod(LiveSandboxMixin.link.__func__)  # against this class's own sandbox

    @classmethod
    def setUpClass(cls):
        cls.sandbox = LiveSandbox.start({"SANDBOX_PLUGIN_NAME": cls.NAME})
        cls.settings_override = override_settings(
            CANVAS_BASE_URL=cls.sandbox.base_url,
            CANVAS_CLIENT_ID=cls.sandbox.client_id,
            CANVAS_CLIENT_SECRET="",
            CANVAS_PLUGIN_NAME=cls.NAME,
            CANVAS_SCOPES="offline_access",
            CANVAS_READ_TIMEOUT=10.0,
        )
        cls.settings_override.enable()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.settings_override.disable()
        cls.sandbox.stop()

    def test_an_action_goes_through_the_namespaced_plugin(self):
        ensure_groups()
        user = self.link("provider", "Providers")
        self.assertTrue(self.sandbox.api_url.endswith(f"/plugin-io/api/{self.NAME}"))
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        attempt = attempts.note_action_perform(
            user=user, note_id=note["id"], action="lock", request_id="live-namespaced"
        )
        self.assertEqual((attempt.outcome, attempt.upstream_status), ("accepted", 202))
        self.assertEqual(settle(attempt).outcome, "confirmed")
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "LKD")
        # The bare name is not served: Canvas's runner answers an empty 404.
        bare = self.sandbox.http.get(self.sandbox.url("/plugin-io/api/note_sign_api/me"))
        self.assertEqual((bare.status_code, bare.content), (404, b""))


class LiveTokenRefreshTests(LiveSandboxMixin, TestCase):
    def setUp(self):
        super().setUp()
        ensure_groups()

    def test_rejected_access_token_refreshes_once_and_retries(self):
        user = self.link("provider", "Providers", access_token="revoked-or-unknown-token")
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        self.sandbox.reset_stats()
        attempts.note_action_perform(user=user, note_id=note["id"], action="lock")
        stats = self.sandbox.stats()
        self.assertEqual(stats["token_requests"]["refresh_token"], 1)
        self.assertEqual(stats["plugin_requests"], 2)  # 401 and the retry
        self.assertEqual(user.canvas_connection.__class__.objects.get(user=user).refresh_count, 1)

    def test_tokens_revoked_at_canvas_means_reconnect(self):
        user = self.link("provider", "Providers")
        self.sandbox.revoke_user("provider")
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        with self.assertRaises(ReauthorizationRequired):
            attempts.note_action_perform(user=user, note_id=note["id"], action="lock")
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "NEW")
        attempt = NoteActionAttempt.objects.get(note_id=note["id"])
        self.assertEqual((attempt.outcome, attempt.error_code), ("failed", "reconnect_needed"))


class LiveWorklistTests(LiveSandboxMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = cls.link("provider", "Providers")
        # A patient name no other test uses, so the search isolates these notes.
        cls.patient = f"Livia Worklist{secrets.token_hex(3)}"
        make = cls.sandbox.create_note
        cls.locked = make(state="LKD", kind="encounter", patient=cls.patient, title="Locked one")
        cls.new = make(state="NEW", kind="encounter", patient=cls.patient, title="New one")
        cls.booked = make(
            state="BKD",
            kind="appointment",
            patient=cls.patient,
            date=timezone.now().date().isoformat(),
            title="Booked today",
        )
        cls.other = make(
            state="LKD",
            kind="encounter",
            patient=f"Someone Else{secrets.token_hex(3)}",
        )

    def setUp(self):
        super().setUp()
        self.client.login(username="provider", password=PASSWORD)

    def ids_on(self, url):
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        page = response.context["page"]
        self.assertIsNotNone(page, response.content.decode()[:2000])
        return response, [n["id"] for n in page["notes"]]

    def test_tabs_filter_by_state_provider_and_date(self):
        q = f"&patient={self.patient}"
        expected = {
            # The signing queue: the open note (lock & sign) and the locked one (sign).
            "to_sign": [self.locked["id"], self.new["id"]],
            "open": [self.new["id"]],
            "today": [self.booked["id"]],
        }
        for tab, ids in expected.items():
            with self.subTest(tab=tab):
                response, got = self.ids_on(f"/notes/?tab={tab}{q}")
                self.assertEqual(sorted(got), sorted(ids))
                # Every tab shows its count, from one call to Canvas's counts.
                self.assertIsNotNone(response.context["counts"].get(tab))
        _, everything = self.ids_on(f"/notes/?tab=all{q}")
        self.assertEqual(
            sorted(everything), sorted([self.locked["id"], self.new["id"], self.booked["id"]])
        )

    def test_row_shows_badge_and_permitted_actions(self):
        response, _ = self.ids_on(f"/notes/?tab=signature&patient={self.patient}")
        html = response.content.decode()
        self.assertIn("badge-LKD", html)
        self.assertIn(f"/notes/{self.locked['id']}/sign/", html)
        self.assertIn(self.patient, html)

    def test_pagination_follows_the_cursor(self):
        seen = []
        url = f"/notes/?tab=all&patient={self.patient}"
        with override_settings(NOTES_PAGE_SIZE=2):
            for _ in range(5):
                response, ids = self.ids_on(url)
                seen.extend(ids)
                next_url = response.context.get("next_url")
                if not next_url:
                    break
                self.assertContains(response, "Next page")
                url = next_url
        self.assertEqual(len(seen), 3)
        self.assertEqual(len(set(seen)), 3)

    def test_action_through_the_page(self):
        # Another patient: the sandbox outlives each test's rollback.
        patient = f"Pat Actionpage{secrets.token_hex(3)}"
        note = self.sandbox.create_note(state="NEW", kind="encounter", patient=patient)
        response = self.client.post(
            f"/notes/{note['id']}/lock_sign/", {"view": "row"}, HTTP_HX_REQUEST="true"
        )
        self.assertContains(response, "Locking &amp; signing…")
        attempt = settle(NoteActionAttempt.objects.get(note_id=note["id"]))
        poll = self.client.get(f"/notes/attempts/{attempt.pk}/?view=row", HTTP_HX_REQUEST="true")
        self.assertContains(poll, "badge-SGN", status_code=286)
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "SGN")
