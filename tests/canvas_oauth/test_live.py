"""The connect flow, refresh rotation and revocation against the real sandbox over HTTP."""

from datetime import timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

from django.test import TestCase, override_settings
from django.utils import timezone

from canvas_oauth import conf, flows, tokens
from canvas_oauth.crypto import token_decrypt
from canvas_oauth.exceptions import ReauthorizationRequired
from canvas_oauth.models import CanvasConnection
from integrations.canvas.exceptions import AuthorizationServerUnavailable
from tests.factories import make_user
from tests.helpers import KEY_A
from tests.live import TEST_REDIRECT_URI, sandbox


def live_settings(sb, **extra):
    """Return override_settings pointing the portal at the live sandbox `sb`."""
    values = {
        "CANVAS_BASE_URL": sb.base_url,
        "CANVAS_CLIENT_ID": sb.client_id,
        "CANVAS_CLIENT_SECRET": "",
        "CANVAS_SCOPES": "offline_access",
        "CANVAS_PLUGIN_NAME": "note_sign_api",
        "CANVAS_REDIRECT_URI": "",
        "CANVAS_REVOKE_ON_UNLINK": True,
        "TOKEN_ENCRYPTION_KEYS": [KEY_A],
    }
    values.update(extra)
    return override_settings(**values)


