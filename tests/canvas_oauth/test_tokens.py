"""access_token_get and the refresh: responses at the token endpoint."""

import contextlib
from datetime import timedelta
from unittest import mock

import requests
import responses
from django.db import transaction
from django.test import TestCase, override_settings
from django.utils import timezone

from canvas_oauth import conf
from canvas_oauth.crypto import token_decrypt
from canvas_oauth.exceptions import (
    NotConnected,
    ReauthorizationRequired,
    TokenDecryptionFailed,
)
from canvas_oauth.models import CanvasConnection, ConnectionEvent
from canvas_oauth.tokens import access_token_get
from integrations.canvas.exceptions import (
    AuthorizationServerUnavailable,
    CanvasError,
    RefreshOutcomeUnknown,
    TokenResponseInvalid,
)
from tests.factories import make_connection, make_user
from tests.helpers import (
    CLIENT_ID,
    KEY_B,
    TOKEN_URL,
    form,
    oauth_settings,
    token_body,
)


@oauth_settings
class AccessTokenGetTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")

    def setUp(self):
        self.now = timezone.now()
        patcher = mock.patch.object(conf, "now", side_effect=lambda: self.now)
        patcher.start()
        self.addCleanup(patcher.stop)

    def link(self, **kw):
        kw.setdefault("now", self.now)
        return make_connection(self.user, access_token="at-old", refresh_token="rt-old", **kw)

    def row(self):
        return CanvasConnection.objects.get(user=self.user)

    def stored(self, kind):
        row = self.row()
        field = row.access_token_encrypted if kind == "access" else row.refresh_token_encrypted
        return token_decrypt(user_id=self.user.pk, kind=kind, ciphertext=field)

    def test_a_short_lived_token_is_renewed_at_half_its_life_not_on_every_call(self):
        self.link(expires_in=240)
        # Issued just now with a 4-minute lifetime: the 5-minute margin would always refresh.
        CanvasConnection.objects.filter(user=self.user).update(connected_at=self.now)
        with responses.RequestsMock() as rsps:
            self.assertEqual(access_token_get(user=self.user), "at-old")
            self.assertEqual(len(rsps.calls), 0)
        self.now += timedelta(seconds=130)  # past half its life
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(1, expires_in=240))
            self.assertEqual(access_token_get(user=self.user), "at-new-1")

    def test_fresh_token_is_returned_without_calling_canvas(self):
        self.link(expires_in=3600)
        with responses.RequestsMock():  # any HTTP call would fail
            self.assertEqual(access_token_get(user=self.user), "at-old")
            self.link_untouched = True
        # 6 minutes left: still no refresh
        self.now += timedelta(seconds=3600 - 360)
        with responses.RequestsMock():
            self.assertEqual(access_token_get(user=self.user), "at-old")

    def test_refresh_when_expiring_within_five_minutes(self):
        self.link(expires_in=299)
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(1))
            self.assertEqual(access_token_get(user=self.user), "at-new-1")
            sent = form(rsps.calls[0])
        self.assertEqual(
            sent,
            {
                "grant_type": "refresh_token",
                "refresh_token": "rt-old",
                "client_id": CLIENT_ID,
                "scope": "offline_access",  # Canvas: a refresh without it may be refused
            },
        )
        row = self.row()
        self.assertEqual(self.stored("refresh"), "rt-new-1")
        self.assertEqual(self.stored("access"), "at-new-1")
        self.assertEqual(row.refresh_count, 1)
        self.assertEqual(row.last_refreshed_at, self.now)
        self.assertEqual(row.access_expires_at, self.now + timedelta(seconds=36000))
        self.assertTrue(ConnectionEvent.objects.filter(user=self.user, kind="refresh").exists())
        # The next call uses the stored token.
        with responses.RequestsMock():
            self.assertEqual(access_token_get(user=self.user), "at-new-1")

    def test_client_secret_sent_when_configured(self):
        self.link(expires_in=-10)
        with override_settings(CANVAS_CLIENT_SECRET="s3cret"), responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(1))
            access_token_get(user=self.user)
            self.assertEqual(form(rsps.calls[0])["client_secret"], "s3cret")

    def test_invalid_grant_marks_reconnect_needed(self):
        self.link(expires_in=-10)
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
            with self.assertRaises(ReauthorizationRequired) as ctx:
                access_token_get(user=self.user)
        self.assertIn("Reconnect", ctx.exception.message)
        row = self.row()
        self.assertEqual(row.status, "reconnect_needed")
        self.assertEqual(row.last_error_code, "invalid_grant")
        self.assertEqual(self.stored("refresh"), "rt-old")  # ciphertext kept
        self.assertTrue(ConnectionEvent.objects.filter(kind="refresh_failed").exists())
        with responses.RequestsMock(), self.assertRaises(ReauthorizationRequired):
            access_token_get(user=self.user)

    def test_read_timeout_is_not_retried_and_keeps_the_link(self):
        self.link(expires_in=-10)
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, body=requests.ReadTimeout("slow"))
            with self.assertRaises(RefreshOutcomeUnknown):
                access_token_get(user=self.user)
            self.assertEqual(len(rsps.calls), 1)
        row = self.row()
        self.assertEqual(row.status, "active")
        self.assertEqual(row.last_error_code, "refresh_outcome_unknown")
        self.assertEqual(self.stored("refresh"), "rt-old")

    def test_server_unavailable(self):
        cases = [
            ("503", {"status": 503, "body": "<html>down</html>"}),
            ("500 html", {"status": 500, "body": "<html><h1>Server Error</h1></html>"}),
            ("connect timeout", {"body": requests.ConnectTimeout("no")}),
            ("connection error", {"body": requests.ConnectionError("refused")}),
        ]
        for name, kwargs in cases:
            with self.subTest(name):
                CanvasConnection.objects.filter(user=self.user).delete()
                self.link(expires_in=-10)
                with responses.RequestsMock() as rsps:
                    rsps.post(TOKEN_URL, **kwargs)
                    with self.assertRaises(AuthorizationServerUnavailable):
                        access_token_get(user=self.user)
                row = self.row()
                self.assertEqual(row.status, "active")
                self.assertEqual(row.last_error_code, "authorization_server_unavailable")

    def test_server_down_but_token_still_valid_returns_current_token(self):
        self.link(expires_in=120)
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, status=503)
            self.assertEqual(access_token_get(user=self.user), "at-old")

    def test_refresh_without_new_refresh_token_keeps_the_old_one(self):
        self.link(expires_in=-10)
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(2, refresh_token=None))
            self.assertEqual(access_token_get(user=self.user), "at-new-2")
        self.assertEqual(self.stored("refresh"), "rt-old")

    def test_bad_token_responses_store_nothing(self):
        cases = {
            "invalid json": {"body": "{not json", "content_type": "application/json"},
            "no access_token": {"json": token_body(access_token=None)},
            "no expires_in": {"json": token_body(expires_in=None)},
            "negative expires_in": {"json": token_body(expires_in=-5)},
            "string expires_in": {"json": token_body(expires_in="3600")},
            "narrower scope": {"json": token_body(scope="read")},
            "not bearer": {"json": token_body(token_type="mac")},
        }
        for name, kwargs in cases.items():
            with self.subTest(name):
                CanvasConnection.objects.filter(user=self.user).delete()
                self.link(expires_in=-10)
                with responses.RequestsMock() as rsps:
                    rsps.post(TOKEN_URL, **kwargs)
                    with self.assertRaises(TokenResponseInvalid) as ctx:
                        access_token_get(user=self.user)
                self.assertIsInstance(ctx.exception, CanvasError)
                self.assertEqual(self.stored("access"), "at-old")
                self.assertEqual(self.stored("refresh"), "rt-old")
                self.assertEqual(self.row().last_error_code, "token_response_invalid")

    def test_forced_refresh_deduplicated_by_rejected_token(self):
        self.link(expires_in=3600)
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(1))
            token = access_token_get(user=self.user, force_refresh=True, rejected_token="at-old")
            self.assertEqual(token, "at-new-1")
        # A second caller that got a 401 with the old token gets the new one.
        with responses.RequestsMock():
            self.assertEqual(
                access_token_get(user=self.user, force_refresh=True, rejected_token="at-old"),
                "at-new-1",
            )

    def test_forced_refresh_deduplicated_by_recent_refresh(self):
        self.link(expires_in=3600)
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(1))
            self.assertEqual(access_token_get(user=self.user, force_refresh=True), "at-new-1")
        with responses.RequestsMock():  # 2 s later: no second refresh
            self.now += timedelta(seconds=2)
            self.assertEqual(access_token_get(user=self.user, force_refresh=True), "at-new-1")
        self.now += timedelta(minutes=1)
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(2))
            self.assertEqual(access_token_get(user=self.user, force_refresh=True), "at-new-2")

    def test_not_linked_and_reconnect_needed(self):
        with self.assertRaises(NotConnected):
            access_token_get(user=self.user)
        self.link(status=CanvasConnection.Status.DISCONNECTED)
        with self.assertRaises(NotConnected):
            access_token_get(user=self.user)
        CanvasConnection.objects.filter(user=self.user).update(status="reconnect_needed")
        with responses.RequestsMock(), self.assertRaises(ReauthorizationRequired):
            access_token_get(user=self.user)

    def test_wrong_key_raises_and_never_unlinks_or_overwrites(self):
        self.link(expires_in=-10)
        before = self.row()
        with (
            override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B]),
            responses.RequestsMock(),
            self.assertLogs("canvas_oauth.crypto", "ERROR"),
            self.assertRaises(TokenDecryptionFailed),
        ):
            access_token_get(user=self.user)
        after = self.row()
        self.assertEqual(after.status, "active")
        self.assertEqual(after.access_token_encrypted, before.access_token_encrypted)
        self.assertEqual(after.refresh_token_encrypted, before.refresh_token_encrypted)

    def test_refresh_refuses_to_run_nested_in_a_transaction(self):
        self.link(expires_in=-10)
        with responses.RequestsMock(), transaction.atomic(), self.assertRaises(RuntimeError):
            access_token_get(user=self.user)

    def test_refresh_canvas_tokens_command(self):
        from io import StringIO

        from django.core.management import call_command

        self.link(expires_in=1800)  # due within the default 60 minutes
        other = make_user("sam")
        make_connection(other, expires_in=7200, now=self.now)
        out = StringIO()
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, json=token_body(1))
            call_command("refresh_canvas_tokens", stdout=out)
            self.assertEqual(len(rsps.calls), 1)
        self.assertIn("refreshed 1, failed 0", out.getvalue())
        self.assertEqual(self.stored("access"), "at-new-1")

    def test_refresh_canvas_tokens_command_fails_when_a_refresh_fails(self):
        from django.core.management import CommandError, call_command

        self.link(expires_in=10)  # too close to expiry to keep using it
        with responses.RequestsMock() as rsps, self.assertRaises(CommandError) as caught:
            rsps.post(TOKEN_URL, status=503, body="down")
            call_command("refresh_canvas_tokens")
        self.assertEqual(str(caught.exception), "refreshed 0, failed 1")


@oauth_settings
class RefreshMetricsTests(TestCase):
    """Every refresh counts once under portal_token_refreshes_total by how it ended."""

    setUp = AccessTokenGetTests.setUp

    def sample(self, result):
        from prometheus_client import REGISTRY

        return REGISTRY.get_sample_value("portal_token_refreshes_total", {"result": result}) or 0

    def test_each_refresh_counts_under_its_result(self):
        cases = [
            ("refreshed", {"json": token_body(1)}),
            ("reauthorization_required", {"status": 400, "json": {"error": "invalid_grant"}}),
            ("outcome_unknown", {"body": requests.ReadTimeout("slow")}),
            ("unavailable", {"status": 503, "body": "<html>down</html>"}),
        ]
        for result, answer in cases:
            with self.subTest(result):
                user = make_user(f"pat-{result}")
                make_connection(
                    user, access_token="a", refresh_token="r", expires_in=-10, now=self.now
                )
                before = self.sample(result)
                with responses.RequestsMock() as rsps:
                    rsps.post(TOKEN_URL, **answer)
                    # Each failure's own behaviour has its own test above.
                    with contextlib.suppress(CanvasError):
                        access_token_get(user=user)
                self.assertEqual(self.sample(result), before + 1)
