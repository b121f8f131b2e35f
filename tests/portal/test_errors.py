"""Friendly error pages, the CSRF failure page and htmx error toasts."""

import json

from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import PASSWORD, make_user

LEAKS = ["Traceback", "SECRET_KEY", "do-not-show-this", "settings.py", "DEBUG"]


@override_settings(ROOT_URLCONF="tests.portal.urls_errors")
class ErrorPageTests(TestCase):
    def setUp(self):
        self.client = Client(raise_request_exception=False)

    def assertFriendly(self, response, status, text):
        self.assertEqual(response.status_code, status)
        self.assertContains(response, text, status_code=status)
        self.assertContains(response, 'href="/static/css/portal.css"', status_code=status)
        body = response.content.decode()
        for leak in LEAKS:
            self.assertNotIn(leak, body)

    def test_404_page(self):
        self.assertFriendly(self.client.get("/no/such/page/"), 404, "find that page")

    def test_400_page(self):
        self.assertFriendly(self.client.get("/test-errors/bad/"), 400, "could not be understood")

    def test_403_page(self):
        self.assertFriendly(self.client.get("/test-errors/denied/"), 403, "have access")

    def test_500_page(self):
        with self.assertLogs("django.request", level="ERROR"):
            response = self.client.get("/test-errors/boom/")
        self.assertFriendly(response, 500, "Something went wrong on our side")

    def test_500_page_renders_without_request_context_or_database(self):
        with CaptureQueriesContext(connection) as queries:
            html = render_to_string("500.html")
        self.assertEqual(len(queries), 0)
        self.assertIn("Something went wrong", html)
        self.assertNotIn("Sign out", html)

    def test_signed_in_404_keeps_the_navigation(self):
        make_user("pat")
        self.client.login(username="pat", password=PASSWORD)
        response = self.client.get("/no/such/page/")
        self.assertContains(response, "Sign out", status_code=404)

    def test_htmx_errors_carry_a_toast(self):
        cases = [
            ("/no/such/page/", 404, "no longer exists"),
            ("/test-errors/bad/", 400, "could not understand"),
            ("/test-errors/denied/", 403, "permission"),
            ("/test-errors/boom/", 500, "went wrong on our side"),
        ]
        for url, status, text in cases:
            with self.subTest(url=url), self.assertNoLogs("portal", level="ERROR"):
                if status == 500:
                    with self.assertLogs("django.request", level="ERROR"):
                        response = self.client.get(url, headers={"HX-Request": "true"})
                else:
                    response = self.client.get(url, headers={"HX-Request": "true"})
                self.assertEqual(response.status_code, status)
                trigger = json.loads(response["HX-Trigger"])
                self.assertEqual(trigger["toast"]["level"], "error")
                self.assertIn(text, trigger["toast"]["message"])

    def test_non_htmx_errors_carry_no_toast(self):
        self.assertNotIn("HX-Trigger", self.client.get("/no/such/page/"))


class CsrfFailureTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_user("pat")

    def setUp(self):
        self.client = Client(enforce_csrf_checks=True)

    def test_post_without_token_gets_the_session_expired_page(self):
        with self.assertLogs("portal.views", level="WARNING"):
            response = self.client.post(
                reverse("login"),
                {"username": "pat", "password": PASSWORD},
                headers={"Referer": "http://testserver/accounts/login/"},
            )
        self.assertContains(response, "Your session expired", status_code=403)
        self.assertContains(response, "Reload the page", status_code=403)
        self.assertContains(response, 'href="http://testserver/accounts/login/"', status_code=403)

    def test_foreign_referer_is_not_offered_as_a_link(self):
        with self.assertLogs("portal.views", level="WARNING"):
            response = self.client.post(
                reverse("logout"), headers={"Referer": "https://evil.example/"}
            )
        self.assertEqual(response.status_code, 403)
        self.assertNotContains(response, "evil.example", status_code=403)

    def test_htmx_post_without_token_gets_a_toast(self):
        with self.assertLogs("portal.views", level="WARNING"):
            response = self.client.post(reverse("logout"), headers={"HX-Request": "true"})
        self.assertEqual(response.status_code, 403)
        toast = json.loads(response["HX-Trigger"])["toast"]
        self.assertIn("session expired", toast["message"])


class FaviconTests(TestCase):
    def test_favicon_ico_points_at_the_svg_icon_without_sign_in(self):
        response = self.client.get("/favicon.ico")
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].endswith("img/favicon.svg"))
