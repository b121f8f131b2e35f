"""Every call to Canvas is timed under its route template, never an id."""

import uuid

import requests
import responses
from django.test import SimpleTestCase
from prometheus_client import REGISTRY

from integrations.canvas import http
from observability import metrics

BASE = "https://canvas.example.com/plugin-io/api/note_sign_api/"


def _count(**labels):
    return REGISTRY.get_sample_value("portal_canvas_request_seconds_count", labels) or 0


class EndpointTemplateTests(SimpleTestCase):
    def test_ids_become_placeholders(self):
        note = uuid.uuid4()
        cases = {
            f"{BASE}notes/{note}/sign": "/plugin-io/api/note_sign_api/notes/{id}/sign",
            f"{BASE}notes/{note}/history?since=2025-01-01": (
                "/plugin-io/api/note_sign_api/notes/{id}/history"
            ),
            f"{BASE}notes?patient=Jane+Doe": "/plugin-io/api/note_sign_api/notes",
            "https://canvas.example.com/auth/token/": "/auth/token/",
            "https://canvas.example.com/api/Patient/12345": "/api/Patient/{id}",
            "https://canvas.example.com/x/" + "a" * 60: "/x/{id}",
        }
        for url, expected in cases.items():
            with self.subTest(url=url):
                self.assertEqual(http.endpoint_template(url), expected)


class CanvasLatencyTests(SimpleTestCase):
    @responses.activate
    def test_an_answered_call_is_timed_by_template_method_and_status(self):
        note = uuid.uuid4()
        labels = {
            "endpoint": "/plugin-io/api/note_sign_api/notes/{id}",
            "method": "GET",
            "status": "404",
        }
        before = _count(**labels)
        responses.get(f"{BASE}notes/{note}", status=404, json={})
        http.request("GET", f"{BASE}notes/{note}", session=http.session_build())
        self.assertEqual(_count(**labels), before + 1)

    @responses.activate
    def test_a_call_without_an_answer_is_timed_too(self):
        labels = {"endpoint": "/auth/token/", "method": "POST", "status": "no_answer"}
        before = _count(**labels)
        responses.post(
            "https://canvas.example.com/auth/token/", body=requests.ConnectionError("refused")
        )
        with self.assertRaises(http.TransportError):
            http.request(
                "POST", "https://canvas.example.com/auth/token/", session=http.session_build()
            )
        self.assertEqual(_count(**labels), before + 1)


class LabelTests(SimpleTestCase):
    def test_a_label_that_is_not_a_code_becomes_other(self):
        for value, expected in [
            ("sign", "sign"),
            ("not_applied", "not_applied"),
            (str(uuid.uuid4()), "other"),
            ("42", "other"),
            ("Jane Doe", "other"),
            ("x" * 41, "other"),
        ]:
            with self.subTest(value=value):
                self.assertEqual(metrics._label(value), expected)
