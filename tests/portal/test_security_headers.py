"""Security headers on every kind of page, and templates the CSP can live with."""

import json
import logging
import re
from pathlib import Path

from django.conf import settings
from django.test import Client, SimpleTestCase, TestCase, override_settings
from django.urls import reverse

from portal.logging import StripQueryStringFilter
from portal.models import SignInEvent
from tests.factories import PASSWORD, make_user
from tests.portal.test_settings import VALID_FERNET_KEY, run_manage

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}


def parse_csp(header: str) -> dict[str, str]:
    directives = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value.strip()
    return directives


@override_settings(ROOT_URLCONF="tests.portal.urls_errors")
class SecurityHeaderTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_user("pat")
        cls.boss = make_user("boss", is_staff=True, is_superuser=True)
        SignInEvent.objects.create(at="2026-11-28T09:00:00Z", kind="failure", username="x")

    def setUp(self):
        self.client = Client(raise_request_exception=False)

    def assertHardened(self, response):
        header = response.get("Content-Security-Policy")
        self.assertIsNotNone(header, "no Content-Security-Policy header")
        directives = parse_csp(header)
        for name, value in REQUIRED_DIRECTIVES.items():
            self.assertEqual(directives.get(name), value, name)
        self.assertNotIn("unsafe-inline", header)
        self.assertNotIn("unsafe-eval", header)
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response["Referrer-Policy"], "same-origin")
        self.assertEqual(response["X-Frame-Options"], "DENY")

    def test_anonymous_pages(self):
        for url, status in [
            (reverse("login"), 200),
            ("/healthz", 200),
            ("/no/such/page/", 404),
            ("/test-errors/bad/", 400),
            ("/test-errors/denied/", 403),
            ("/", 302),
        ]:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, status)
                self.assertHardened(response)

    def test_server_error_page(self):
        with self.assertLogs("django.request", level="ERROR"):
            response = self.client.get("/test-errors/boom/")
        self.assertEqual(response.status_code, 500)
        self.assertHardened(response)

    def test_csrf_failure_page(self):
        client = Client(enforce_csrf_checks=True)
        with self.assertLogs("portal.views", level="WARNING"):
            response = client.post(reverse("login"), {"username": "pat"})
        self.assertEqual(response.status_code, 403)
        self.assertHardened(response)

    def test_signed_in_pages_and_the_admin(self):
        self.client.login(username="boss", password=PASSWORD)
        for url in [
            "/",
            reverse("admin:index"),
            reverse("admin:portal_signinevent_changelist"),
            reverse("admin:auth_user_changelist"),
            reverse("admin:auth_user_add"),
            reverse("admin:auth_user_change", args=[self.boss.pk]),
        ]:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 200)
                self.assertHardened(response)
                self.assertNoInlineCode(response.content.decode(), url)

    def test_htmx_json_and_redirect_answers(self):
        response = self.client.get("/", headers={"HX-Request": "true"})
        self.assertIn("HX-Redirect", response)
        self.assertHardened(response)

    def assertNoInlineCode(self, html: str, where: str) -> None:
        for problem in inline_code(html):
            self.fail(f"{where}: {problem}")


@override_settings(DEBUG=True)
class DebugScriptTests(TestCase):
    def test_debug_pages_load_no_eval_based_helper(self):
        # {% htmx_script %} would add django-htmx.js (which calls eval) in DEBUG.
        response = Client().get(reverse("login"))
        self.assertNotContains(response, "django-htmx.js")
        self.assertContains(response, "htmx-2.min.js")


