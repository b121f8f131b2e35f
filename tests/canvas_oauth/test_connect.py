"""The connect flow: connect, callback, connect failed, disconnect (responses at HTTP)."""

import logging
from datetime import timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import requests
import responses
from django.contrib.messages import get_messages
from django.test import TestCase, override_settings
from django.utils import timezone

from canvas_oauth import conf, flows, operations, tokens
from canvas_oauth.crypto import TokenKind, token_decrypt
from canvas_oauth.exceptions import NotConnected
from canvas_oauth.models import CanvasConnection, ConnectionEvent
from integrations.canvas.exceptions import AuthorizationServerUnavailable
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import (
    CANVAS,
    CLIENT_ID,
    KEY_B,
    ME_URL,
    REVOKE_URL,
    TOKEN_URL,
    database_dump,
    form,
    oauth_settings,
    token_body,
)

ME = {"user_id": "cu-1", "staff": {"id": "staff-1", "name": "Dr. Ada Lovelace"}}
Kind = ConnectionEvent.Kind


class FlowMixin:
    """Start flows as the signed-in user and drive the callback."""

    def start(self, next_url: str | None = None) -> dict[str, str]:
        url = "/canvas/connect/" + (f"?next={next_url}" if next_url is not None else "")
        response = self.client.get(url)
        self.assertEqual(response.status_code, 302)
        location = response["Location"]
        self.assertTrue(location.startswith(f"{CANVAS}/auth/authorize/?"), location)
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    def callback(self, **params):
        return self.client.get("/canvas/callback/", params)

    def failure_text(self, response) -> str:
        self.assertRedirects(response, "/canvas/link-failed/", fetch_redirect_response=False)
        page = self.client.get("/canvas/link-failed/")
        self.assertEqual(page.status_code, 200)
        self.assertContains(page, "Try again")
        return page.content.decode()

    def ok_mocks(self, rsps, n=1, me=ME):
        rsps.post(TOKEN_URL, json=token_body(n))
        rsps.get(ME_URL, json=me)


