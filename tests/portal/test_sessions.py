"""Automatic logoff: idle timeout, absolute cap, htmx redirects, key rotation."""

from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import TestCase, override_settings
from django.urls import reverse

from portal.middleware import SEEN_RESOLUTION, SESSION_SEEN_KEY
from tests.factories import PASSWORD, make_user

T0 = 1_800_000_000.0


class Clock:
    """A clock the session middleware reads through `portal.middleware._now`."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@override_settings(SESSION_IDLE_TIMEOUT=900, SESSION_ABSOLUTE_TIMEOUT=43_200)
class SessionTimeoutTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user("pat", first_name="Pat")

    def setUp(self):
        self.clock = Clock()
        patcher = mock.patch("portal.middleware._now", self.clock)
        patcher.start()
        self.addCleanup(patcher.stop)
        response = self.client.post(reverse("login"), {"username": "pat", "password": PASSWORD})
        self.assertEqual(response.status_code, 302)

    def test_activity_within_the_idle_timeout_keeps_the_session(self):
        for _ in range(5):
            self.clock.now += 800
            self.assertEqual(self.client.get("/").status_code, 200)

    def test_rapid_requests_do_not_rewrite_the_session(self):
        self.client.get("/")
        stamped = self.client.session[SESSION_SEEN_KEY]
        self.clock.now += SEEN_RESOLUTION - 1
        self.client.get("/")
        self.assertEqual(self.client.session[SESSION_SEEN_KEY], stamped)
        self.clock.now += 1
        self.client.get("/")
        self.assertEqual(self.client.session[SESSION_SEEN_KEY], stamped + SEEN_RESOLUTION)

    def test_idle_timeout_signs_out_and_redirects_with_next(self):
        self.clock.now += 901
        response = self.client.get("/?tab=mine")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], "/accounts/login/?next=/%3Ftab%3Dmine")
        self.assertNotIn("_auth_user_id", self.client.session)
        login = self.client.get(response["Location"])
        self.assertContains(login, "signed out after a period without activity")

    def test_exactly_at_the_idle_limit_still_counts_as_active(self):
        self.clock.now += 900
        self.assertEqual(self.client.get("/").status_code, 200)

    def test_absolute_cap_ends_even_an_active_session(self):
        for _ in range(48):  # just under 12 hours, never idle for 15 minutes
            self.clock.now += 899
            self.assertEqual(self.client.get("/").status_code, 200)
        self.clock.now = T0 + 43_201  # 49 s after the last request, past the cap
        response = self.client.get("/")
        self.assertEqual(response.status_code, 302)
        self.assertContains(self.client.get(response["Location"]), "reached its time limit")

    @override_settings(SESSION_IDLE_TIMEOUT=60)
    def test_idle_timeout_is_settable(self):
        self.clock.now += 61
        self.assertEqual(self.client.get("/").status_code, 302)

    def test_htmx_request_on_expired_session_gets_hx_redirect_back_to_the_page(self):
        self.clock.now += 1000
        response = self.client.post(
            "/",
            headers={
                "HX-Request": "true",
                "HX-Current-URL": "http://testserver/notes/?state=LKD",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["HX-Redirect"], "/accounts/login/?next=%2Fnotes%2F%3Fstate%3DLKD")
        self.assertIn("no-store", response["Cache-Control"])

    def test_background_polls_do_not_keep_the_session_alive(self):
        self.assertEqual(self.client.get("/").status_code, 200)
        poll = {"HX-Request": "true", "HX-Poll": "true", "HX-Current-URL": "http://testserver/"}
        for _ in range(16):  # a page polling once a minute, nobody at the keyboard
            self.clock.now += 60
            response = self.client.get("/", headers=poll)
            if self.clock.now - T0 <= 900:
                self.assertEqual(response.status_code, 200)
                self.assertNotIn("HX-Redirect", response)
        # The poll past the idle limit already followed the logoff.
        self.assertEqual(response["HX-Redirect"], "/accounts/login/?next=%2F")
        self.assertNotIn("_auth_user_id", self.client.session)
        self.assertEqual(self.client.get("/").status_code, 302)

    def test_a_poll_alone_is_not_activity_but_a_click_is(self):
        self.client.get("/")
        stamped = self.client.session[SESSION_SEEN_KEY]
        self.clock.now += 600
        self.client.get("/", headers={"HX-Request": "true", "HX-Poll": "true"})
        self.assertEqual(self.client.session[SESSION_SEEN_KEY], stamped)
        self.client.get("/", headers={"HX-Request": "true"})
        self.assertEqual(self.client.session[SESSION_SEEN_KEY], stamped + 600)

    def test_sign_in_after_htmx_redirect_returns_to_the_page(self):
        self.clock.now += 1000
        redirect = self.client.get(
            "/", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/?p=2"}
        )["HX-Redirect"]
        page = self.client.get(redirect)
        self.assertContains(page, 'name="next" value="/?p=2"')
        response = self.client.post(
            redirect, {"username": "pat", "password": PASSWORD, "next": "/?p=2"}
        )
        self.assertRedirects(response, "/?p=2", fetch_redirect_response=False)

    def test_htmx_redirect_ignores_a_foreign_current_url(self):
        self.clock.now += 1000
        for current in ["https://evil.example/x", "//evil.example/", "javascript:alert(1)", ""]:
            with self.subTest(current=current):
                response = self.client.get(
                    "/", headers={"HX-Request": "true", "HX-Current-URL": current}
                )
                self.assertEqual(response["HX-Redirect"], "/accounts/login/")

    def test_signing_in_again_restarts_both_clocks(self):
        self.clock.now += 43_000
        self.client.post(reverse("logout"))
        self.client.post(reverse("login"), {"username": "pat", "password": PASSWORD})
        self.clock.now += 800
        self.assertEqual(self.client.get("/").status_code, 200)


class SessionSettingsTests(TestCase):
    def test_defaults(self):
        self.assertEqual(settings.SESSION_IDLE_TIMEOUT, 900)
        self.assertEqual(settings.SESSION_ABSOLUTE_TIMEOUT, 43_200)
        self.assertGreaterEqual(settings.SESSION_COOKIE_AGE, settings.SESSION_ABSOLUTE_TIMEOUT)


class SessionRotationTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_user("pat")

    def test_sign_in_rotates_the_session_key(self):
        self.client.get(reverse("login"))
        session = self.client.session
        session["anonymous_marker"] = "x"
        session.save()
        before = session.session_key
        self.client.cookies[settings.SESSION_COOKIE_NAME] = before
        response = self.client.post(reverse("login"), {"username": "pat", "password": PASSWORD})
        self.assertEqual(response.status_code, 302)
        after = self.client.cookies[settings.SESSION_COOKIE_NAME].value
        self.assertNotEqual(before, after)
        self.assertEqual(self.client.session["_auth_user_id"], str(get_user_id("pat")))

    def test_sign_out_forgets_the_session(self):
        self.client.post(reverse("login"), {"username": "pat", "password": PASSWORD})
        key = self.client.cookies[settings.SESSION_COOKIE_NAME].value
        self.client.post(reverse("logout"))
        self.assertFalse(Session.objects.filter(session_key=key).exists())


def get_user_id(username: str) -> int:
    return get_user_model().objects.get(username=username).pk


class IdleTimeoutMetaTests(TestCase):
    def test_signed_in_pages_tell_the_script_the_idle_timeout(self):
        make_user("pat")
        with override_settings(SESSION_IDLE_TIMEOUT=600):
            self.assertNotContains(self.client.get(reverse("login")), "portal-idle-timeout")
            self.client.login(username="pat", password=PASSWORD)
            self.assertContains(
                self.client.get("/"), '<meta name="portal-idle-timeout" content="600">'
            )
