"""Structured logs: one JSON object a line, tagged with the request, never a secret.

Nor a note's content: the secrecy test also looks for it in the database and the caches.
"""

import io
import json
import logging
import uuid

from django.test import SimpleTestCase, TestCase, override_settings

from observability.context import LogContextFilter, log_context
from portal.logging import JsonFormatter, StripQueryStringFilter
from tests.factories import PASSWORD, make_connection, make_user
from tests.helpers import (
    API,
    SETTINGS,
    CanvasMockMixin,
    accepted,
    cache_dump,
    database_dump,
    ensure_groups,
    summary,
)


class CapturedLogs:
    """Send every record to a JSON handler wired as settings.LOGGING wires it."""

    def __init__(self, test):
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(StripQueryStringFilter())
        handler.addFilter(LogContextFilter())
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        test.addCleanup(root.setLevel, old_level)
        test.addCleanup(root.removeHandler, handler)

    def lines(self):
        return [line for line in self.stream.getvalue().splitlines() if line]


class JsonFormatterTests(SimpleTestCase):
    def test_a_line_is_one_json_object_with_the_context(self):
        logs = CapturedLogs(self)
        log = logging.getLogger("tests.portal.json")
        with log_context(request_id="req-0123456789", user_id=7):
            log.warning('Quote " and\nnewline %s', "arg")
            try:
                raise ValueError("boom")
            except ValueError:
                log.exception("failed")
        log.info("outside")
        first, second, outside = (json.loads(line) for line in logs.lines())
        self.assertEqual(first["message"], 'Quote " and\nnewline arg')
        self.assertEqual(first["level"], "WARNING")
        self.assertEqual(first["logger"], "tests.portal.json")
        self.assertEqual((first["request_id"], first["user_id"]), ("req-0123456789", 7))
        self.assertIn("ValueError: boom", second["exception"])
        self.assertIsNone(outside["request_id"])
        self.assertIsNone(outside["user_id"])

    def test_a_query_string_never_reaches_the_line(self):
        logs = CapturedLogs(self)
        logging.getLogger("tests.portal.server").info(
            '"GET /canvas/callback/?code=SECRET HTTP/1.1" 302'
        )
        self.assertNotIn("SECRET", logs.lines()[0])


#: What the note says: its content, read from Canvas, shown, never logged, stored or cached.
NARRATIVE = "Crushing substernal pain at 3 am, radiating to the jaw"


def content_body(note_id):
    """Return a plugin API content answer: an HPI with NARRATIVE and a prescription."""

    def command(key, label, summary):
        return {"id": str(uuid.uuid4()), "schema_key": key, "label": label,
                "state": "committed", "entered_by": "Dr. Provider",
                "at": "2026-11-27T15:31:00+00:00", "summary": summary}  # fmt: skip

    return {
        "note_id": str(note_id),
        "commands": [
            command("hpi", "History of present illness", NARRATIVE),
            command("prescribe", "Prescribe", "Nitroglycerin 0.4 mg sublingual; prn"),
        ],
        "staged": 0,
    }


@override_settings(**SETTINGS)
class RequestLogLinesTests(CanvasMockMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        make_connection(cls.provider, access_token="at-logged-secret-token")

    def test_every_line_of_a_request_carries_its_id_and_user_and_no_secret(self):
        note_id = uuid.uuid4()
        self.rsps.get(
            f"{API}notes/{note_id}",
            json=summary(note_id, title="Ada's biopsy results"),
        )
        content = content_body(note_id)
        self.rsps.get(f"{API}notes/{note_id}/content", json=content)
        self.rsps.post(f"{API}notes/{note_id}/sign", status=202, json=accepted(note_id, "sign"))
        self.client.login(username="provider", password=PASSWORD)
        logs = CapturedLogs(self)
        page = self.client.get(f"/notes/{note_id}/")
        disclosure = self.client.get(f"/notes/{note_id}/content/", HTTP_HX_REQUEST="true")
        action = self.client.post(
            f"/notes/{note_id}/sign/", {"view": "row"}, HTTP_HX_REQUEST="true"
        )
        self.client.post(
            "/accounts/login/", {"username": "provider", "password": "wrong-password-secret"}
        )
        # The content was read and shown, on pages no cache may keep.
        for shown in (page, disclosure):
            self.assertContains(shown, NARRATIVE)
            self.assertIn("no-store", shown["Cache-Control"])
        lines = [json.loads(line) for line in logs.lines()]
        self.assertTrue(lines)
        ids = {page["X-Request-ID"], disclosure["X-Request-ID"], action["X-Request-ID"]}
        tagged = [line for line in lines if line["request_id"] in ids]
        self.assertTrue(any("Canvas POST" in line["message"] for line in tagged), lines)
        self.assertTrue(any("/content" in line["message"] for line in tagged), lines)
        for line in tagged:
            self.assertEqual(line["user_id"], self.provider.pk, line)
        summaries = [c["summary"] for c in content["commands"]]
        secrets = ["at-logged-secret-token", "wrong-password-secret", "Ada Lovelace", "biopsy"]
        for line in lines:
            with self.subTest(line=line["message"]):
                self.assertIsNotNone(line["request_id"])
                text = json.dumps(line)
                for secret in [*secrets, *summaries]:
                    self.assertNotIn(secret, text)
        # The content is not stored at all (no audit row, no session, no task), nor cached.
        stored = {"the database": database_dump(), "a cache": cache_dump()}
        for where, text in stored.items():
            for value in summaries:
                with self.subTest(where=where, value=value):
                    self.assertNotIn(value, text)


class LogFormatSettingTests(SimpleTestCase):
    def test_json_format_writes_json_lines_and_a_bad_format_is_refused(self):
        from tests.portal.test_settings import run_manage

        result = run_manage(
            "shell",
            "-c",
            "import logging; logging.getLogger('portal.x').warning('hello %s', 1)",
            DJANGO_DEBUG="true",
            DJANGO_LOG_FORMAT="json",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        line = json.loads(result.stderr.strip().splitlines()[-1])
        self.assertEqual((line["message"], line["logger"]), ("hello 1", "portal.x"))
        result = run_manage("check", DJANGO_DEBUG="true", DJANGO_LOG_FORMAT="xml")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DJANGO_LOG_FORMAT", result.stderr)