@oauth_settings
class ConnectTests(FlowMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")

    def setUp(self):
        self.client.force_login(self.user)

    def test_authorize_request_parameters(self):
        params = self.start()
        self.assertEqual(params["response_type"], "code")
        self.assertEqual(params["client_id"], CLIENT_ID)
        self.assertEqual(params["redirect_uri"], "http://testserver/canvas/callback/")
        self.assertEqual(params["scope"], "offline_access")
        self.assertEqual(params["code_challenge_method"], "S256")
        self.assertEqual(params["launch"], "e30=")
        self.assertGreaterEqual(len(params["state"]), 43)  # >= 256 bits of entropy
        flow = self.client.session[flows.SESSION_FLOWS_KEY][params["state"]]
        self.assertTrue(43 <= len(flow["verifier"]) <= 128)
        self.assertEqual(params["code_challenge"], flows.pkce_challenge(verifier=flow["verifier"]))
        self.assertNotIn(flow["verifier"], str(params))

    def test_states_are_fresh_per_flow(self):
        states = {self.start()["state"] for _ in range(4)}
        self.assertEqual(len(states), 4)

    def test_pending_flows_are_capped_oldest_first(self):
        states = [self.start()["state"] for _ in range(7)]
        pending = self.client.session[flows.SESSION_FLOWS_KEY]
        self.assertEqual(list(pending), states[2:])

    def test_configured_redirect_uri_is_used(self):
        with override_settings(CANVAS_REDIRECT_URI="https://portal.example/canvas/callback/"):
            params = self.start()
        self.assertEqual(params["redirect_uri"], "https://portal.example/canvas/callback/")

    def test_missing_configuration_is_a_friendly_503(self):
        with (
            override_settings(CANVAS_CLIENT_ID=""),
            self.assertLogs("canvas_oauth.views", "ERROR") as logs,
        ):
            response = self.client.get("/canvas/connect/")
        self.assertContains(response, "not set up on this portal", status_code=503)
        self.assertIn("CANVAS_CLIENT_ID", logs.output[0])

    def test_anonymous_user_is_sent_to_login(self):
        self.client.logout()
        response = self.client.get("/canvas/connect/")
        self.assertEqual(response.status_code, 302)
        self.assertIn("/accounts/login/", response["Location"])

    def test_open_redirect_next_is_not_stored(self):
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "http://testserver.evil.example/",
        ]:
            with self.subTest(bad=bad):
                state = self.start(next_url=requests.utils.quote(bad, safe=""))["state"]
                flow = self.client.session[flows.SESSION_FLOWS_KEY][state]
                self.assertEqual(flow["next"], "")

    def test_safe_next_is_stored(self):
        state = self.start(next_url="/notes/%3Fstate%3DLKD")["state"]
        self.assertEqual(
            self.client.session[flows.SESSION_FLOWS_KEY][state]["next"], "/notes/?state=LKD"
        )

    def test_rfc7636_appendix_b_vector(self):
        self.assertEqual(
            flows.pkce_challenge(verifier="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )

    def test_pkce_verifier_rules(self):
        for bad in ["short", "a" * 129, "a" * 42 + "!", "a" * 50 + " "]:
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                flows.pkce_challenge(verifier=bad)
        for _ in range(20):
            verifier = flows.pkce_verifier_new()
            self.assertTrue(43 <= len(verifier) <= 128)
            flows.pkce_challenge(verifier=verifier)


@oauth_settings
class CallbackTests(FlowMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")
        cls.other = make_user("sam")

    def setUp(self):
        self.client.force_login(self.user)

    def test_successful_link(self):
        state = self.start(next_url="/notes/")["state"]
        verifier = self.client.session[flows.SESSION_FLOWS_KEY][state]["verifier"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps)
            response = self.callback(code="the-code", state=state)
            sent = form(rsps.calls[0])
            me_auth = rsps.calls[1].request.headers["Authorization"]
        self.assertEqual(
            sent,
            {
                "grant_type": "authorization_code",
                "code": "the-code",
                "redirect_uri": "http://testserver/canvas/callback/",
                "code_verifier": verifier,
                "client_id": CLIENT_ID,
            },
        )
        self.assertEqual(me_auth, "Bearer at-new-1")
        self.assertRedirects(response, "/notes/", fetch_redirect_response=False)
        self.assertEqual(response["Referrer-Policy"], "no-referrer")
        self.assertIn("no-cache", response["Cache-Control"])
        self.assertEqual(
            [str(m) for m in get_messages(response.wsgi_request)],
            ["Linked to Canvas as Dr. Ada Lovelace."],
        )
        row = CanvasConnection.objects.get(user=self.user)
        self.assertEqual(row.status, "active")
        self.assertEqual((row.canvas_user_id, row.canvas_staff_id), ("cu-1", "staff-1"))
        self.assertEqual(row.canvas_staff_name, "Dr. Ada Lovelace")
        self.assertEqual(row.scope, "offline_access")
        self.assertEqual(
            token_decrypt(
                user_id=self.user.pk, kind=TokenKind.REFRESH, ciphertext=row.refresh_token_encrypted
            ),
            "rt-new-1",
        )
        self.assertNotIn("at-new-1", row.access_token_encrypted)
        self.assertNotIn(state, self.client.session[flows.SESSION_FLOWS_KEY])
        self.assertTrue(
            ConnectionEvent.objects.filter(
                user=self.user, kind=ConnectionEvent.Kind.CONNECT
            ).exists()
        )
        home = self.client.get("/")
        self.assertContains(home, "Connected to Canvas as <strong>Dr. Ada Lovelace</strong> since")
        self.assertContains(home, "Disconnect")

    def test_without_next_goes_home(self):
        state = self.start()["state"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps)
            response = self.callback(code="c", state=state)
        self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_client_secret_sent_for_a_confidential_client(self):
        state = self.start()["state"]
        with (
            override_settings(CANVAS_CLIENT_SECRET="conf-secret"),
            responses.RequestsMock() as rsps,
        ):
            self.ok_mocks(rsps)
            self.callback(code="c", state=state)
            self.assertEqual(form(rsps.calls[0])["client_secret"], "conf-secret")

    def test_two_flows_at_once_both_work(self):
        first = self.start()["state"]
        second = self.start()["state"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps, n=2)
            response = self.callback(code="c2", state=second)
        self.assertRedirects(response, "/", fetch_redirect_response=False)
        # The older tab's flow is still valid afterwards.
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps, n=1)
            response = self.callback(code="c1", state=first)
        self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_state_failures(self):
        def mismatched():
            self.start()
            return {"code": "c", "state": "not-the-state"}

        def missing():
            self.start()
            return {"code": "c"}

        def expired():
            state = self.start()["state"]
            later = timezone.now() + timedelta(minutes=10, seconds=5)
            patcher = mock.patch.object(conf, "now", return_value=later)
            patcher.start()
            return {"code": "c", "state": state}

        def other_user():
            state = self.start()["state"]
            session = self.client.session
            session[flows.SESSION_FLOWS_KEY][state]["user_id"] = self.other.pk
            session.save()
            return {"code": "c", "state": state}

        cases = {
            "mismatched": (mismatched, "not started from this browser"),
            "missing": (missing, "did not say which sign-in"),
            "expired": (expired, "expired"),
            "other user": (other_user, "another portal user"),
        }
        for name, (make, expected) in cases.items():
            with self.subTest(name), responses.RequestsMock():  # no token call at all
                params = make()
                with self.assertLogs("canvas_oauth.views", "WARNING") as logs:
                    response = self.callback(**params)
                self.assertEqual(response["Referrer-Policy"], "no-referrer")
                self.assertIn(expected, self.failure_text(response))
                if params.get("state"):
                    self.assertNotIn(params["state"], "\n".join(logs.output))
                self.assertFalse(CanvasConnection.objects.filter(user=self.user).exists())
                mock.patch.stopall()

    def test_state_failure_log_holds_no_state_or_code(self):
        state = self.start()["state"]
        with self.assertLogs("canvas_oauth", "WARNING") as logs:
            self.callback(code="secret-code-123", state=state + "x")
        text = "\n".join(logs.output)
        self.assertNotIn(state, text)
        self.assertNotIn("secret-code-123", text)

    def test_replayed_state_is_refused(self):
        state = self.start()["state"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps)
            self.callback(code="c", state=state)
        with responses.RequestsMock():  # the code is not exchanged again
            response = self.callback(code="c", state=state)
        self.assertIn("already used", self.failure_text(response))

    def test_state_is_used_once_even_when_the_exchange_fails(self):
        state = self.start()["state"]
        with responses.RequestsMock() as rsps:
            rsps.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
            self.callback(code="c", state=state)
        with responses.RequestsMock():
            response = self.callback(code="c", state=state)
        self.assertIn("already used", self.failure_text(response))

    def test_access_denied_with_markup_is_escaped(self):
        state = self.start()["state"]
        response = self.callback(
            state=state,
            error="access_denied",
            error_description='<script>alert("x")</script><b>no</b>',
        )
        text = self.failure_text(response)
        self.assertIn("You chose not to let the portal use your Canvas account", text)
        self.assertNotIn("<script>alert", text)
        self.assertIn("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;", text)
        self.assertFalse(CanvasConnection.objects.filter(user=self.user).exists())

    def test_other_error_codes(self):
        for error, shown in [("server_error", "server_error"), ("<x>", "upstream_error")]:
            with self.subTest(error=error):
                state = self.start()["state"]
                text = self.failure_text(self.callback(state=state, error=error))
                self.assertIn(f"(error: {shown})", text)

    def test_both_or_neither_code_and_error(self):
        for extra in [{"code": "c", "error": "access_denied"}, {}]:
            with self.subTest(extra=extra), responses.RequestsMock():
                state = self.start()["state"]
                text = self.failure_text(self.callback(state=state, **extra))
                self.assertIn("incomplete", text)

    def test_token_endpoint_failures_store_nothing_and_are_not_retried(self):
        cases = {
            "400 invalid_grant": (
                {"status": 400, "json": {"error": "invalid_grant"}},
                "did not accept",
            ),
            "400 odd error code": (
                {"status": 400, "json": {"error": "bad\ncode <b>"}},
                "upstream_error",
            ),
            "400 invalid_client": (
                {"status": 401, "json": {"error": "invalid_client"}},
                "invalid_client",
            ),
            "500 html": ({"status": 500, "body": "<html>oops</html>"}, "not answering"),
            "200 invalid json": ({"body": "{nope", "content_type": "application/json"}, "not JSON"),
            "200 html": ({"body": "<html>hi</html>", "content_type": "text/html"}, "not JSON"),
            "no access_token": ({"json": token_body(access_token=None)}, "no access token"),
            "no refresh_token": ({"json": token_body(refresh_token=None)}, "no refresh token"),
            "no expires_in": ({"json": token_body(expires_in=None)}, "expires_in"),
            "negative expires_in": ({"json": token_body(expires_in=-1)}, "expires_in"),
            "string expires_in": ({"json": token_body(expires_in="36000")}, "expires_in"),
            "narrower scope": ({"json": token_body(scope="patient/*.read")}, "fewer permissions"),
            "huge access token": ({"json": token_body(access="a" * 2_000_000)}, "not a token"),
            "non-latin-1 access token": ({"json": token_body(access="at-\u20ac")}, "not a token"),
            "refresh token with a space": (
                {"json": token_body(refresh="rt new", access="at-ok")},
                "refresh token is malformed",
            ),
            "connect timeout": ({"body": requests.ConnectTimeout()}, "not answering"),
            "read timeout": ({"body": requests.ReadTimeout()}, "too long"),
        }
        for name, (kwargs, expected) in cases.items():
            with self.subTest(name):
                state = self.start()["state"]
                with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
                    token = rsps.post(TOKEN_URL, **kwargs)
                    revoke = rsps.post(REVOKE_URL)
                    response = self.callback(code="c", state=state)
                self.assertEqual(token.call_count, 1)  # never retried
                # A refused 200 that still issued a (well-formed) refresh token:
                # it is revoked.
                issued = kwargs.get("json", {}).get("refresh_token")
                issued = issued if issued and " " not in issued else None
                self.assertEqual(revoke.call_count, 1 if issued else 0)
                if issued:
                    self.assertEqual(form(revoke.calls[0])["token"], issued)
                self.assertIn(expected, self.failure_text(response))
                self.assertFalse(CanvasConnection.objects.filter(user=self.user).exists())

    def test_me_failure_revokes_and_stores_nothing(self):
        for name, kwargs in {
            "503": {"status": 503, "json": {"error": {"code": "x", "message": "down"}}},
            "403 not staff": {
                "status": 403,
                "json": {"error": {"code": "forbidden", "message": "no"}},
            },
            "no staff": {"json": {"user_id": "u"}},
        }.items():
            with self.subTest(name):
                state = self.start()["state"]
                with responses.RequestsMock() as rsps:
                    rsps.post(TOKEN_URL, json=token_body(1))
                    rsps.get(ME_URL, **kwargs)
                    rsps.post(REVOKE_URL)
                    text = self.failure_text(self.callback(code="c", state=state))
                    self.assertEqual(form(rsps.calls[2])["token"], "rt-new-1")
                self.assertIn("not saved", text)
                self.assertFalse(CanvasConnection.objects.filter(user=self.user).exists())

    def test_identity_linked_to_another_user_is_refused(self):
        make_connection(self.other, canvas_user_id="cu-1", staff_id="staff-1")
        state = self.start()["state"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps)
            rsps.post(REVOKE_URL)
            text = self.failure_text(self.callback(code="c", state=state))
        self.assertIn("already connected to another portal user", text)
        self.assertFalse(CanvasConnection.objects.filter(user=self.user).exists())
        self.assertEqual(CanvasConnection.objects.get(user=self.other).status, "active")

    def test_identity_of_a_disconnected_row_can_be_connected_again(self):
        make_connection(
            self.other,
            canvas_user_id="cu-1",
            staff_id="staff-1",
            status=CanvasConnection.Status.DISCONNECTED,
        )
        state = self.start()["state"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps)
            response = self.callback(code="c", state=state)
        self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_relinking_replaces_the_tokens_and_revokes_the_old_refresh_token(self):
        make_connection(self.user, refresh_token="rt-previous", status="reconnect_needed")
        state = self.start()["state"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps)
            rsps.post(REVOKE_URL)
            self.callback(code="c", state=state)
            self.assertEqual(form(rsps.calls[2])["token"], "rt-previous")
        self.assertEqual(CanvasConnection.objects.get(user=self.user).status, "active")

    def test_relinking_over_a_row_no_key_decrypts_overwrites_nothing(self):
        from cryptography.fernet import Fernet

        with override_settings(TOKEN_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]):
            make_connection(self.user, refresh_token="rt-lost-key", staff_id="staff-old")
        before = CanvasConnection.objects.get(user=self.user)
        state = self.start()["state"]
        with (
            responses.RequestsMock() as rsps,
            self.assertLogs("canvas_oauth.crypto", "ERROR") as logs,
        ):
            self.ok_mocks(rsps)
            revoke = rsps.post(REVOKE_URL)
            response = self.callback(code="c", state=state)
        self.assertEqual(response.status_code, 503)
        self.assertIn("ALERT", "\n".join(logs.output))
        after = CanvasConnection.objects.get(user=self.user)
        self.assertEqual(after.refresh_token_encrypted, before.refresh_token_encrypted)
        self.assertEqual(after.canvas_staff_id, "staff-old")
        # The tokens just issued are not kept, so they are revoked.
        self.assertEqual(form(revoke.calls[0])["token"], "rt-new-1")
        self.assertFalse(
            ConnectionEvent.objects.filter(
                user=self.user, kind=ConnectionEvent.Kind.CONNECT
            ).exists()
        )

    def test_relinking_to_another_canvas_identity_names_the_previous_one(self):
        make_connection(self.user, staff_id="staff-before", status="reconnect_needed")
        state = self.start()["state"]
        with responses.RequestsMock() as rsps:
            self.ok_mocks(rsps)
            rsps.post(REVOKE_URL)
            self.callback(code="c", state=state)
        event = ConnectionEvent.objects.get(user=self.user, kind=ConnectionEvent.Kind.CONNECT)
        self.assertEqual(event.canvas_staff_id, "staff-1")
        self.assertIn("(previously staff staff-before)", event.detail)

    def test_next_is_checked_again_when_used(self):
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
        ]:
            with self.subTest(bad=bad):
                state = self.start()["state"]
                session = self.client.session
                session[flows.SESSION_FLOWS_KEY][state]["next"] = bad  # tampered store
                session.save()
                with responses.RequestsMock() as rsps:
                    self.ok_mocks(rsps)
                    response = self.callback(code="c", state=state)
                self.assertRedirects(response, "/", fetch_redirect_response=False)

    def test_retry_link_keeps_the_safe_next(self):
        state = self.start(next_url="/notes/")["state"]
        response = self.callback(state=state, error="access_denied")
        self.assertRedirects(response, "/canvas/link-failed/", fetch_redirect_response=False)
        page = self.client.get("/canvas/link-failed/")
        self.assertContains(page, 'href="/canvas/connect/?next=%2Fnotes%2F"')

    def test_link_failed_page_without_a_failure(self):
        page = self.client.get("/canvas/link-failed/")
        self.assertContains(page, "Your account was not linked to Canvas.")