class TemplateCspTests(TestCase):
    def test_no_template_needs_unsafe_inline(self):
        templates = sorted(
            p
            for folder in ["templates", "canvas_oauth", "notes", "portal"]
            for p in (ROOT / folder).rglob("*.html")
        )
        self.assertTrue(templates)
        for path in templates:
            with self.subTest(template=str(path.relative_to(ROOT))):
                self.assertEqual(inline_code(path.read_text()), [])

    def test_htmx_is_configured_by_meta_tag(self):
        html = Client().get(reverse("login")).content.decode()
        meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
        self.assertIsNotNone(meta)
        self.assertIn('"allowEval": false', meta.group(1))
        self.assertIn('"includeIndicatorStyles": false', meta.group(1))
        self.assertIn('"historyCacheSize": 0', meta.group(1))


class ProductionSecuritySettingsTests(SimpleTestCase):
    def production_settings(self, **env: str) -> dict:
        script = (
            "import json; from django.conf import settings as s;"
            "print(json.dumps({k: getattr(s, k) for k in ["
            "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT',"
            "'SECURE_HSTS_SECONDS', 'SECURE_CONTENT_TYPE_NOSNIFF', 'SECURE_REFERRER_POLICY',"
            "'SESSION_COOKIE_HTTPONLY', 'DEBUG']}))"
        )
        result = run_manage(
            "shell",
            "-c",
            script,
            DJANGO_SECRET_KEY="s3cr3t-" + "k" * 60,
            TOKEN_ENCRYPTION_KEYS=VALID_FERNET_KEY,
            DJANGO_ALLOWED_HOSTS="portal.example.com",
            **env,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def test_production_defaults_are_https_only(self):
        values = self.production_settings()
        self.assertFalse(values["DEBUG"])
        for name in ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT"]:
            self.assertTrue(values[name], name)
        self.assertGreaterEqual(values["SECURE_HSTS_SECONDS"], 31_536_000)
        self.assertTrue(values["SECURE_CONTENT_TYPE_NOSNIFF"])
        self.assertTrue(values["SESSION_COOKIE_HTTPONLY"])
        self.assertEqual(values["SECURE_REFERRER_POLICY"], "same-origin")

    def test_plain_http_run_turns_https_behaviour_off(self):
        values = self.production_settings(DJANGO_HTTPS="false")
        self.assertFalse(values["SESSION_COOKIE_SECURE"])
        self.assertEqual(values["SECURE_HSTS_SECONDS"], 0)


def inline_code(html: str) -> list[str]:
    """Return every construct in `html` that a strict CSP would block."""
    problems = []
    for match in re.finditer(r"<script\b([^>]*)>", html, flags=re.I):
        if "src=" not in match.group(1) and 'type="application/json"' not in match.group(1):
            problems.append(f"inline <script>: {match.group(0)[:80]}")
    for pattern, label in [
        (r"<style\b", "inline <style>"),
        (r"\sstyle\s*=", "style= attribute"),
        (r"\son[a-z]+\s*=\s*[\"']", "inline event handler"),
        (r"javascript:", "javascript: URL"),
    ]:
        for match in re.finditer(pattern, html, flags=re.I):
            problems.append(f"{label}: ...{html[max(0, match.start() - 40) : match.end() + 40]}")
    return problems


class RequestLogTests(SimpleTestCase):
    def test_runserver_request_lines_lose_their_query_strings(self):
        # Django's default logging gives django.server its own handler; ours
        # must replace it, with the filter, or ?code=... reaches the log.
        config = settings.LOGGING
        server = config["loggers"]["django.server"]
        self.assertFalse(server["propagate"])
        for name in server["handlers"]:
            with self.subTest(handler=name):
                self.assertIn("strip_query_strings", config["handlers"][name]["filters"])
        record = logging.LogRecord(
            "django.server", logging.INFO, __file__, 1, '"%s" %s %s',
            ("GET /canvas/callback/?code=SECRETCODE&state=S HTTP/1.1", "302", "0"), None,
        )  # fmt: skip
        StripQueryStringFilter().filter(record)
        self.assertNotIn("SECRETCODE", record.getMessage())
        self.assertIn("/canvas/callback/?[redacted]", record.getMessage())
