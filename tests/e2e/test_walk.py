"""End to end, in Chromium: what clinic staff actually see and do.

The portal and the Canvas sandbox run as real servers (see harness.py).
Every step saves a screenshot under tests/e2e/artifacts/. A test fails on
any browser console error, page error, CSP violation or 5xx response.
Without Chromium the suite skips loudly, except under CI=true, where it fails.
"""

import os
import re
import sys
import unittest
import warnings
from urllib.parse import parse_qs, urlsplit

from django.test import SimpleTestCase

from tests.e2e.harness import DEMO_PASSWORD, Browser, Servers, chromium_missing_reason


def _require_chromium() -> None:
    reason = chromium_missing_reason()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError(f"CI=true but the browser tests cannot run: {reason}")
    message = f"SKIPPING THE END-TO-END BROWSER TESTS: {reason}"
    banner = "!" * 78
    print(f"\n{banner}\n!! {message}\n{banner}", file=sys.stderr)
    warnings.warn(message, stacklevel=2)
    raise unittest.SkipTest(message)


class E2ETestCase(SimpleTestCase):
    """Start both servers and the browser once for the class."""

    servers: Servers
    browser: Browser

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        _require_chromium()
        cls.servers = Servers()
        try:
            cls.servers.start()
            cls.browser = Browser()
        except BaseException:
            cls.servers.stop()
            raise
        cls.portal = cls.servers.portal
        cls.sandbox = cls.servers.sandbox
        cls.codes: set[str] = set()
        cls.verifiers: set[str] = set()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.browser.close()
        finally:
            cls.servers.stop()
            super().tearDownClass()

    def setUp(self):
        self.browser.problems.clear()

    # --- helpers -----------------------------------------------------------
    def url(self, path: str) -> str:
        return self.portal.base_url + path

    def assertNoProblems(self):
        problems = list(self.browser.problems)
        self.browser.problems.clear()
        self.assertEqual(problems, [], "browser problems:\n" + "\n".join(problems))
        for name, log in self.servers.logs().items():
            errors = [
                line
                for line in log.splitlines()
                if "Internal Server Error" in line or re.search(r'" 5\d\d \d', line)
            ]
            self.assertEqual(errors, [], f"{name} server errors")

    def sign_in(self, page, username: str, *, next_path: str = "/"):
        page.goto(self.url(next_path))
        page.wait_for_url(re.compile(r"/accounts/login/"))
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(re.escape(self.url(next_path.split("?")[0]))))

    def sign_out(self, page):
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/accounts/login/"))


class SignInWalkTests(E2ETestCase):
    def test_sign_in_with_the_keyboard_and_sign_out(self):
        page = self.browser.new_page()
        page.goto(self.url("/"))
        page.wait_for_url(re.compile(r"/accounts/login/\?next=/"))
        self.browser.shot(page, "01-sign-in-page")

        # Wrong password: a message that does not say which part was wrong.
        page.get_by_label("Username").fill("provider")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_label("Password").press("Enter")
        page.wait_for_load_state()
        alert = page.get_by_role("alert")
        self.assertIn("did not match", alert.inner_text())
        self.browser.shot(page, "02-sign-in-failed")

        # Keyboard only: the username keeps its value; Tab to the password.
        page.get_by_label("Username").focus()
        page.keyboard.press("Tab")
        page.keyboard.type(DEMO_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(self.url("/"))
        self.assertIn("Welcome", page.locator("h1").inner_text())
        self.browser.shot(page, "03-home-signed-in")

        self.browser.expected_failures.add((self.url("/no/such/page/"), 404))
        page.goto(self.url("/no/such/page/"))
        self.assertIn("find that page", page.locator("h1").inner_text())
        self.browser.shot(page, "04-not-found")

        page.goto(self.url("/"))
        self.sign_out(page)
        self.browser.shot(page, "05-signed-out")
        page.goto(self.url("/"))
        page.wait_for_url(re.compile(r"/accounts/login/"))
        page.context.close()
        self.assertNoProblems()

    def test_tablet_layout(self):
        page = self.browser.new_page(width=768, height=1024)
        self.sign_in(page, "provider")
        self.browser.shot(page, "06-home-tablet")
        page.context.close()
        self.assertNoProblems()


def _query_value(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None