@oauth_settings
class DisconnectTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")

    def setUp(self):
        self.client.force_login(self.user)
        make_connection(self.user, refresh_token="rt-pat", staff_name="Dr. Pat")

    def test_get_asks_for_confirmation_and_changes_nothing(self):
        response = self.client.get("/canvas/disconnect/")
        self.assertContains(response, "Disconnect from Canvas?")
        self.assertContains(response, 'method="post"')
        self.assertEqual(CanvasConnection.objects.get(user=self.user).status, "active")

    def test_post_revokes_at_canvas_and_deletes_the_tokens(self):
        with responses.RequestsMock() as rsps:
            rsps.post(REVOKE_URL)
            response = self.client.post("/canvas/disconnect/")
            self.assertEqual(
                form(rsps.calls[0]),
                {"token": "rt-pat", "token_type_hint": "refresh_token", "client_id": CLIENT_ID},
            )
        self.assertRedirects(response, "/", fetch_redirect_response=False)
        row = CanvasConnection.objects.get(user=self.user)
        self.assertEqual(row.status, CanvasConnection.Status.DISCONNECTED)
        self.assertEqual((row.access_token_encrypted, row.refresh_token_encrypted), ("", ""))
        self.assertEqual(self.kinds(), [Kind.DISCONNECT, Kind.TOKEN_REVOKED_AT_CANVAS])
        self.assertContains(self.client.get("/"), "Connect to Canvas")

    def kinds(self, *, after: int = 0) -> list[str]:
        """Return the kinds of the user's connection events after id `after`, oldest first."""
        events = ConnectionEvent.objects.filter(user=self.user, id__gt=after).order_by("id")
        return list(events.values_list("kind", flat=True))

    def test_revocation_not_confirmed_is_recorded_but_the_connection_ends(self):
        answers = {
            "404": {"status": 404},
            "500": {"status": 500},
            "no answer": {"body": requests.ConnectTimeout()},
        }
        for name, answer in answers.items():
            with self.subTest(answer=name):
                CanvasConnection.objects.filter(user=self.user).delete()
                make_connection(self.user, refresh_token="rt-pat", staff_name="Dr. Pat")
                mark = ConnectionEvent.objects.order_by("-id").values_list("id", flat=True).first()
                with responses.RequestsMock() as rsps:
                    rsps.post(REVOKE_URL, **answer)
                    self.client.post("/canvas/disconnect/")
                row = CanvasConnection.objects.get(user=self.user)
                self.assertEqual(row.status, CanvasConnection.Status.DISCONNECTED)
                self.assertEqual(row.refresh_token_encrypted, "")
                self.assertEqual(
                    self.kinds(after=mark or 0), [Kind.DISCONNECT, Kind.REVOCATION_NOT_CONFIRMED]
                )
                event = ConnectionEvent.objects.filter(id__gt=mark or 0).get(
                    kind=Kind.REVOCATION_NOT_CONFIRMED
                )
                self.assertEqual(event.detail, "revocation at Canvas failed")
                self.assertEqual(event.actor, self.user)

    def test_only_a_200_from_canvas_records_the_token_revoked(self):
        with responses.RequestsMock() as rsps:
            rsps.post(REVOKE_URL, status=200)
            revoked = operations.connection_disconnect(user=self.user, actor=None)
        self.assertIs(revoked, True)
        event = ConnectionEvent.objects.get(kind=Kind.TOKEN_REVOKED_AT_CANVAS)
        self.assertEqual((event.user, event.canvas_staff_id), (self.user, "staff-pat"))
        with self.assertRaises(NotConnected):
            operations.connection_disconnect(user=self.user, actor=None)

    def test_revocation_failure_still_disconnects_with_a_warning(self):
        with responses.RequestsMock() as rsps:
            rsps.post(REVOKE_URL, body=requests.ConnectTimeout())
            response = self.client.post("/canvas/disconnect/", follow=True)
        self.assertContains(response, "Canvas could not be told right now")
        self.assertEqual(CanvasConnection.objects.get(user=self.user).refresh_token_encrypted, "")

    def test_revocation_can_be_turned_off(self):
        with override_settings(CANVAS_REVOKE_ON_UNLINK=False), responses.RequestsMock():
            response = self.client.post("/canvas/disconnect/", follow=True)
        self.assertContains(response, "no longer linked")
        self.assertEqual(
            CanvasConnection.objects.get(user=self.user).status,
            CanvasConnection.Status.DISCONNECTED,
        )
        self.assertEqual(self.kinds(), [Kind.DISCONNECT, Kind.REVOCATION_NOT_CONFIRMED])
        event = ConnectionEvent.objects.get(kind=Kind.REVOCATION_NOT_CONFIRMED)
        self.assertEqual(event.detail, "revocation at Canvas turned off")

    def test_wrong_key_answers_503_and_changes_nothing(self):
        before = CanvasConnection.objects.get(user=self.user)
        with (
            override_settings(TOKEN_ENCRYPTION_KEYS=[KEY_B]),
            responses.RequestsMock(),
            self.assertLogs("canvas_oauth.crypto", "ERROR"),
        ):
            response = self.client.post("/canvas/disconnect/")
        self.assertEqual(response.status_code, 503)
        self.assertContains(response, "configuration problem", status_code=503)
        after = CanvasConnection.objects.get(user=self.user)
        self.assertEqual(after.status, "active")
        self.assertEqual(after.refresh_token_encrypted, before.refresh_token_encrypted)

    def test_not_connected(self):
        CanvasConnection.objects.filter(user=self.user).update(
            status=CanvasConnection.Status.DISCONNECTED
        )
        response = self.client.post("/canvas/disconnect/", follow=True)
        self.assertContains(response, "not connected to Canvas")

    def test_csrf_is_required(self):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(self.user)
        self.assertEqual(client.post("/canvas/disconnect/").status_code, 403)
        self.assertEqual(CanvasConnection.objects.get(user=self.user).status, "active")


