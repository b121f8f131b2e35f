"""The Canvas Application's on_open and the /app launcher page it opens."""

import json

from canvas_generated.messages.effects_pb2 import EffectType
from canvas_sdk.events import Event, EventRequest
from canvas_sdk.events import EventType as Events
from canvas_sdk.v1.data.application import Application as InstalledApplication
from django.test import TestCase
from note_sign_api.handlers.api import NoteApi as PortalApi
from note_sign_api.handlers.application import (
    NoteSignApplication,
    PortalLauncher,
    portal_url_from,
)

from .helpers import bearer, call, make_note, make_staff, plugin_templates

STAFF_SESSION = {"canvas-logged-in-user-type": "Staff", "canvas-logged-in-user-id": "abc123"}
APPLICATION_ID = "note_sign_api.handlers.application:NoteSignApplication"


class ApplicationTests(TestCase):
    application = NoteSignApplication

    def open_event(self, target: str = APPLICATION_ID) -> Event:
        return Event(EventRequest(type=Events.APPLICATION__ON_OPEN, target=target, context="{}"))

    def test_on_open_launches_the_launcher_in_a_new_window(self):
        effects = self.application(self.open_event()).compute()
        self.assertEqual(len(effects), 1)
        self.assertEqual(effects[0].type, EffectType.LAUNCH_MODAL)
        payload = json.loads(effects[0].payload)["data"]
        self.assertEqual(payload["url"], "/plugin-io/api/note_sign_api/app")
        self.assertEqual(payload["target"], "new_window")
        self.assertIsNone(payload["content"])

    def test_other_applications_events_are_ignored(self):
        self.assertEqual(self.application(self.open_event("other:App")).compute(), [])


class NotificationBadgeTests(TestCase):
    """The application's badge: the staff member's to-sign count, as GET /notes/counts says."""

    @classmethod
    def setUpTestData(cls):
        cls.me = make_staff(first_name="Riley", last_name="Chen")
        cls.other = make_staff(first_name="Drew", last_name="Vance")
        make_note(state="NEW", provider=cls.me)  # lock & sign
        make_note(state="LKD", provider=cls.me)  # sign
        make_note(state="SGN", provider=cls.me, by=cls.me)  # done
        make_note(state="BKD", kind="appointment", provider=cls.me)  # never signed
        make_note(state="LKD", provider=cls.other)  # not theirs
        # Canvas registers the installed plugin's application (the badge effect checks it).
        InstalledApplication.objects.create(
            identifier=APPLICATION_ID, name="Note Portal", description="Opens the portal"
        )

    def badge(self, staff_id, *, secrets=None, target: str = APPLICATION_ID):
        context = json.dumps({"staff": {"id": staff_id}} if staff_id is not None else {})
        request = EventRequest(
            type=Events.APPLICATION__GET_NOTIFICATION_BADGE, target=target, context=context
        )
        return NoteSignApplication(Event(request), secrets=secrets or {}).compute()

    def count(self, effects) -> int:
        self.assertEqual(len(effects), 1)
        self.assertEqual(effects[0].type, EffectType.SET_APPLICATION_NOTIFICATION_BADGE)
        return json.loads(effects[0].payload)["data"]["count"]

    def test_the_badge_is_the_to_sign_count(self):
        effects = self.badge(self.me.id)
        self.assertEqual(self.count(effects), 2)
        self.assertEqual(json.loads(effects[0].payload)["data"]["staff_ids"], [str(self.me.id)])
        reply = call(PortalApi, path="/notes/counts", **bearer(self.me))
        self.assertEqual(reply.json()["to_sign"], 2)
        self.assertEqual(self.count(self.badge(self.other.id)), 1)

    def test_no_badge_without_an_active_staff_member(self):
        self.assertEqual(self.badge(None), [])
        self.assertEqual(self.badge("no-such-staff"), [])
        self.assertEqual(self.badge(self.me.id, target="other:App"), [])


class LauncherPageTests(TestCase):
    launcher = PortalLauncher
    templates = staticmethod(plugin_templates)

    def get(self, *, secrets=None, headers=STAFF_SESSION):
        with self.templates():
            return call(self.launcher, path="/app", headers=headers, secrets=secrets)

    def test_links_to_the_configured_portal(self):
        reply = self.get(secrets={"portal_url": "https://notes.example-clinic.com/"})
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.headers["Content-Type"], "text/html")
        self.assertEqual(reply.headers["Cache-Control"], "no-store")
        page = reply.raw.decode()
        self.assertIn('href="https://notes.example-clinic.com/"', page)
        self.assertIn("Open the Note Portal", page)
        self.assertNotIn("not configured", page)

    def test_says_when_portal_url_is_missing(self):
        for secrets in (None, {}, {"portal_url": ""}, {"portal_url": "   "}):
            with self.subTest(secrets=secrets):
                reply = self.get(secrets=secrets)
                self.assertEqual(reply.status, 200)
                page = reply.raw.decode()
                self.assertIn("The Note Portal is not configured yet.", page)
                self.assertNotIn("href=", page)

    def test_refuses_unsafe_urls(self):
        for url in (
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://notes.example.com/",
            "//evil.example",
            "notes.example.com",
            "https://user:pw@evil.example/",
            "https://exa mple.com/",
            "https://example.com/\n<script>",
        ):
            with self.subTest(url=url):
                reply = self.get(secrets={"portal_url": url})
                page = reply.raw.decode()
                self.assertIn("The Note Portal address is not valid.", page)
                self.assertNotIn("href=", page)
                self.assertNotIn("<script>", page)

    def test_escapes_the_url(self):
        url = 'https://notes.example.com/?a=1&b="><script>alert(1)</script>'
        page = self.get(secrets={"portal_url": url}).raw.decode()
        self.assertNotIn("<script>alert(1)", page)
        self.assertIn("&amp;b=&quot;&gt;&lt;script&gt;", page)

    def test_only_a_staff_session_gets_the_page(self):
        cases = [
            ({}, 401, "unauthenticated"),
            ({"canvas-logged-in-user-type": "Staff"}, 401, "unauthenticated"),
            ({"Authorization": "Bearer t"}, 401, "unauthenticated"),
            (
                {"canvas-logged-in-user-type": "Patient", "canvas-logged-in-user-id": "p1"},
                403,
                "forbidden",
            ),
        ]
        for headers, status, code in cases:
            with self.subTest(headers=headers):
                reply = self.get(secrets={"portal_url": "https://x.example/"}, headers=headers)
                self.assertEqual(reply.passes, 1)
                self.assertEqual(reply.status, status)
                self.assertEqual(reply.json()["error"]["code"], code)
                self.assertNotIn(b"x.example", reply.raw)


class PortalUrlTests(TestCase):
    def test_accepts_http_and_https_only(self):
        self.assertEqual(
            portal_url_from({"portal_url": " http://127.0.0.1:8000/ "}), "http://127.0.0.1:8000/"
        )
        self.assertEqual(
            portal_url_from({"portal_url": "HTTPS://Notes.example"}), "HTTPS://Notes.example"
        )
        self.assertIsNone(portal_url_from({"portal_url": "https://" + "a" * 3000}))
        self.assertIsNone(portal_url_from({"portal_url": "https://"}))
        self.assertIsNone(portal_url_from({}))
