"""The sandbox's OAuth server over real HTTP: PKCE S256 only, rotation, reuse, revocation."""

import base64
import threading
from urllib.parse import parse_qs, urlsplit

import requests
from django.test import SimpleTestCase

from tests.live import pkce_challenge, pkce_pair, sandbox


def _query(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


class AuthorizePkceTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()

    def test_rfc7636_appendix_b_vector(self):
        self.assertEqual(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )

    def test_authorize_without_pkce_is_refused(self):
        location = self.sandbox.authorize_redirect(code_challenge=None, code_challenge_method=None)
        query = _query(location)
        self.assertTrue(location.startswith(self.sandbox.redirect_uri))
        self.assertEqual(query["error"], "invalid_request")
        self.assertEqual(query["error_description"], "Code challenge required.")
        self.assertEqual(query["state"], "test-state")
        self.assertNotIn("code", query)

    def test_plain_challenge_method_is_refused(self):
        verifier, _ = pkce_pair()
        for method in ("plain", None):
            with self.subTest(method=method):
                location = self.sandbox.authorize_redirect(
                    code_challenge=verifier, code_challenge_method=method
                )
                query = _query(location)
                self.assertEqual(query["error"], "invalid_request")
                self.assertNotIn("code", query)

    def test_unknown_client_or_redirect_uri_gets_an_error_page_not_a_redirect(self):
        _, challenge = pkce_pair()
        browser = requests.Session()
        self.addCleanup(browser.close)
        browser.get(self.sandbox.url("/login/"), timeout=10)
        browser.post(
            self.sandbox.url("/login/"),
            data={
                "username": "provider",
                "password": "canvas-demo",
                "csrfmiddlewaretoken": browser.cookies["sandbox_csrftoken"],
            },
            timeout=10,
        )
        cases = {
            "Mismatching redirect URI.": (self.sandbox.client_id, "https://evil.example/cb/"),
            "Invalid client_id parameter value.": ("no-such-client", self.sandbox.redirect_uri),
        }
        for message, (client_id, redirect_uri) in cases.items():
            with self.subTest(message=message):
                response = browser.get(
                    self.sandbox.authorize_url,
                    params={
                        "response_type": "code",
                        "client_id": client_id,
                        "redirect_uri": redirect_uri,
                        "code_challenge": challenge,
                        "code_challenge_method": "S256",
                    },
                    allow_redirects=False,
                    timeout=10,
                )
                self.assertEqual(response.status_code, 400)
                self.assertNotIn("Location", response.headers)
                self.assertIn(message, response.text)
                self.assertIn("Canvas sandbox", response.text)

    def test_authorize_without_launch_redirects_with_access_denied(self):
        _, challenge = pkce_pair()
        for launch in (None, ""):
            with self.subTest(launch=launch):
                location = self.sandbox.authorize_redirect(code_challenge=challenge, launch=launch)
                query = _query(location)
                self.assertTrue(location.startswith(self.sandbox.redirect_uri))
                self.assertEqual(query["error"], "access_denied")
                self.assertEqual(query["state"], "test-state")
                self.assertNotIn("code", query)

    def test_launch_must_decode_to_a_json_object(self):
        _, challenge = pkce_pair()
        refused = {
            "not base64": "%%%",
            "a JSON list": base64.urlsafe_b64encode(b"[1, 2]").decode(),
            "a JSON string": base64.urlsafe_b64encode(b'"x"').decode(),
            "not JSON": base64.urlsafe_b64encode(b"{nope").decode(),
            "not UTF-8": base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        }
        for label, launch in refused.items():
            with self.subTest(label):
                location = self.sandbox.authorize_redirect(code_challenge=challenge, launch=launch)
                self.assertEqual(_query(location)["error"], "access_denied")
                self.assertNotIn("code", _query(location))
        accepted = {
            "the portal's": base64.urlsafe_b64encode(b"{}").decode(),
            "unpadded, with fields": base64.b64encode(b'{"patient": "p1"}').decode().rstrip("="),
        }
        for label, launch in accepted.items():
            with self.subTest(label):
                location = self.sandbox.authorize_redirect(code_challenge=challenge, launch=launch)
                self.assertIn("code", _query(location))

    def test_denied_consent_redirects_with_access_denied(self):
        _, challenge = pkce_pair()
        location = self.sandbox.authorize_redirect(code_challenge=challenge, allow=False)
        self.assertEqual(_query(location)["error"], "access_denied")


class TokenExchangeTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()

    def _code(self, **kwargs):
        verifier, challenge = pkce_pair()
        return verifier, self.sandbox.authorize_code(code_challenge=challenge, **kwargs)

    def test_code_exchange_works_and_the_token_reaches_the_plugin_api(self):
        verifier, code = self._code()
        response = self.sandbox.exchange_code(code=code, code_verifier=verifier)
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 36000)
        self.assertEqual(body["scope"], "offline_access")
        me = self.sandbox.api("GET", "/me", token=body["access_token"])
        self.assertEqual(me.status_code, 200)
        self.assertEqual(me.json()["staff"]["name"], "Riley Chen")

    def test_wrong_verifier_is_invalid_grant(self):
        _, code = self._code()
        other_verifier, _ = pkce_pair()
        response = self.sandbox.exchange_code(code=code, code_verifier=other_verifier)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"], "invalid_grant")

    def test_code_is_single_use(self):
        verifier, code = self._code()
        self.assertEqual(
            self.sandbox.exchange_code(code=code, code_verifier=verifier).status_code, 200
        )
        again = self.sandbox.exchange_code(code=code, code_verifier=verifier)
        self.assertEqual(again.status_code, 400)
        self.assertEqual(again.json()["error"], "invalid_grant")

    def test_redirect_uri_must_match_the_authorize_request(self):
        verifier, code = self._code()
        response = self.sandbox.exchange_code(
            code=code, code_verifier=verifier, redirect_uri="http://127.0.0.1:8000/canvas/callback/"
        )
        self.assertEqual(response.status_code, 400)

    def test_confidential_client_works_with_its_secret_only(self):
        sandbox_ = self.sandbox
        verifier, code = self._code(client_id=sandbox_.confidential_client_id)
        wrong = sandbox_.exchange_code(
            code=code,
            code_verifier=verifier,
            client_id=sandbox_.confidential_client_id,
            client_secret="not-the-secret",
        )
        self.assertEqual(wrong.status_code, 401)
        self.assertEqual(wrong.json()["error"], "invalid_client")
        verifier, code = self._code(client_id=sandbox_.confidential_client_id)
        response = sandbox_.exchange_code(
            code=code,
            code_verifier=verifier,
            client_id=sandbox_.confidential_client_id,
            client_secret=sandbox_.client_secret,
        )
        self.assertEqual(response.status_code, 200, response.text)
        refreshed = sandbox_.refresh(
            response.json()["refresh_token"],
            client_id=sandbox_.confidential_client_id,
            client_secret=sandbox_.client_secret,
        )
        self.assertEqual(refreshed.status_code, 200, refreshed.text)


class RefreshRotationTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()

    def test_refresh_rotates_and_the_old_refresh_token_is_dead(self):
        first = self.sandbox.tokens_for("provider")
        response = self.sandbox.refresh(first["refresh_token"])
        self.assertEqual(response.status_code, 200, response.text)
        second = response.json()
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        self.assertNotEqual(second["access_token"], first["access_token"])
        self.assertEqual(
            self.sandbox.api("GET", "/me", token=second["access_token"]).status_code, 200
        )
        # The rotated-away access token no longer works either.
        self.assertEqual(
            self.sandbox.api("GET", "/me", token=first["access_token"]).status_code, 401
        )

    def test_reusing_a_refresh_token_is_invalid_grant_and_revokes_the_family(self):
        first = self.sandbox.tokens_for("provider")
        second = self.sandbox.refresh(first["refresh_token"]).json()
        reused = self.sandbox.refresh(first["refresh_token"])
        self.assertEqual(reused.status_code, 400)
        self.assertEqual(reused.json()["error"], "invalid_grant")
        # Reuse protection (on by default): the whole family is gone.
        self.assertEqual(
            self.sandbox.api("GET", "/me", token=second["access_token"]).status_code, 401
        )
        self.assertEqual(
            self.sandbox.refresh(second["refresh_token"]).json()["error"], "invalid_grant"
        )

    def test_concurrent_refreshes_of_one_token_have_exactly_one_winner(self):
        tokens = self.sandbox.issue_tokens("provider")
        barrier = threading.Barrier(6)
        statuses = []

        def refresh():
            barrier.wait()
            statuses.append(self.sandbox.refresh(tokens["refresh_token"]).status_code)

        threads = [threading.Thread(target=refresh) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(statuses), [200, 400, 400, 400, 400, 400])

    def test_refresh_without_scope_is_invalid_scope_and_the_token_stays_usable(self):
        tokens = self.sandbox.issue_tokens("provider")
        for scope in (None, ""):
            with self.subTest(scope=scope):
                response = self.sandbox.refresh(tokens["refresh_token"], scope=scope)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["error"], "invalid_scope")
        wider = self.sandbox.refresh(tokens["refresh_token"], scope="offline_access patient/*")
        self.assertEqual(wider.status_code, 400)
        self.assertEqual(wider.json()["error"], "invalid_scope")
        self.assertEqual(self.sandbox.refresh(tokens["refresh_token"]).status_code, 200)

    def test_control_minted_tokens_refresh_like_real_ones(self):
        tokens = self.sandbox.issue_tokens("provider")
        self.assertEqual(
            self.sandbox.api("GET", "/me", token=tokens["access_token"]).status_code, 200
        )
        self.assertEqual(self.sandbox.refresh(tokens["refresh_token"]).status_code, 200)


class RevocationTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()

    def test_revoking_the_access_token_makes_it_401(self):
        tokens = self.sandbox.tokens_for("provider")
        response = self.sandbox.http.post(
            self.sandbox.revoke_url,
            data={"token": tokens["access_token"], "client_id": self.sandbox.client_id},
            timeout=10,
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            self.sandbox.api("GET", "/me", token=tokens["access_token"]).status_code, 401
        )

    def test_revoking_the_refresh_token_kills_both(self):
        tokens = self.sandbox.tokens_for("provider")
        response = self.sandbox.http.post(
            self.sandbox.revoke_url,
            data={
                "token": tokens["refresh_token"],
                "token_type_hint": "refresh_token",
                "client_id": self.sandbox.client_id,
            },
            timeout=10,
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            self.sandbox.refresh(tokens["refresh_token"]).json()["error"], "invalid_grant"
        )
        self.assertEqual(
            self.sandbox.api("GET", "/me", token=tokens["access_token"]).status_code, 401
        )

    def test_control_revoke_user_kills_every_token_of_that_user(self):
        one, two = self.sandbox.issue_tokens("frontdesk"), self.sandbox.tokens_for("frontdesk")
        self.assertGreaterEqual(self.sandbox.revoke_user("frontdesk")["revoked"], 2)
        for tokens in (one, two):
            self.assertEqual(
                self.sandbox.api("GET", "/me", token=tokens["access_token"]).status_code, 401
            )
            self.assertEqual(self.sandbox.refresh(tokens["refresh_token"]).status_code, 400)


class ShortLifetimeAndNoReuseProtectionTests(SimpleTestCase):
    """A separately started sandbox with other OAuth settings."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from tests.live import LiveSandbox

        cls.sandbox = LiveSandbox.start(
            extra_env={"SANDBOX_ACCESS_TOKEN_LIFETIME": "120", "SANDBOX_REUSE_PROTECTION": "false"}
        )
        cls.addClassCleanup(cls.sandbox.stop)

    def test_lifetime_comes_from_the_environment(self):
        self.assertEqual(self.sandbox.tokens_for("provider")["expires_in"], 120)

    def test_without_reuse_protection_a_reused_token_fails_but_the_family_lives(self):
        first = self.sandbox.tokens_for("provider")
        second = self.sandbox.refresh(first["refresh_token"]).json()
        self.assertEqual(
            self.sandbox.refresh(first["refresh_token"]).json()["error"], "invalid_grant"
        )
        self.assertEqual(
            self.sandbox.api("GET", "/me", token=second["access_token"]).status_code, 200
        )
        self.assertEqual(self.sandbox.refresh(second["refresh_token"]).status_code, 200)