@oauth_settings
class ConnectionPagesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")

    def setUp(self):
        self.client.force_login(self.user)

    def test_not_linked_home(self):
        response = self.client.get("/")
        self.assertContains(response, "Connect to Canvas")
        self.assertContains(response, "not connected to Canvas")
        self.assertNotContains(response, "canvas-reconnect-banner")

    def test_reconnect_banner_on_every_page_returns_to_it(self):
        make_connection(self.user, status="reconnect_needed")
        for url in ["/", "/canvas/link-failed/", "/canvas/disconnect/"]:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertContains(response, "canvas-reconnect-banner")
        response = self.client.get("/?tab=x")
        self.assertContains(response, 'href="/canvas/connect/?next=%2F%3Ftab%3Dx"')
        self.assertContains(response, "needs to be renewed")

    def test_linked_home_shows_no_banner(self):
        make_connection(self.user, staff_name="Dr. Pat")
        response = self.client.get("/")
        self.assertContains(response, "Connected to Canvas as <strong>Dr. Pat</strong> since")
        self.assertNotContains(response, "canvas-reconnect-banner")


@oauth_settings
class NoSecretsLeakTests(FlowMixin, TestCase):
    """A whole flow leaves no token, code or verifier in logs, pages or the database."""

    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat", is_staff=True, is_superuser=True)

    def setUp(self):
        self.client.force_login(self.user)

    def test_logs_pages_and_database_hold_no_secret(self):
        records: list[logging.LogRecord] = []

        class Collect(logging.Handler):
            def emit(self, record):
                records.append(record)

        handler = Collect(level=logging.DEBUG)
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        pages = []
        try:
            state = self.start()["state"]
            verifier = self.client.session[flows.SESSION_FLOWS_KEY][state]["verifier"]
            with responses.RequestsMock() as rsps:
                rsps.post(TOKEN_URL, json=token_body(1))
                rsps.get(ME_URL, json=ME)
                pages.append(self.callback(code="code-SECRET-1", state=state))
            with (
                responses.RequestsMock() as rsps,
                mock.patch.object(conf, "now", return_value=timezone.now() + timedelta(hours=10)),
            ):
                rsps.post(TOKEN_URL, json=token_body(2))
                self.assertEqual(tokens.access_token_get(user=self.user), "at-new-2")
            # a failed refresh too
            with (
                responses.RequestsMock() as rsps,
                mock.patch.object(conf, "now", return_value=timezone.now() + timedelta(hours=30)),
            ):
                rsps.post(TOKEN_URL, status=500, body="<html>rt-new-2</html>")
                with self.assertRaises(AuthorizationServerUnavailable):
                    tokens.access_token_get(user=self.user)
            row = CanvasConnection.objects.get(user=self.user)
            for url in [
                "/",
                "/admin/canvas_oauth/canvasconnection/",
                f"/admin/canvas_oauth/canvasconnection/{row.pk}/change/",
                "/admin/canvas_oauth/connectionevent/",
                "/canvas/disconnect/",
            ]:
                page = self.client.get(url)
                self.assertEqual(page.status_code, 200, url)
                pages.append(page)
            dump = database_dump()
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)

        log_text = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in records)
        self.assertTrue(records)  # the flow did log
        page_text = "\n".join(p.content.decode() for p in pages) + str(
            [dict(p.items()) for p in pages]
        )
        secrets = ["at-new-1", "rt-new-1", "at-new-2", "rt-new-2", "code-SECRET-1", verifier]
        for secret in secrets:
            with self.subTest(secret=secret):
                self.assertNotIn(secret, log_text)
                self.assertNotIn(secret, dump)
                if secret != "code-SECRET-1":
                    self.assertNotIn(secret, page_text)
        # No ciphertext in any page either.
        self.assertNotIn(row.refresh_token_encrypted[:40], page_text)
        self.assertNotIn(row.access_token_encrypted[:40], page_text)
        self.assertNotIn("refresh_token_encrypted", page_text)


