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
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from django.test import SimpleTestCase

from tests.e2e.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEMO_PASSWORD,
    Browser,
    Servers,
    chromium_missing_reason,
)


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
        self.browser.client_errors.clear()
        self.addCleanup(self.browser.shoot_open_pages, f"zz-open-after-{self._testMethodName}")

    # --- helpers -----------------------------------------------------------
    def url(self, path: str) -> str:
        return self.portal.base_url + path

    def assertNoProblems(self):
        problems = list(self.browser.problems)
        self.browser.problems.clear()
        client_errors = list(self.browser.client_errors)
        self.browser.client_errors.clear()
        self.assertEqual(
            problems,
            [],
            "browser problems:\n" + "\n".join([*problems, "4xx seen:", *client_errors]),
        )
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

    def test_back_after_sign_out_shows_the_sign_in_page(self):
        # A shared workstation: the next person presses Back after sign-out.
        # Playwright turns Chromium's back/forward cache off; a real browser
        # has it on, and it would show the page again unless it was no-store.
        browser = self.browser.browser.browser_type.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            ignore_default_args=["--disable-back-forward-cache"],
        )
        self.addCleanup(browser.close)
        page = browser.new_context().new_page()
        page.set_default_timeout(15_000)
        statuses: list[str] = []
        page.on("response", lambda r: statuses.append(f"{r.status} {r.url}"))
        self.sign_in(page, "frontdesk")
        page.goto(self.url("/notes/activity/"))
        self.assertIn("activity", page.locator("h1").inner_text().lower())
        self.sign_out(page)
        # "commit": a page restored from the back/forward cache fires no load.
        page.go_back(wait_until="commit")
        self.assertRegex(page.url, r"/accounts/login/\?next=/notes/activity/")
        page.get_by_role("button", name="Sign in").wait_for()
        self.browser.shot(page, "05b-back-after-sign-out")
        self.assertEqual([s for s in statuses if s.startswith("5")], [])
        page.context.close()
        self.assertNoProblems()

    def test_stale_form_gets_the_session_expired_page(self):
        page = self.browser.new_page()
        self.sign_in(page, "frontdesk")
        # The CSRF cookie is gone (another tab signed out, cookies cleared...).
        cookies = [c for c in page.context.cookies() if c["name"] != "portal_csrftoken"]
        page.context.clear_cookies()
        page.context.add_cookies(cookies)
        self.browser.expected_failures.add((self.url("/accounts/logout/"), 403))
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(self.url("/accounts/logout/"))
        self.assertIn("Your session expired", page.locator("h1").inner_text())
        self.browser.shot(page, "07-csrf-session-expired")
        page.get_by_role("link", name="Back to the page").click()
        page.wait_for_url(self.url("/"))
        page.context.close()
        self.assertNoProblems()

    def test_admin_pages_keep_to_the_csp(self):
        page = self.browser.new_page()
        self.sign_in(page, "admin")
        for path in [
            "/admin/",
            "/admin/auth/user/",
            "/admin/auth/user/add/",
            "/admin/auth/user/1/change/",
            "/admin/portal/signinevent/",
            "/admin/portal/signinthrottle/",
            "/admin/canvas_oauth/canvasconnection/",
            "/admin/notes/noteactionattempt/",
        ]:
            with self.subTest(path=path):
                response = page.goto(self.url(path))
                self.assertEqual(response.status, 200, path)
                page.wait_for_load_state("networkidle")
        self.browser.shot(page, "08-admin")
        page.goto(self.url("/admin/portal/signinevent/"))
        self.browser.shot(page, "09-admin-sign-in-events")
        page.context.close()
        self.assertNoProblems()

    def test_an_idle_page_leaves_the_screen(self):
        page = self.browser.new_page()
        page.clock.install()
        self.sign_in(page, "frontdesk")
        page.goto(self.url("/notes/?tab=all"))
        # 15 minutes pass: the server has ended the session (idle timeout)...
        self.portal.query_write("DELETE FROM django_session")
        # ...and the page, untouched, reloads itself into the sign-in page.
        page.clock.run_for(14 * 60 * 1000)
        self.assertIn("/notes/", page.url)
        with page.expect_navigation():
            page.clock.run_for(2 * 60 * 1000)
        page.wait_for_url(re.compile(r"/accounts/login/\?next="))
        self.assertEqual(_query_value(page.url, "next"), "/notes/?tab=all")
        self.browser.shot(page, "07b-idle-page-signed-out")
        page.context.close()
        self.assertNoProblems()

    def test_repeated_failures_are_slowed(self):
        page = self.browser.new_page()
        page.goto(self.url("/accounts/login/"))
        for _ in range(3):
            page.get_by_label("Username").fill("nobody-by-this-name")
            page.get_by_label("Password").fill("guess")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
        self.assertIn("before trying again", page.get_by_role("alert").inner_text())
        self.browser.shot(page, "02b-sign-in-slowed")
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


