"""The sandbox's GET /notes/<id>/content and staged_commands over HTTP, and its control API."""

import uuid

from django.test import SimpleTestCase

from tests.live import SandboxError, sandbox
from tests.plugin_modules import plugin_module

content_cases = plugin_module("tests.content_cases")


class NoteContentTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        cls.note = cls.sandbox.create_note(state="NEW", kind="encounter")
        note_id = cls.note["id"]
        cls.sandbox.add_command(
            note_id, "reasonForVisit", data={"coding": {"text": "Cough"}, "comment": "3 days"}
        )
        cls.sandbox.add_command(
            note_id, "vitals", data={"pulse": 71}, state="staged", originator="nurse"
        )
        cls.sandbox.add_command(
            note_id, "diagnose", data={"diagnose": {"text": "Asthma"}}, state="entered_in_error"
        )
        cls.sandbox.add_command(note_id, "familyHistory", data={"x": 1})

    def get(self, note_id, token=None):
        return self.sandbox.api("GET", f"/notes/{note_id}/content", token=token or self.token)

    def test_commands_in_order_with_states_labels_and_the_fallback(self):
        response = self.get(self.note["id"])
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.headers["Cache-Control"], "no-store")
        body = response.json()
        self.assertEqual(body["note_id"], self.note["id"])
        self.assertEqual(body["staged"], 1)
        self.assertEqual(
            [
                (c["schema_key"], c["label"], c["state"], c["entered_by"], c["summary"])
                for c in body["commands"]
            ],
            [
                ("reasonForVisit", "Reason for visit", "committed", "Riley Chen", "Cough; 3 days"),
                ("vitals", "Vitals", "staged", "Avery Brooks", "pulse 71"),
                ("diagnose", "Diagnose", "entered_in_error", "Riley Chen", "Asthma"),
                ("familyHistory", "Family history", "committed", "Riley Chen", "details in Canvas"),
            ],
        )
        for command in body["commands"]:
            self.assertEqual(
                set(command),
                {"id", "schema_key", "label", "state", "entered_by", "at", "summary"},
            )
        self.assertEqual(body, self.sandbox.content(self.note["id"]))

    def test_errors_follow_the_note_read(self):
        # The other helper's visibility rule turns a note the caller may not see into
        # a 404 on GET /notes/<id>; this route reads the note the same way.
        for note_id, status in [("nope", 400), (str(uuid.uuid4()), 404)]:
            with self.subTest(note_id=note_id):
                content = self.get(note_id)
                detail = self.sandbox.api("GET", f"/notes/{note_id}", token=self.token)
                self.assertEqual(content.status_code, status)
                self.assertEqual(content.json(), detail.json())
        self.assertEqual(
            self.sandbox.api("GET", f"/notes/{self.note['id']}/content").status_code, 401
        )

    def test_a_note_the_caller_may_not_see_answers_as_no_note(self):
        # The provider's real note, with content, read by staff with no tie to it (a
        # locum physician; the front desk, for a visit note): the same answer, byte for
        # byte, as an id no note has.
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        narrative = f"Marathon chest tightness {uuid.uuid4().hex[:8]}; ECG ordered"
        self.sandbox.add_command(note["id"], "hpi", data={"narrative": narrative})
        shown = self.get(note["id"]).json()["commands"]  # the provider's own note: theirs to read
        self.assertEqual([c["summary"] for c in shown], [narrative])
        for username in ("locum", "frontdesk"):
            token = self.sandbox.issue_tokens(username)["access_token"]
            with self.subTest(caller=username):
                absent = self.get(str(uuid.uuid4()), token=token)
                content = self.get(note["id"], token=token)
                self.assertEqual(content.status_code, 404, content.text)
                self.assertEqual(
                    (content.status_code, content.headers["Content-Type"], content.content),
                    (absent.status_code, absent.headers["Content-Type"], absent.content),
                )
                self.assertNotIn(narrative, content.text)

    def test_summaries_carry_the_staged_count(self):
        detail = self.sandbox.api("GET", f"/notes/{self.note['id']}", token=self.token).json()
        self.assertEqual(detail["staged_commands"], 1)
        listed = self.sandbox.api(
            "GET", "/notes", token=self.token, params={"provider": "me", "limit": "100"}
        ).json()["notes"]
        counts = {n["id"]: n["staged_commands"] for n in listed}
        self.assertEqual(counts[self.note["id"]], 1)
        self.assertTrue(all(isinstance(n, int) for n in counts.values()))

    def test_control_refuses_odd_commands(self):
        for body in (
            {"schema_key": ""},
            {"schema_key": "plan", "state": "deleted"},
            {"schema_key": "plan", "data": [1]},
            {"schema_key": "plan", "originator": "nobody"},
        ):
            with self.subTest(body=body), self.assertRaises(SandboxError):
                self.sandbox.control("POST", f"notes/{self.note['id']}/commands", body)

    def test_the_seed_gives_visit_notes_content(self):
        # The whole clinic's seed, not only this provider's notes (contract v3's visibility).
        self.sandbox.set_plugin_variables(visibility="all")
        self.addCleanup(self.sandbox.set_plugin_variables, visibility=None)
        listed = self.sandbox.api(
            "GET",
            "/notes",
            token=self.token,
            params={"category": "encounter", "limit": "100", "order": "oldest"},
        ).json()["notes"]
        # Other tests' notes share this sandbox (mostly dated now: oldest first finds the
        # seed's); only seeded ones have content of their own.
        contents = [self.sandbox.content(n["id"]) for n in listed if n["id"] != self.note["id"]]
        contents = [c for c in contents if c["commands"]]
        self.assertGreaterEqual(len(contents), 10)
        keys = {c["schema_key"] for content in contents for c in content["commands"]}
        self.assertLessEqual({"reasonForVisit", "hpi", "vitals", "plan", "prescribe"}, keys)
        states = [c["state"] for content in contents for c in content["commands"]]
        self.assertIn("staged", states)
        self.assertIn("entered_in_error", states)
        # Seeding again adds nothing.
        again = self.sandbox.run_command("seed")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn(" 0 commands added", again.stdout)
        self.assertEqual(self.sandbox.content(contents[0]["note_id"]), contents[0])


class ContentCasesTests(SimpleTestCase):
    """Every row of canvas_plugin/tests/content_cases.py, over HTTP: the plugin's answers."""

    def test_the_shared_cases(self):
        box = sandbox()
        token = box.issue_tokens("provider")["access_token"]
        note = box.create_note(state="LKD", kind="encounter")
        for key, data, state, _label, _summary in content_cases.CASES:
            box.add_command(note["id"], key, data=data, state=state)
        body = box.api("GET", f"/notes/{note['id']}/content", token=token).json()
        self.assertEqual(
            [(c["schema_key"], c["state"], c["label"], c["summary"]) for c in body["commands"]],
            [(key, state, label, text) for key, _d, state, label, text in content_cases.CASES],
        )
        self.assertEqual(body["staged"], 2)