class LiveLinkTests(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sb = sandbox()

    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat")

    def setUp(self):
        settings = live_settings(self.sb)
        settings.enable()
        self.addCleanup(settings.disable)
        self.sb.reset_faults()
        self.client.force_login(self.user)

    def link(self, *, username="provider", client_id=None) -> CanvasConnection:
        """Connect -> sandbox sign-in and consent -> callback; return the stored row."""
        response = self.client.get("/canvas/connect/?next=/")
        params = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
        self.assertEqual(params["redirect_uri"], TEST_REDIRECT_URI)
        code = self.sb.authorize_code(
            username=username,
            code_challenge=params["code_challenge"],
            state=params["state"],
            redirect_uri=params["redirect_uri"],
            client_id=client_id,
        )
        response = self.client.get("/canvas/callback/", {"code": code, "state": params["state"]})
        self.assertRedirects(response, "/", fetch_redirect_response=False)
        return CanvasConnection.objects.get(user=self.user)

    def stored(self, kind: str) -> str:
        row = CanvasConnection.objects.get(user=self.user)
        field = row.access_token_encrypted if kind == "access" else row.refresh_token_encrypted
        return token_decrypt(user_id=self.user.pk, kind=kind, ciphertext=field)

    def test_full_connect_flow_records_the_canvas_identity(self):
        self.sb.reset_stats()
        row = self.link()
        self.assertEqual(row.status, "active")
        me = self.sb.api("GET", "/me", token=self.stored("access")).json()
        self.assertEqual(row.canvas_staff_id, str(me["staff"]["id"]))
        self.assertEqual(row.canvas_staff_name, me["staff"]["name"])
        self.assertEqual(row.canvas_user_id, str(me["user_id"]))
        self.assertEqual(self.sb.stats()["token_requests"]["authorization_code"], 1)
        token = tokens.access_token_get(user=self.user)
        self.assertEqual(self.sb.api("GET", "/me", token=token).status_code, 200)
        home = self.client.get("/")
        self.assertContains(home, f"Connected to Canvas as <strong>{me['staff']['name']}")

    def test_an_older_tabs_flow_still_completes(self):
        def start():
            response = self.client.get("/canvas/connect/")
            return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}

        older, newer = start(), start()
        for params in (newer, older):
            code = self.sb.authorize_code(
                code_challenge=params["code_challenge"], state=params["state"]
            )
            response = self.client.get(
                "/canvas/callback/", {"code": code, "state": params["state"]}
            )
            self.assertRedirects(response, "/", fetch_redirect_response=False)
        # The link from the older tab replaced the newer one, which was revoked.
        token = tokens.access_token_get(user=self.user)
        self.assertEqual(self.sb.api("GET", "/me", token=token).status_code, 200)

    def test_confidential_client_links_with_its_secret(self):
        with live_settings(
            self.sb,
            CANVAS_CLIENT_ID=self.sb.confidential_client_id,
            CANVAS_CLIENT_SECRET=self.sb.client_secret,
        ):
            row = self.link(client_id=self.sb.confidential_client_id)
            self.assertEqual(row.status, "active")

    def test_non_staff_canvas_user_cannot_link(self):
        response = self.client.get("/canvas/connect/")
        params = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
        code = self.sb.authorize_code(
            username="patientuser", code_challenge=params["code_challenge"], state=params["state"]
        )
        response = self.client.get("/canvas/callback/", {"code": code, "state": params["state"]})
        self.assertRedirects(response, "/canvas/link-failed/", fetch_redirect_response=False)
        self.assertFalse(CanvasConnection.objects.filter(user=self.user).exists())

    def test_a_wrong_verifier_is_refused_by_canvas(self):
        response = self.client.get("/canvas/connect/")
        params = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
        code = self.sb.authorize_code(
            code_challenge=flows.pkce_challenge(verifier="x" * 43), state=params["state"]
        )
        response = self.client.get("/canvas/callback/", {"code": code, "state": params["state"]})
        self.assertRedirects(response, "/canvas/link-failed/", fetch_redirect_response=False)
        self.assertContains(self.client.get("/canvas/link-failed/"), "did not accept")

    def test_refresh_rotates_the_refresh_token(self):
        self.link()
        old_access, old_refresh = self.stored("access"), self.stored("refresh")
        self.sb.reset_stats()
        later = timezone.now() + timedelta(seconds=36000)
        with mock.patch.object(conf, "now", return_value=later):
            token = tokens.access_token_get(user=self.user)
        self.assertNotEqual(token, old_access)
        self.assertNotEqual(self.stored("refresh"), old_refresh)
        self.assertEqual(self.sb.stats()["token_requests"]["refresh_token"], 1)
        self.assertEqual(self.sb.api("GET", "/me", token=token).status_code, 200)
        row = CanvasConnection.objects.get(user=self.user)
        self.assertEqual((row.status, row.refresh_count), ("active", 1))
        # The old refresh token is dead (single use).
        self.assertEqual(self.sb.refresh(old_refresh).json()["error"], "invalid_grant")

    def test_revoked_at_canvas_needs_reconnect(self):
        self.link()
        self.sb.revoke_user("provider")
        with self.assertRaises(ReauthorizationRequired):
            tokens.access_token_get(user=self.user, force_refresh=True)
        self.assertEqual(CanvasConnection.objects.get(user=self.user).status, "reconnect_needed")
        self.assertContains(self.client.get("/"), "canvas-reconnect-banner")

    def test_token_endpoint_down(self):
        self.link()
        self.sb.set_faults(token_endpoint_down=True)
        self.addCleanup(self.sb.reset_faults)
        with self.assertRaises(AuthorizationServerUnavailable):
            tokens.access_token_get(user=self.user, force_refresh=True)
        self.assertEqual(CanvasConnection.objects.get(user=self.user).status, "active")

    def test_disconnect_revokes_at_canvas(self):
        self.link()
        access, refresh = self.stored("access"), self.stored("refresh")
        self.sb.reset_stats()
        response = self.client.post("/canvas/disconnect/", follow=True)
        self.assertContains(response, "no longer linked to Canvas")
        self.assertEqual(self.sb.stats()["revocations"], 1)
        self.assertEqual(self.sb.refresh(refresh).status_code, 400)
        self.assertEqual(self.sb.api("GET", "/me", token=access).status_code, 401)
        row = CanvasConnection.objects.get(user=self.user)
        self.assertEqual(
            (row.status, row.refresh_token_encrypted), (CanvasConnection.Status.DISCONNECTED, "")
        )
