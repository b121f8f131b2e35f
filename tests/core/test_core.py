"""core/: the error base every app error extends, safe local URLs, toasts."""

import json

from django.http import HttpResponse
from django.test import RequestFactory, SimpleTestCase, override_settings

from canvas_oauth.exceptions import NotConnected
from core.exceptions import PortalError
from core.toasts import Level, toast
from core.urls import safe_local_path, safe_local_url
from integrations.canvas.exceptions import CanvasError
from notes.exceptions import AlreadyInProgress, BulkPlanLimited


class PortalErrorTests(SimpleTestCase):
    def test_every_app_error_extends_it_and_carries_a_sentence_and_a_level(self):
        for error in (CanvasError(), NotConnected(), AlreadyInProgress(), BulkPlanLimited()):
            with self.subTest(error=type(error).__name__):
                self.assertIsInstance(error, PortalError)
                self.assertTrue(error.message.endswith("."))
                self.assertIn(error.level, list(Level))
        self.assertEqual(AlreadyInProgress().level, Level.WARNING)
        self.assertEqual(CanvasError().level, Level.ERROR)
        self.assertEqual(PortalError("Say this.", code="x").code, "x")


@override_settings(ALLOWED_HOSTS=["portal.test"])
class SafeLocalUrlTests(SimpleTestCase):
    def setUp(self):
        self.request = RequestFactory().get("/", HTTP_HOST="portal.test")

    def test_local_paths_and_our_host_pass(self):
        for url in ("/notes/?tab=to_sign", "http://portal.test/notes/"):
            with self.subTest(url=url):
                self.assertEqual(safe_local_url(self.request, url), url)

    def test_other_hosts_and_schemes_fall_back(self):
        for url in (
            "https://evil.test/",
            "//evil.test/",
            "javascript:alert(1)",
            "/\\evil.test",
            "",
            None,
        ):
            with self.subTest(url=url):
                self.assertEqual(safe_local_url(self.request, url, fallback="/home/"), "/home/")

    def test_https_pages_refuse_an_http_target(self):
        request = RequestFactory().get("/", HTTP_HOST="portal.test", secure=True)
        self.assertEqual(safe_local_url(request, "http://portal.test/notes/"), "")

    def test_path_keeps_path_and_query_only(self):
        url = "http://portal.test/notes/?tab=open#row"
        self.assertEqual(safe_local_path(self.request, url), "/notes/?tab=open")
        self.assertEqual(safe_local_path(self.request, "https://evil.test/notes/"), "")
        self.assertEqual(safe_local_path(self.request, "notes/"), "")


class ToastTests(SimpleTestCase):
    def test_the_event_the_page_listens_for(self):
        response = toast(HttpResponse(), "Note signed.", Level.SUCCESS)
        self.assertEqual(
            json.loads(response["HX-Trigger"]),
            {"toast": {"message": "Note signed.", "level": "success"}},
        )
        link = {"href": "/notes/x/", "text": "Open the note"}
        response = toast(HttpResponse(), "Not applied.", Level.ERROR, link=link)
        self.assertEqual(json.loads(response["HX-Trigger"])["toast"]["link"], link)