class ClinicWalkTests(E2ETestCase):
    """Provider and front desk: link, act on notes, lose the link, get it back."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokens: set[str] = set()

    # --- helpers -----------------------------------------------------------
    def collect_tokens(self):
        """Remember every token the sandbox holds now (revocation deletes rows)."""
        type(self).tokens |= self.servers.issued_tokens()

    def collect_codes(self):
        for url in self.browser.requested_urls:
            if "/canvas/callback/" in url:
                code = _query_value(url, "code")
                if code:
                    type(self).codes.add(code)

    def consent_in_sandbox(self, page, *, canvas_user: str, shot_prefix: str):
        """Sign in to the sandbox if asked, then allow the portal."""
        page.wait_for_url(re.compile(re.escape(self.sandbox.base_url)))
        # The flow's PKCE verifier sits in the portal session until the callback.
        type(self).verifiers |= set(self.portal.session_values("verifier"))
        if "/login" in page.url:
            self.browser.shot(page, f"{shot_prefix}-canvas-sign-in")
            page.get_by_label("Username").fill(canvas_user)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Allow").wait_for()
        self.browser.shot(page, f"{shot_prefix}-canvas-consent")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(re.compile(re.escape(self.portal.base_url)))
        self.collect_codes()
        self.collect_tokens()

    def link(self, page, *, canvas_user: str, shot_prefix: str):
        page.goto(self.url("/"))
        page.get_by_role("link", name="Connect to Canvas").click()
        self.consent_in_sandbox(page, canvas_user=canvas_user, shot_prefix=shot_prefix)
        page.wait_for_url(self.url("/"))
        self.assertIn("Linked to Canvas as", page.locator("#messages").inner_text())

    def row(self, page, note_id: str):
        return page.locator(f"#note-{note_id}")

    def act(self, page, note_id: str, button: str, *, state_label: str, toast: str, shot: str = ""):
        """Click an action; see it in flight ("Signing..."), then confirmed: badge and toast."""
        row = self.row(page, note_id)
        row.get_by_role("button", name=button, exact=True).click()
        # Canvas applies effects 300 ms after the 202; the row polls every second.
        busy = row.locator(".in-flight button[disabled]")
        busy.wait_for()
        self.assertTrue(busy.inner_text().strip().endswith("…"), busy.inner_text())
        if shot:
            self.browser.shot(page, shot)
        row.locator(".badge").filter(has_text=state_label).wait_for()
        page.locator("#toasts .toast", has_text=toast).last.wait_for()
        self.assertEqual(row.locator(".in-flight").count(), 0)

    # --- the walks ---------------------------------------------------------
    def test_1_provider_links_acts_loses_and_restores_the_link(self):
        note = self.sandbox.create_note(
            state="NEW", kind="encounter", provider="provider", patient="Walker Lockwood"
        )
        page = self.browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        self.sign_in(page, "provider")
        self.browser.shot(page, "10-provider-home-not-linked")

        self.link(page, canvas_user="provider", shot_prefix="11")
        self.browser.shot(page, "12-provider-linked")

        worklist = "/notes/?tab=all&patient=Lockwood"
        page.goto(self.url(worklist))
        self.assertIn("Created", self.row(page, note["id"]).locator(".badge").inner_text())
        self.browser.shot(page, "13-worklist")

        # As Canvas shows it: one Sign on a signature-required note (it locks and
        # signs in one step), Lock only on a note that needs no signature.
        row_buttons = self.row(page, note["id"]).locator(".actions .btn").all_inner_texts()
        self.assertEqual(row_buttons, ["Sign"])
        self.act(
            page,
            note["id"],
            "Sign",
            state_label="Signed",
            toast="Note locked and signed.",
            shot="15a-signing",
        )
        self.browser.shot(page, "15b-signed")
        self.act(page, note["id"], "Unlock", state_label="Unlocked", toast="nlock")
        self.browser.shot(page, "16-unlocked")
        self.act(page, note["id"], "Sign", state_label="Signed", toast="ign")
        self.browser.shot(page, "17-locked-and-signed")
        nosig = self.sandbox.create_note(
            state="NEW", kind="encounter_nosig", provider="provider", patient="Walker Lockwood"
        )
        page.goto(self.url(worklist))
        self.act(page, nosig["id"], "Lock", state_label="Locked", toast="ock")
        self.browser.shot(page, "14-locked-toast")
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "SGN")
        self.collect_tokens()
        page.goto(self.url(f"/notes/{note['id']}/"))
        self.assertIn("Signed", page.locator(".badge").first.inner_text())
        self.browser.shot(page, "17b-note-page")

        # Canvas refuses to apply a signature (another plugin's veto): the
        # portal says so once the deadline passes, and the Sign button is back.
        vetoed = self.sandbox.create_note(
            state="LKD", kind="encounter", provider="provider", patient="Walker Vetoed"
        )
        self.sandbox.veto(vetoed["id"])
        page.goto(self.url("/notes/?tab=all&patient=Walker"))
        row = self.row(page, vetoed["id"])
        row.get_by_role("button", name="Sign", exact=True).click()
        row.locator(".in-flight button[disabled]", has_text="Signing…").wait_for()
        toast = page.locator("#toasts .toast", has_text="Canvas did not apply the signature.")
        toast.wait_for(timeout=15_000)  # NOTES_CONFIRM_SECONDS is 4 here
        self.assertEqual(toast.get_by_role("link").get_attribute("href"), f"/notes/{vetoed['id']}/")
        self.browser.shot(page, "17c-not-applied")
        self.assertIn("Canvas did not apply the signature.", row.locator(".row-error").inner_text())
        self.assertIn("Locked", row.locator(".badge").inner_text())
        row.get_by_role("button", name="Sign", exact=True).wait_for()
        self.assertEqual(
            self.portal.query(
                "SELECT outcome FROM notes_noteactionattempt WHERE note_id = ?",
                (uuid.UUID(vetoed["id"]).hex,),
            ),
            [("not_applied",)],
        )
        # A reload still says it (from the audit row, not Canvas).
        page.reload()
        self.assertIn(
            "Canvas did not apply the signature.",
            self.row(page, vetoed["id"]).locator(".row-error").inner_text(),
        )
        page.goto(self.url("/notes/activity/"))
        self.assertGreaterEqual(page.locator("tbody tr").count(), 5)
        self.assertIn("Not applied by Canvas", page.locator("tbody tr").first.inner_text())
        self.assertIn("Confirmed in Canvas", page.locator("tbody").inner_text())
        self.browser.shot(page, "17d-my-activity")

        # Canvas withdraws the portal's access: the portal asks to reconnect.
        self.sandbox.revoke_user("provider")
        page.goto(self.url(worklist))
        banner = page.locator("#canvas-reconnect-banner")
        banner.wait_for()
        self.browser.shot(page, "18-reconnect-banner")
        banner.get_by_role("link", name="Reconnect to Canvas").click()
        self.consent_in_sandbox(page, canvas_user="provider", shot_prefix="19")
        page.wait_for_url(re.compile(re.escape(self.url("/notes/"))))
        self.assertEqual(urlsplit(page.url).path + "?" + urlsplit(page.url).query, worklist)
        self.assertEqual(page.locator("#canvas-reconnect-banner").count(), 0)
        self.assertIn("Signed", self.row(page, note["id"]).locator(".badge").inner_text())
        self.browser.shot(page, "20-reconnected-same-page")

        # The session ends while the page is open (as after 15 idle minutes):
        # the next htmx click lands on sign-in, and sign-in returns here.
        self.portal.query_write("DELETE FROM django_session")
        self.row(page, note["id"]).get_by_role("button", name="Unlock", exact=True).click()
        page.wait_for_url(re.compile(r"/accounts/login/\?next="))
        self.assertEqual(_query_value(page.url, "next"), worklist)
        self.browser.shot(page, "20b-session-ended-sign-in-again")
        page.get_by_label("Username").fill("provider")
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(re.escape(self.url("/notes/"))))
        self.assertEqual(urlsplit(page.url).path + "?" + urlsplit(page.url).query, worklist)
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "SGN")

        # Disconnect, then sign out.
        page.goto(self.url("/"))
        page.get_by_role("link", name="Disconnect").click()
        self.browser.shot(page, "21-disconnect-confirm")
        page.get_by_role("button", name="Disconnect").click()
        page.wait_for_url(self.url("/"))
        self.assertIn("no longer linked", page.locator("#messages").inner_text())
        page.get_by_role("link", name="Connect to Canvas").wait_for()
        self.browser.shot(page, "22-disconnected")
        self.sign_out(page)
        page.context.close()
        self.assertNoProblems()
        self.assertLogsHoldNoSecrets()

    def test_2_front_desk_checks_in_and_marks_no_show_then_the_provider_signs(self):
        arriving = self.sandbox.create_note(
            state="BKD", kind="appointment", provider="provider", patient="Ada Arrives"
        )
        missing = self.sandbox.create_note(
            state="BKD", kind="appointment", provider="provider", patient="Ada Absent"
        )
        page = self.browser.new_page(width=768, height=1024)  # the front desk's tablet
        page.on("dialog", lambda dialog: dialog.accept())
        self.sign_in(page, "frontdesk")
        self.link(page, canvas_user="frontdesk", shot_prefix="30")
        page.goto(self.url("/notes/?tab=all&patient=Ada"))
        self.browser.shot(page, "31-front-desk-worklist")
        for note in (arriving, missing):
            row = self.row(page, note["id"])
            for forbidden in ["Sign", "Lock & sign", "Lock", "Unlock"]:
                self.assertEqual(
                    row.get_by_role("button", name=forbidden, exact=True).count(), 0, forbidden
                )
        self.act(page, arriving["id"], "Check in", state_label="Checked in", toast="heck")
        self.act(page, missing["id"], "No-show", state_label="No show", toast="o")
        self.browser.shot(page, "32-checked-in-and-no-show")
        self.assertEqual(self.sandbox.note(arriving["id"])["state"]["code"], "CVD")
        self.assertEqual(self.sandbox.note(missing["id"])["state"]["code"], "NSW")
        self.assertEqual(
            self.row(page, arriving["id"]).get_by_role("button", name="Sign").count(), 0
        )
        self.collect_tokens()
        self.sign_out(page)
        page.context.close()

        # Canvas converted the checked-in visit into an encounter note: the
        # provider's queue now shows it (the no-show is never offered a
        # signature), and the provider signs it; the row says Signed only
        # once the worker has read Canvas showing it.
        page = self.browser.new_page(width=1280, height=800)
        page.on("dialog", lambda dialog: dialog.accept())
        self.sign_in(page, "provider")
        if page.get_by_role("link", name="Connect to Canvas").count():
            self.link(page, canvas_user="provider", shot_prefix="33")
        page.goto(self.url("/notes/?tab=to_sign&patient=Ada+A"))
        rows = page.locator("table.worklist tbody tr")
        self.assertEqual(rows.count(), 1, rows.all_inner_texts())
        self.assertIn("Arrives", rows.first.inner_text())
        self.browser.shot(page, "33-provider-queue-shows-the-visit")
        self.act(page, arriving["id"], "Sign", state_label="Signed", toast="signed",
                 shot="34-provider-signs-the-visit")  # fmt: skip
        self.assertEqual(self.sandbox.note(arriving["id"])["state"]["code"], "SGN")
        self.browser.shot(page, "35-visit-signed")
        self.collect_tokens()
        self.sign_out(page)
        page.context.close()
        self.assertNoProblems()
        self.assertLogsHoldNoSecrets()

    def tab_to(self, page, selector: str, *, limit: int = 80):
        """Press Tab until the element matching `selector` has the focus (the keyboard only)."""
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("(s) => document.activeElement.matches(s)", selector):
                return
        self.fail(f"Tab never reached {selector}")

    def queue_shots(self, page, path: str, patient: str, count: int):
        """Screenshot the queue at 1280, 768 and 390 pixels: every row's buttons on screen."""
        for width, height, name in ((1280, 800, "51-queue"), (768, 1024, "51b-queue-tablet"),
                                    (390, 844, "51c-queue-phone")):  # fmt: skip
            view = self.browser.new_page(width=width, height=height)
            view.context.add_cookies(page.context.cookies())
            view.goto(self.url(path))
            rows = view.locator("table.worklist tbody tr")
            self.assertEqual(rows.count(), count)
            wide = view.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            self.assertLessEqual(wide, 0, f"{width}px: the page scrolls sideways")
            for index in range(count):
                button = rows.nth(index).locator(".actions .btn").first
                box = button.bounding_box()
                self.assertLessEqual(box["x"] + box["width"], width, f"{width}px row {index}")
            self.assertTrue(view.locator("#bulk-submit").is_visible())
            self.browser.shot(view, name)
            if width == 390:  # scrolled to the end: the bulk bar is still on screen
                view.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
                bar = view.locator("#bulk-submit").bounding_box()
                self.assertTrue(0 <= bar["y"] <= height - bar["height"], bar)
                self.browser.shot(view, "51d-queue-phone-scrolled")
            view.context.close()

    def test_4_provider_closes_the_day_with_the_keyboard(self):
        patient = "Dayclose"
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        notes = [
            self.sandbox.create_note(state="NEW", kind="encounter", patient=f"{patient} Amos",
                                     date="2026-11-20"),
            self.sandbox.create_note(state="LKD", kind="encounter", patient=f"{patient} Bea"),
            self.sandbox.create_note(state="PSH", kind="encounter", patient=f"{patient} Cy"),
            # Signed by the nurse practitioner whom `provider` supervises: a co-signature.
            self.sandbox.create_note(state="SGN", kind="encounter", provider="nurse",
                                     patient=f"{patient} Dee"),
            self.sandbox.create_note(state="NEW", kind="encounter", patient=f"{patient} Eve",
                                     date=tomorrow),
        ]  # fmt: skip
        page = self.browser.new_page(width=1280, height=800)
        self.sign_in(page, "provider")
        if page.get_by_role("link", name="Connect to Canvas").count():
            self.link(page, canvas_user="provider", shot_prefix="50")
        page.goto(self.url("/"))
        cards = page.locator(".count-card")
        self.assertIn("To sign", cards.first.inner_text())
        self.browser.shot(page, "50a-home-counts")

        path = f"/notes/?tab=to_sign&patient={patient}"
        page.goto(self.url(path))
        queue = page.locator("table.worklist tbody tr")
        self.assertEqual(queue.count(), 5)
        # Oldest first, with its age and the overdue mark; a later date is "Tomorrow".
        self.assertIn("Amos", queue.first.inner_text())
        self.assertIn("Overdue", queue.first.inner_text())
        self.assertIn("Tomorrow", queue.last.inner_text())
        self.assertNotIn("Overdue", queue.last.inner_text())
        self.assertRegex(page.locator("#worklist-tabs").inner_text(), r"To sign \d+")
        # One Sign per note as Canvas shows it; the co-sign row says who signed.
        for note in notes[:3]:
            buttons = self.row(page, note["id"]).locator(".actions .btn").all_inner_texts()
            self.assertEqual(buttons[0], "Sign", buttons)
            self.assertNotIn("Lock", buttons)
            self.assertNotIn("Lock & sign", buttons)
        cosign = self.row(page, notes[3]["id"])
        self.assertIn("awaits your co-signature", cosign.inner_text())
        self.assertEqual(cosign.locator(".actions .btn").first.inner_text(), "Co-sign")
        self.queue_shots(page, path, patient, 5)

        # Keyboard only: select the page, sign the selection, confirm.
        self.tab_to(page, "#select-page")
        page.keyboard.press("Space")
        self.assertEqual(page.locator('input[name="note"]:checked').count(), 5)
        self.assertIn("(5)", page.locator("#bulk-submit").inner_text())
        self.tab_to(page, "#bulk-submit")
        self.browser.shot(page, "52-queue-selected")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/notes/bulk/"))
        # Every chosen note is planned: open, locked, pushed, co-sign and tomorrow's.
        self.assertIn("Sign 5 notes?", page.locator("h1").inner_text())
        self.assertIn("4 to sign and 1 to co-sign", page.locator(".lead").inner_text())
        self.assertEqual(page.locator(".bulk-skipped").count(), 0)
        self.browser.shot(page, "53-bulk-confirm")
        page.keyboard.press("Enter")  # the confirmation's own button has the focus
        page.wait_for_url(re.compile(r"/notes/runs/\d+/$"))
        bar = page.locator("#run-bar")
        self.assertEqual(bar.get_attribute("role"), "progressbar")
        self.assertEqual(bar.get_attribute("aria-valuemax"), "5")
        self.browser.shot(page, "54-run-progress")
        page.locator("#run-count", has_text="5 of 5 done").wait_for(timeout=30_000)
        self.assertEqual(bar.get_attribute("aria-valuenow"), "5")
        self.assertIn("Signed 5", page.locator(".run-summary").inner_text())
        self.assertEqual(page.locator("#run-cancel button").count(), 0)
        self.browser.shot(page, "55-run-done")
        for note in notes:
            self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "SGN")
        # The co-signature is a second SGN in the note's history (the nurse's was the first).
        history = [h["state"] for h in self.sandbox.history(notes[3]["id"])]
        self.assertEqual(history[-2:], ["SGN", "SGN"])

        # Chosen again from the page still showing them: each is named with the reason
        # a read of Canvas shows (signed by me), none planned.
        page.goto(self.url("/notes/?tab=all&patient=Dayclose"))
        page.evaluate(
            """(ids) => {
              const f = document.createElement('form');
              f.method = 'post'; f.action = '/notes/bulk/';
              f.append(document.querySelector('[name=csrfmiddlewaretoken]').cloneNode());
              for (const id of ids) {
                const i = document.createElement('input');
                i.type = 'hidden'; i.name = 'note'; i.value = id; f.append(i);
              }
              document.body.append(f); f.submit();
            }""",
            [n["id"] for n in notes[:2]],
        )
        page.wait_for_url(re.compile(r"/notes/bulk/"))
        self.assertIn("Nothing to sign", page.locator("h1").inner_text())
        reasons = page.locator(".skip-reason").all_inner_texts()
        self.assertEqual(len(reasons), 2)
        for reason in reasons:
            self.assertIn("Already signed: Canvas shows your signature", reason)
        self.browser.shot(page, "55b-bulk-nothing-to-sign")

        # A slow Canvas: Cancel stops the notes that have not started.
        self.sandbox.set_faults(latency_ms=2500)
        slow = [
            self.sandbox.create_note(state="LKD", kind="encounter", patient=f"Slowday {i}")
            for i in range(6)
        ]
        page.goto(self.url("/notes/?tab=to_sign&patient=Slowday"))
        page.get_by_role("button", name=re.compile(r"Sign all \d+ in this queue")).wait_for()
        page.locator("#select-page").check()
        page.locator("#bulk-submit").click()
        page.get_by_role("button", name="Sign 6 notes").click()
        page.wait_for_url(re.compile(r"/notes/runs/\d+/$"))
        page.get_by_role("button", name="Cancel the rest").click()
        page.locator("#run-count", has_text="6 of 6 done").wait_for(timeout=30_000)
        summary = page.locator(".run-summary").inner_text()
        self.assertIn("Not started 2", summary)
        self.assertIn("Signed 4", summary)
        self.browser.shot(page, "56-run-cancelled")
        self.sandbox.reset_faults()
        states = sorted(self.sandbox.note(n["id"])["state"]["code"] for n in slow)
        self.assertEqual(states, ["LKD", "LKD", "SGN", "SGN", "SGN", "SGN"])

        page.goto(self.url("/notes/runs/"))
        self.assertEqual(page.locator("tbody tr").count(), 2)
        self.assertIn("Cancelled", page.locator("tbody tr").first.inner_text())
        self.browser.shot(page, "57-my-runs")
        page.context.close()
        self.assertNoProblems()

    def test_5_provider_reads_a_note_before_signing_it(self):
        """Open a row's content in the queue, read it, sign it; a note with a staged
        command is flagged, left out of a run with its reason, and shown on the run page."""
        patient = "Readfirst"
        read = self.sandbox.create_note(state="LKD", kind="encounter", patient=f"{patient} Ada")
        staged = self.sandbox.create_note(state="LKD", kind="encounter", patient=f"{patient} Ben")
        clean = self.sandbox.create_note(state="LKD", kind="encounter", patient=f"{patient} Cy")
        box = self.sandbox
        box.add_command(read["id"], "reasonForVisit", data={"coding": {"text": "Cough"}})
        box.add_command(read["id"], "hpi", data={"narrative": "Dry cough for 3 days."})
        box.add_command(read["id"], "diagnose", data={"diagnose": {"text": "Asthma"}},
                        state="entered_in_error")  # fmt: skip
        box.add_command(read["id"], "plan", data={"narrative": "Fluids and rest."})
        box.add_command(staged["id"], "hpi", data={"narrative": "Knee pain."})
        box.add_command(staged["id"], "plan", data={"narrative": "X-ray"}, state="staged")
        box.add_command(clean["id"], "plan", data={"narrative": "Rest."})
        page = self.browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        self.sign_in(page, "provider")
        if page.get_by_role("link", name="Connect to Canvas").count():
            self.link(page, canvas_user="provider", shot_prefix="60")
        page.goto(self.url(f"/notes/?tab=to_sign&patient={patient}"))
        self.assertEqual(page.locator("table.worklist tbody tr").count(), 3)

        # The keyboard opens a row's content in place (one read, on demand).
        row = self.row(page, read["id"])
        row.locator("summary").focus()
        page.keyboard.press("Enter")
        content = row.locator(f"#content-{read['id']}")
        content.get_by_text("Dry cough for 3 days.").wait_for()
        labels = content.locator(".command-label").all_inner_texts()
        self.assertEqual(
            labels, ["Reason for visit", "History of present illness", "Diagnose", "Plan"]
        )
        self.assertIn("Asthma", content.locator("del").inner_text())
        self.browser.check_accessibility(page, "queue content opened")
        self.browser.shot(page, "60-queue-content-open")

        flag = self.row(page, staged["id"]).locator(".badge-staged")
        self.assertEqual(flag.inner_text(), "1 command not committed")
        self.act(page, read["id"], "Sign", state_label="Signed", toast="Note signed.")
        self.browser.shot(page, "61-read-then-signed")

        # The note page shows the same content, in order, above the actions.
        page.goto(self.url(f"/notes/{staged['id']}/"))
        section = page.locator(f"#note-content-{staged['id']}")
        self.assertEqual(
            section.locator(".command-label").all_inner_texts(),
            ["History of present illness", "Plan"],
        )
        self.assertEqual(section.locator(".badge-staged").inner_text(), "Not committed")
        self.browser.shot(page, "61b-note-page-content")

        # Close the day: the staged note is left out, with its reason.
        page.goto(self.url(f"/notes/?tab=to_sign&patient={patient}"))
        page.locator("#select-page").check()
        page.locator("#bulk-submit").click()
        page.wait_for_url(re.compile(r"/notes/bulk/"))
        self.assertIn("Sign 1 note?", page.locator("h1").inner_text())
        self.assertIn("left out", page.locator(".bulk-confirm").inner_text())
        question_row = page.locator("tr", has_text=f"{patient} Ben")
        question_row.locator("summary").click()
        question_row.locator(".badge", has_text="Not committed").wait_for()
        self.browser.check_accessibility(page, "bulk question content opened")
        self.browser.shot(page, "62-bulk-question-content")
        page.get_by_role("button", name="Sign 1 note").click()
        page.wait_for_url(re.compile(r"/notes/runs/\d+/$"))
        page.locator("#run-count", has_text="2 of 2 done").wait_for(timeout=20_000)
        summary = page.locator(".run-summary").inner_text()
        self.assertIn("Signed 1", summary)
        self.assertIn("Not started 1", summary)
        self.assertIn("1 command not committed in Canvas", page.locator(".run-items").inner_text())
        self.browser.shot(page, "63-run-left-out")
        self.assertEqual(self.sandbox.note(clean["id"])["state"]["code"], "SGN")
        self.assertEqual(self.sandbox.note(staged["id"])["state"]["code"], "LKD")
        page.context.close()
        self.assertNoProblems()

    def test_3_server_logs_hold_no_tokens_codes_or_verifiers(self):
        if not (self.codes and self.verifiers and self.tokens):
            # Run on its own: do one link to have something to look for.
            page = self.browser.new_page()
            self.sign_in(page, "provider")
            self.link(page, canvas_user="provider", shot_prefix="40")
            page.context.close()
        self.collect_tokens()
        self.assertTrue(self.codes, "no authorization code was seen")
        self.assertTrue(self.verifiers, "no PKCE verifier was seen")
        self.assertTrue(self.tokens, "no token was issued")
        self.assertLogsHoldNoSecrets()

    def assertLogsHoldNoSecrets(self):
        secrets_ = {
            **{t: "token" for t in self.tokens},
            **{c: "authorization code" for c in self.codes},
            **{v: "PKCE verifier" for v in self.verifiers},
        }
        logs = self.servers.logs()
        self.assertTrue(logs["portal"].strip(), "the portal logged nothing at all")
        for name, text in logs.items():
            for secret, kind in secrets_.items():
                if len(secret) >= 16 and secret in text:
                    line = next(line for line in text.splitlines() if secret in line)
                    self.fail(f"the {name} log holds a {kind}: {line[:200]}")
