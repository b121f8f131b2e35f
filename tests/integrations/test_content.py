"""GET /notes/<id>/content through the plugin client (`responses`), and against the sandbox."""

from datetime import UTC, datetime

from django.test import SimpleTestCase, override_settings
from responses import matchers

from integrations.canvas import exceptions
from integrations.canvas.content import CommandState, content_parse
from integrations.canvas.plugin import PluginClient
from tests.helpers import CanvasMockMixin, summary
from tests.live import sandbox

BASE = "https://canvas.test/plugin-io/api/note_sign_api/"
NOTE_ID = "3f2b7c1e-8d4a-4e0b-9c5f-1a2b3c4d5e6f"


def command(state="committed", **extra):
    return {
        "id": "c1",
        "schema_key": "plan",
        "label": "Plan",
        "state": state,
        "entered_by": "Dr. A",
        "at": "2026-11-27T15:31:00+00:00",
        "summary": "Rest",
        **extra,
    }


@override_settings(CANVAS_BASE_URL="https://canvas.test/", CANVAS_PLUGIN_NAME="note_sign_api")
class NoteContentClientTests(CanvasMockMixin, SimpleTestCase):
    def test_one_get_with_the_token_parsed(self):
        call = self.rsps.get(
            f"{BASE}notes/{NOTE_ID}/content",
            json={"note_id": NOTE_ID, "commands": [command(), command("staged")], "staged": 1},
            match=[matchers.header_matcher({"Authorization": "Bearer at-1"})],
        )
        content = PluginClient().note_content(access_token="at-1", note_id=NOTE_ID)
        self.assertEqual(call.call_count, 1)
        self.assertEqual(content["note_id"], NOTE_ID)
        self.assertEqual(content["staged"], 1)
        first = content["commands"][0]
        self.assertEqual(first["at"], datetime(2026, 11, 27, 15, 31, tzinfo=UTC))
        self.assertEqual(
            (first["state"], first["staged"], first["in_error"]), ("committed", False, False)
        )
        self.assertEqual(content["commands"][1]["state"], CommandState.STAGED)

    def test_404_is_note_not_found(self):
        self.rsps.get(
            f"{BASE}notes/{NOTE_ID}/content",
            status=404,
            json={"error": {"code": "note_not_found", "message": "No note has this id."}},
        )
        with self.assertRaises(exceptions.NoteNotFound):
            PluginClient().note_content(access_token="at-1", note_id=NOTE_ID)


class ContentParseTests(SimpleTestCase):
    def test_odd_values_are_tolerated_or_refused(self):
        parsed = content_parse(
            {
                "note_id": NOTE_ID.upper(),
                "commands": [
                    command("retracted", label="", schema_key="x"),
                    command("entered_in_error", summary="s" * 500, entered_by=None, at="nope"),
                ],
            }
        )
        unknown, in_error = parsed["commands"]
        # A state the portal does not know is shown as not committed, never as settled.
        self.assertEqual((unknown["state"], unknown["label"]), (CommandState.STAGED, "x"))
        self.assertEqual(parsed["staged"], 1)
        self.assertTrue(in_error["in_error"])
        self.assertEqual(len(in_error["summary"]), 200)
        self.assertEqual((in_error["entered_by"], in_error["at"]), ("", None))
        self.assertEqual(parsed["note_id"], NOTE_ID)
        for bad in (None, [], {"note_id": NOTE_ID}, {"note_id": "x", "commands": []},
                    {"note_id": NOTE_ID, "commands": ["x"]}):  # fmt: skip
            with self.subTest(bad=bad), self.assertRaises(exceptions.CanvasUnavailable):
                content_parse(bad)

    def test_summaries_carry_the_staged_count(self):
        from integrations.canvas.notes import summary_parse

        self.assertEqual(summary_parse(summary(staged_commands=3))["staged_commands"], 3)
        self.assertEqual(summary_parse(summary())["staged_commands"], 0)
        self.assertEqual(summary_parse(summary(staged_commands="2"))["staged_commands"], 0)


class NoteContentSandboxTests(SimpleTestCase):
    """The client against the sandbox's real endpoint: the same shapes end to end."""

    def test_content_and_staged_count_from_the_sandbox(self):
        box = sandbox()
        token = box.issue_tokens("provider")["access_token"]
        note = box.create_note(state="LKD", kind="encounter")
        box.add_command(note["id"], "hpi", data={"narrative": "Cough"})
        box.add_command(note["id"], "plan", data={"narrative": "Rest"}, state="staged")
        with override_settings(CANVAS_BASE_URL=box.url("/"), CANVAS_PLUGIN_NAME="note_sign_api"):
            client = PluginClient()
            content = client.note_content(access_token=token, note_id=note["id"])
            detail = client.note_get(access_token=token, note_id=note["id"])
        self.assertEqual(
            [(c["label"], c["summary"], c["state"]) for c in content["commands"]],
            [("History of present illness", "Cough", "committed"), ("Plan", "Rest", "staged")],
        )
        self.assertEqual(detail["staged_commands"], 1)