@oauth_settings
class SignedInAsAnotherUserTests(FlowMixin, TestCase):
    def test_flow_of_a_user_who_signed_out_is_gone(self):
        pat = make_user("pat")
        sam = make_user("sam")
        self.client.force_login(pat)
        state = self.start()["state"]
        self.client.post("/accounts/logout/")
        self.client.login(username=sam.username, password=PASSWORD)
        with responses.RequestsMock():
            text = self.failure_text(self.callback(code="c", state=state))
        self.assertIn("not started from this browser", text)
        self.assertFalse(CanvasConnection.objects.exists())


@oauth_settings
class ErrorReportTests(TestCase):
    """An error report (the 500 e-mail, Sentry) never holds the code, verifier or tokens."""

    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")

    def test_a_crash_in_the_middle_of_linking_reports_no_secret(self):
        import sys

        from django.views.debug import ExceptionReporter

        def crash(request):
            raise RuntimeError("bug in the middle of the exchange")

        with responses.RequestsMock() as rsps:
            rsps.add_callback("POST", TOKEN_URL, callback=crash)
            try:
                flows.connection_connect(
                    user=self.user,
                    code="code-SECRET-42",
                    code_verifier="verifier-SECRET-" + "v" * 40,
                    redirect_uri="https://portal.test/canvas/callback/",
                )
            except RuntimeError:
                report = ExceptionReporter(None, *sys.exc_info()).get_traceback_text()
        self.assertIn("bug in the middle of the exchange", report)
        self.assertNotIn("code-SECRET-42", report)
        self.assertNotIn("verifier-SECRET", report)
