"""Sign-in is required everywhere but the login page and the health check."""

import subprocess
import sys

from django.test import TestCase
from django.urls import reverse

from tests.factories import PASSWORD, make_user
from tests.portal.test_settings import ROOT


class SignInRequiredTests(TestCase):
    def test_pages_redirect_anonymous_users_to_login(self):
        for url in ["/", "/admin/"]:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 302)
                self.assertIn("/login/", response["Location"])

    def test_login_page_is_public(self):
        response = self.client.get(reverse("login"))
        self.assertContains(response, "Sign in")
        self.assertContains(response, 'name="csrfmiddlewaretoken"')

    def test_signed_in_user_sees_home(self):
        make_user("pat", first_name="Pat")
        self.assertTrue(self.client.login(username="pat", password=PASSWORD))
        response = self.client.get("/")
        self.assertContains(response, "Welcome, Pat")
        self.assertContains(response, "hx-headers")


class LogoutTests(TestCase):
    def setUp(self):
        make_user("pat")
        self.client.login(username="pat", password=PASSWORD)

    def test_logout_by_get_is_refused(self):
        response = self.client.get(reverse("logout"))
        self.assertEqual(response.status_code, 405)
        self.assertEqual(self.client.get("/").status_code, 200)  # still signed in

    def test_logout_by_post_signs_out(self):
        response = self.client.post(reverse("logout"))
        self.assertRedirects(response, reverse("login"), fetch_redirect_response=False)
        self.assertEqual(self.client.get("/").status_code, 302)


class HealthzTests(TestCase):
    def test_ok_when_database_answers(self):
        response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(),
            {
                "status": "ok",
                "database": "ok",
                "confirmations": {
                    "unconfirmed": 0,
                    "oldest_unconfirmed_seconds": 0.0,
                    "behind": False,
                },
            },
        )

    def test_degraded_when_database_is_unreachable(self):
        # A real unreachable PostgreSQL (nothing listens on port 1).
        script = (
            "import django, json; django.setup();"
            "from django.test import Client;"
            "r = Client().get('/healthz');"
            "print(r.status_code, json.dumps(r.json()))"
        )
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={
                "PATH": "/usr/bin:/bin",
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "DJANGO_ENV_FILE": "",
                "DJANGO_DEBUG": "true",
                "DJANGO_ALLOWED_HOSTS": "testserver",
                "TOKEN_ENCRYPTION_KEYS": "kQ5ZbVQ0Cw5k2cFh0d2mWb1Yt3y6bq2xvYJpN3dE0oU=",
                "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=2",
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('503 {"status": "degraded", "database": "unreachable"}', result.stdout)
