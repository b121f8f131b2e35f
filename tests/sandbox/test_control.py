"""The sandbox's control API, fault injection, request stats and the seed, over HTTP."""

import re
import threading
import time
import uuid

import requests
from django.test import SimpleTestCase

from canvas_sandbox.clinic.engine import Category, NoteState
from tests.live import LiveSandbox, SandboxError, sandbox


class FaultInjectionTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]

    def setUp(self):
        self.addCleanup(self.sandbox.reset_faults)

    def _statuses(self, count):
        return [self.sandbox.api("GET", "/me", token=self.token).status_code for _ in range(count)]

    def test_defaults_and_missing_keys(self):
        self.assertEqual(
            self.sandbox.reset_faults(),
            {
                "latency_ms": 0,
                "error_rate": 0.0,
                "error_status": 503,
                "token_endpoint_down": False,
                "html_instead_of_json": False,
                "seed": 1,
                "effect_reject_rate": 0.0,
                "effect_delay_ms": 0,
                "counter": 0,
            },
        )
        self.sandbox.set_faults(latency_ms=5, html_instead_of_json=True)
        self.sandbox.set_faults(error_rate=0.25)
        faults = self.sandbox.control("GET", "faults")
        self.assertEqual(faults["latency_ms"], 0)
        self.assertFalse(faults["html_instead_of_json"])
        self.assertEqual(faults["error_rate"], 0.25)

    def test_latency_is_measurable(self):
        self.sandbox.set_faults(latency_ms=300)
        started = time.monotonic()
        response = self.sandbox.api("GET", "/me", token=self.token)
        elapsed = time.monotonic() - started
        self.assertEqual(response.status_code, 200)
        self.assertGreaterEqual(elapsed, 0.3)

    def test_error_rate_is_deterministic_for_a_seed(self):
        self.sandbox.set_faults(error_rate=0.5, error_status=500, seed=42)
        first = self._statuses(24)
        self.sandbox.set_faults(error_rate=0.5, error_status=500, seed=42)
        second = self._statuses(24)
        self.assertEqual(first, second)
        self.assertEqual(set(first), {200, 500})
        self.sandbox.set_faults(error_rate=0.5, error_status=500, seed=43)
        self.assertNotEqual(self._statuses(24), first)

    def test_injected_error_body_and_retry_after(self):
        self.sandbox.set_faults(error_rate=1, error_status=429)
        response = self.sandbox.api("GET", "/notes", token=self.token)
        self.assertEqual(response.status_code, 429)
        self.assertEqual(response.headers["Retry-After"], "1")
        self.assertEqual(response.json()["error"]["code"], "injected_fault")
        # The control API is never faulted.
        self.assertIn("plugin_requests", self.sandbox.stats())

    def test_injected_error_does_not_perform_the_action(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        self.sandbox.set_faults(error_rate=1, error_status=503)
        response = self.sandbox.api("POST", f"/notes/{note['id']}/lock", token=self.token)
        self.assertEqual(response.status_code, 503)
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "NEW")

    def test_token_endpoint_down_answers_503(self):
        tokens = self.sandbox.issue_tokens("provider")
        self.sandbox.set_faults(token_endpoint_down=True)
        response = self.sandbox.refresh(tokens["refresh_token"])
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["error"], "temporarily_unavailable")
        # The plugin API is up, and the refresh token was not used up.
        self.assertEqual(self.sandbox.api("GET", "/me", token=self.token).status_code, 200)
        self.sandbox.reset_faults()
        self.assertEqual(self.sandbox.refresh(tokens["refresh_token"]).status_code, 200)

    def test_html_instead_of_json(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        self.sandbox.set_faults(html_instead_of_json=True)
        for method, path in (("GET", "/me"), ("POST", f"/notes/{note['id']}/lock")):
            with self.subTest(path=path):
                response = self.sandbox.api(method, path, token=self.token)
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.headers["Content-Type"].startswith("text/html"))
                with self.assertRaises(ValueError):
                    response.json()
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "NEW")

    def test_bad_fault_settings_are_400(self):
        for body in (
            {"error_rate": 2},
            {"error_status": 200},
            {"latency_ms": "slow"},
            {"token_endpoint_down": "yes"},
            {"colour": "red"},
        ):
            with self.subTest(body=body), self.assertRaises(SandboxError) as caught:
                self.sandbox.control("POST", "faults", body)
            self.assertIn("400", str(caught.exception))
        response = self.sandbox.http.post(
            self.sandbox.url("/sandbox/control/faults"),
            data="{not json",
            headers={"X-Sandbox-Control": "1", "Content-Type": "application/json"},
            timeout=10,
        )
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "invalid_request")


class StatsTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()

    def test_counts_token_requests_revocations_and_plugin_requests(self):
        self.sandbox.reset_stats()
        tokens = self.sandbox.tokens_for("provider")
        second = self.sandbox.refresh(tokens["refresh_token"]).json()
        self.sandbox.refresh(tokens["refresh_token"])  # reused: still a refresh request
        self.sandbox.http.post(
            self.sandbox.revoke_url,
            data={"token": second["access_token"], "client_id": self.sandbox.client_id},
            timeout=10,
        )
        for path in ("/me", "/notes", f"/notes/{uuid.uuid4()}"):
            self.sandbox.api("GET", path, token=second["access_token"])
        self.assertEqual(
            self.sandbox.stats(),
            {
                "token_requests": {"authorization_code": 1, "refresh_token": 2},
                "revocations": 1,
                "plugin_requests": 3,
            },
        )

    def test_concurrent_requests_are_counted_exactly(self):
        token = self.sandbox.issue_tokens("provider")["access_token"]
        self.sandbox.reset_stats()
        statuses = []

        def hammer():
            with requests.Session() as session:
                for _ in range(5):
                    response = session.get(
                        self.sandbox.api_url + "/me",
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=30,
                    )
                    statuses.append(response.status_code)

        threads = [threading.Thread(target=hammer) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(statuses, [200] * 60)
        self.assertEqual(self.sandbox.stats()["plugin_requests"], 60)


class ControlNotesAndTokensTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()

    def test_create_note_and_read_it_back(self):
        note = self.sandbox.create_note(
            state="RVT", kind="appointment", provider="provider2", patient="Ada Lovelace",
            date="2026-03-04",
        )  # fmt: skip
        self.assertEqual(self.sandbox.note(note["id"]), note)
        self.assertEqual(note["provider"]["name"], "Sam Okafor")
        self.assertEqual(note["patient"]["name"], "Ada Lovelace")
        self.assertTrue(note["datetime_of_service"].startswith("2026-03-04T"))
        self.assertEqual(note["allowed_actions"], ["checkin", "noshow"])

    def test_bad_requests(self):
        for body in (
            {"state": "ZZZ", "kind": "encounter"},
            {"state": "NEW", "kind": "memo"},
            {"state": "NEW", "kind": "encounter", "provider": "nobody"},
            {"state": "NEW", "kind": "encounter", "date": "soon"},
            {"kind": "encounter"},
        ):
            with self.subTest(body=body), self.assertRaises(SandboxError):
                self.sandbox.control("POST", "notes", body)
        with self.assertRaises(SandboxError):
            self.sandbox.issue_tokens("nobody")
        with self.assertRaises(SandboxError):
            self.sandbox.note("not-a-uuid")
        with self.assertRaises(SandboxError):
            self.sandbox.control("GET", "no-such-thing")

    def test_issued_tokens_have_the_contract_shape(self):
        tokens = self.sandbox.issue_tokens("provider")
        self.assertEqual(
            set(tokens), {"access_token", "refresh_token", "token_type", "expires_in", "scope"}
        )
        self.assertEqual(tokens["expires_in"], 36000)
        self.assertEqual(tokens["scope"], "offline_access")


class SeedTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]

    def _ids(self):
        ids, cursor = [], None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            body = self.sandbox.api("GET", "/notes", token=self.token, params=params).json()
            ids += [note["id"] for note in body["notes"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return ids

    def test_seed_is_idempotent(self):
        before = self._ids()
        result = self.sandbox.run_command("seed")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("0 staff, 0 patients, 0 notes added", result.stdout)
        self.assertEqual(sorted(self._ids()), sorted(before))

    def test_seed_covers_every_state_and_note_type(self):
        # Every seeded note, whoever's it is: the plugin variable visibility=all.
        self.sandbox.set_plugin_variables(visibility="all")
        self.addCleanup(self.sandbox.set_plugin_variables, visibility=None)
        notes = [
            self.sandbox.api(
                "GET",
                "/notes",
                token=self.token,
                params={"state": code, "category": ",".join(Category)},
            ).json()
            for code in NoteState
        ]
        for code, body in zip(NoteState, notes, strict=True):
            with self.subTest(state=code):
                self.assertTrue(body["notes"], f"no seeded note in {code}")
        types = {
            (note["note_type"]["name"], note["note_type"]["category"])
            for body in notes
            for note in body["notes"]
        }  # fmt: skip
        self.assertLessEqual(
            {
                ("Office visit", "encounter"),
                ("Phone call", "encounter"),
                ("Office visit appointment", "appointment"),
                ("Inpatient progress note", "inpatient"),
                ("Lab data import", "data"),
                ("Letter", "letter"),
                ("Patient message", "message"),
            },
            types,
        )

    def test_seed_has_a_supervised_nurse_practitioner_and_notes_awaiting_co_signature(self):
        nurse = self.sandbox.issue_tokens("nurse")["access_token"]
        me = self.sandbox.api("GET", "/me", token=nurse).json()["staff"]
        self.assertEqual(me["name"], "Avery Brooks")
        queue = self.sandbox.api(
            "GET", "/notes", token=self.token, params={"queue": "to_sign", "provider": me["id"]}
        ).json()
        self.assertGreaterEqual(queue["count"], 2)
        for note in queue["notes"]:
            self.assertEqual(note["state"]["code"], "SGN")
            self.assertEqual(note["supervising_provider"]["name"], "Riley Chen")
            self.assertEqual(note["allowed_actions"], ["sign", "unlock"])

    def test_non_actionable_categories_are_listed_only_when_asked(self):
        default = self.sandbox.api("GET", "/notes", token=self.token, params={"limit": 100})
        categories = {n["note_type"]["category"] for n in default.json()["notes"]}
        self.assertLessEqual(categories, {"encounter", "appointment", "inpatient"})
        data = self.sandbox.api(
            "GET", "/notes", token=self.token, params={"category": "data,message"}
        ).json()
        self.assertGreaterEqual(data["count"], 3)
        self.assertEqual({n["note_type"]["category"] for n in data["notes"]}, {"data", "message"})
        self.assertEqual({tuple(n["allowed_actions"]) for n in data["notes"]}, {()})


class EnvironmentSettingsTests(SimpleTestCase):
    """A sandbox with DEBUG off, env fault defaults, no control API, hashed tokens."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = LiveSandbox.start(
            extra_env={
                "SANDBOX_CONTROL": "false",
                "SANDBOX_FAULT_ERROR_RATE": "1",
                "SANDBOX_FAULT_ERROR_STATUS": "502",
                "SANDBOX_HASH_TOKENS": "true",
                "SANDBOX_DEBUG": "false",
            }
        )
        cls.addClassCleanup(cls.sandbox.stop)

    def test_fault_defaults_come_from_the_environment(self):
        response = self.sandbox.api("GET", "/notes")
        self.assertEqual(response.status_code, 502)
        self.assertEqual(response.json()["error"]["code"], "injected_fault")

    def test_pages_and_static_files_work_without_debug(self):
        home = self.sandbox.http.get(self.sandbox.url("/"), timeout=10)
        self.assertEqual(home.status_code, 200)
        self.assertIn("Canvas sandbox", home.text)
        css = self.sandbox.http.get(self.sandbox.url("/static/sandbox/sandbox.css"), timeout=10)
        self.assertEqual(css.status_code, 200)
        missing = self.sandbox.http.get(self.sandbox.url("/nope/"), timeout=10)
        self.assertEqual(missing.status_code, 404)
        self.assertIn("There is nothing at this address.", missing.text)
        self.assertIn("script-src 'self'", missing.headers["Content-Security-Policy"])

    def test_tokens_are_stored_as_checksums_only(self):
        tokens = self.sandbox.tokens_for("provider")
        self.assertEqual(self.sandbox.refresh(tokens["refresh_token"]).status_code, 200)
        self.assertEqual(self.sandbox.issued_tokens(), set())

    def test_control_api_can_be_switched_off(self):
        response = self.sandbox.http.get(self.sandbox.url("/sandbox/control/stats"), timeout=10)
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json()["error"]["code"], "not_found")


class PagesTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()

    def _signed_in(self, username):
        session = requests.Session()
        self.addCleanup(session.close)
        session.get(self.sandbox.url("/login/"), timeout=10)
        response = session.post(
            self.sandbox.url("/login/"),
            data={
                "username": username,
                "password": "canvas-demo",
                "csrfmiddlewaretoken": session.cookies["sandbox_csrftoken"],
            },
            allow_redirects=False,
            timeout=10,
        )
        self.assertEqual(response.status_code, 302)
        return session

    def assertTidyPage(self, response, status=200):
        self.assertEqual(response.status_code, status)
        self.assertIn("Canvas sandbox", response.text)
        self.assertIn("sandbox-banner", response.text)
        self.assertNotIn("Traceback", response.text)
        self.assertIsNone(re.search(r"<script(?![^>]*\bsrc=)", response.text))
        self.assertNotIn("style=", response.text)
        if status == 200:  # django-csp leaves DEBUG's 404/500 answers alone
            self.assertIn("script-src 'self'", response.headers["Content-Security-Policy"])

    def test_home_page_says_what_this_is(self):
        response = self.sandbox.http.get(self.sandbox.url("/"), timeout=10)
        self.assertTidyPage(response)
        for text in (
            "stand-in for a Canvas instance",
            "provider",
            "frontdesk",
            "Dr. Riley Chen",
            "canvas-demo",
            "/auth/authorize/",
            "/plugin-io/api/note_sign_api/notes",
        ):
            self.assertIn(text, response.text)  # fmt: skip

    def test_sign_in_and_consent_pages_are_labelled(self):
        self.assertTidyPage(self.sandbox.http.get(self.sandbox.url("/login/"), timeout=10))
        session = self._signed_in("provider")
        response = session.get(
            self.sandbox.authorize_url,
            params={
                "response_type": "code",
                "client_id": self.sandbox.client_id,
                "redirect_uri": self.sandbox.redirect_uri,
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
                "scope": "offline_access",
                "state": "s",
                "launch": "e30=",
            },
            timeout=10,
        )
        self.assertTidyPage(response)
        self.assertIn("Allow Canvas Note Portal (development) to act for you?", response.text)

    def test_browser_sign_in_passes_the_origin_check(self):
        # Chromium sends `Origin: null` with form posts under Referrer-Policy
        # no-referrer, which CSRF refuses: the pages must not send that policy.
        session = requests.Session()
        self.addCleanup(session.close)
        page = session.get(self.sandbox.url("/login/"), timeout=10)
        self.assertEqual(page.headers["Referrer-Policy"], "same-origin")
        response = session.post(
            self.sandbox.url("/login/"),
            data={
                "username": "frontdesk",
                "password": "canvas-demo",
                "csrfmiddlewaretoken": session.cookies["sandbox_csrftoken"],
            },
            headers={"Origin": self.sandbox.base_url, "Referer": self.sandbox.url("/login/")},
            allow_redirects=False,
            timeout=10,
        )
        self.assertEqual(response.status_code, 302)

    def test_csrf_failure_is_a_friendly_page(self):
        response = self.sandbox.http.post(
            self.sandbox.url("/login/"),
            data={"username": "provider", "password": "canvas-demo"},
            timeout=10,
        )
        self.assertTidyPage(response, 403)
        self.assertIn("This form expired", response.text)

    def test_wrong_password_shows_an_error(self):
        session = requests.Session()
        self.addCleanup(session.close)
        session.get(self.sandbox.url("/login/"), timeout=10)
        response = session.post(
            self.sandbox.url("/login/"),
            data={
                "username": "provider",
                "password": "wrong",
                "csrfmiddlewaretoken": session.cookies["sandbox_csrftoken"],
            },
            timeout=10,
        )
        self.assertTidyPage(response)
        self.assertIn("did not match", response.text)

    def test_unknown_page_is_a_friendly_404(self):
        self.assertTidyPage(self.sandbox.http.get(self.sandbox.url("/nope/"), timeout=10), 404)

    def test_app_launcher_links_to_the_portal(self):
        # Only a signed-in staff session sees it (contract v3, as the plugin's).
        session = self._signed_in("provider2")
        response = session.get(self.sandbox.api_url + "/app", timeout=10)
        self.assertTidyPage(response)
        self.assertIn('href="http://127.0.0.1:8000/"', response.text)

    def test_app_launcher_needs_a_staff_session(self):
        anonymous = requests.get(self.sandbox.api_url + "/app", timeout=10)
        self.assertEqual(anonymous.status_code, 401)
        self.assertEqual(anonymous.json()["error"]["code"], "unauthenticated")
        self.assertNotIn("127.0.0.1:8000", anonymous.text)

    def test_connected_apps_page_revokes_the_portals_tokens(self):
        tokens = self.sandbox.tokens_for("provider2")
        session = self._signed_in("provider2")
        page = session.get(self.sandbox.url("/connected-apps/"), timeout=10)
        self.assertTidyPage(page)
        self.assertIn("Canvas Note Portal (development)", page.text)
        application = re.search(r'name="application" value="(\d+)"', page.text).group(1)
        response = session.post(
            self.sandbox.url("/connected-apps/"),
            data={
                "application": application,
                "csrfmiddlewaretoken": session.cookies["sandbox_csrftoken"],
            },
            timeout=10,
        )
        self.assertTidyPage(response)
        self.assertIn("can no longer reach your notes", response.text)
        self.assertEqual(
            self.sandbox.api("GET", "/me", token=tokens["access_token"]).status_code, 401
        )
        self.assertEqual(self.sandbox.refresh(tokens["refresh_token"]).status_code, 400)

    def test_logout_is_post_only(self):
        session = self._signed_in("provider")
        self.assertEqual(session.get(self.sandbox.url("/logout/"), timeout=10).status_code, 405)


class CrossSiteControlTests(SimpleTestCase):
    """A page on another site cannot drive the control API (it mints tokens for anyone)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = LiveSandbox.start()
        cls.addClassCleanup(cls.sandbox.stop)

    def test_a_simple_cross_site_request_is_refused(self):
        url = self.sandbox.url("/sandbox/control/tokens")
        cases = {
            # What a form or fetch(mode: "no-cors") on another site can send.
            "text/plain POST": {
                "data": '{"username": "provider"}',
                "headers": {"Content-Type": "text/plain", "Origin": "https://evil.example"},
            },
            "form POST": {"data": {"username": "provider"}},
            "JSON without the header": {"json": {"username": "provider"}},
        }
        for name, kwargs in cases.items():
            with self.subTest(name):
                response = self.sandbox.http.post(url, timeout=10, **kwargs)
                self.assertEqual(response.status_code, 403)
                self.assertEqual(response.json()["error"]["code"], "control_refused")
        self.assertEqual(
            self.sandbox.http.get(self.sandbox.url("/sandbox/control/stats")).status_code, 403
        )
        # The harness's own calls carry the header and a JSON body.
        self.assertIn("access_token", self.sandbox.issue_tokens("provider"))

    def test_without_debug_the_control_api_is_off_unless_asked_for(self):
        quiet = LiveSandbox.start(extra_env={"SANDBOX_DEBUG": "false"})
        self.addCleanup(quiet.stop)
        response = quiet.http.get(
            quiet.url("/sandbox/control/stats"), headers={"X-Sandbox-Control": "1"}, timeout=10
        )
        self.assertEqual(response.status_code, 404)


class LoopbackOnlyControlTests(SimpleTestCase):
    """The control API answers only calls from a loopback address, whatever its settings."""

    SCRIPT = """
import django, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "canvas_sandbox.settings"
os.environ["SANDBOX_CONTROL"] = "true"
os.environ["SANDBOX_DATABASE_URL"] = "sqlite://:memory:"
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
for address in sys.argv[1:]:
    client = Client(REMOTE_ADDR=address)
    print(address, client.get("/sandbox/control/stats", HTTP_X_SANDBOX_CONTROL="1").status_code)
"""

    def test_a_call_from_another_address_is_answered_as_if_the_api_did_not_exist(self):
        import subprocess
        import sys

        result = subprocess.run(
            [sys.executable, "-c", self.SCRIPT, "127.0.0.1", "::1", "192.0.2.9", "10.1.2.3"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        statuses = dict(line.split() for line in result.stdout.splitlines())
        self.assertEqual(
            statuses, {"127.0.0.1": "200", "::1": "200", "192.0.2.9": "404", "10.1.2.3": "404"}
        )
