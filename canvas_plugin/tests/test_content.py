"""GET /notes/<id>/content (contract v3), staged_commands in summaries, and each summariser."""

import datetime as dt
import uuid

from django.db import connection
from django.test import SimpleTestCase, TestCase
from django.test.utils import CaptureQueriesContext
from note_sign_api import content
from note_sign_api.handlers.api import NoteApi

from . import content_cases
from .helpers import add_command, bearer, call, make_note, make_staff

#: How the one read of a note's commands starts.
COMMANDS_READ = 'SELECT "canvas_sdk_data_commands_command_001"'


def at(minute: int) -> dt.datetime:
    return dt.datetime(2026, 11, 3, 9, minute, tzinfo=dt.UTC)


class NoteContentTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(first_name="Grace", last_name="Hopper")
        cls.nurse = make_staff(first_name="Florence", last_name="Nightingale")
        cls.note = make_note(state="NEW", provider=cls.staff)
        # Created out of order: the answer is in the note's order (created).
        cls.plan = add_command(
            cls.note, "plan", {"narrative": "Recheck in 2 weeks"}, by=cls.staff, at=at(30)
        )
        cls.rfv = add_command(
            cls.note,
            "reasonForVisit",
            {"coding": {"text": "Cough", "value": "49727002"}, "comment": "3 days"},
            by=cls.nurse,
            at=at(1),
        )
        cls.vitals = add_command(
            cls.note,
            "vitals",
            {"blood_pressure_systole": 128, "blood_pressure_diastole": 82, "pulse": 71},
            by=cls.nurse,
            state="staged",
            at=at(5),
        )
        cls.wrong = add_command(
            cls.note,
            "diagnose",
            {"diagnose": {"text": "Asthma", "value": "J45.909"}},
            by=cls.staff,
            in_error_by=cls.staff,
            at=at(10),
        )
        cls.custom = add_command(cls.note, "chartSectionReview", {"x": 1}, by=None, at=at(20))

    def get(self, note_id, staff=None):
        return call(self.api, path=f"/notes/{note_id}/content", **bearer(staff or self.staff))

    def test_commands_in_order_with_states_labels_and_summaries(self):
        reply = self.get(self.note.id)
        self.assertEqual(reply.status, 200)
        body = reply.json()
        self.assertEqual(body["note_id"], str(self.note.id))
        self.assertEqual(body["staged"], 1)
        self.assertEqual(
            [
                (c["id"], c["schema_key"], c["label"], c["state"], c["entered_by"], c["summary"])
                for c in body["commands"]
            ],
            [
                (
                    str(self.rfv.id),
                    "reasonForVisit",
                    "Reason for visit",
                    "committed",
                    "Florence Nightingale",
                    "Cough; 3 days",
                ),
                (
                    str(self.vitals.id),
                    "vitals",
                    "Vitals",
                    "staged",
                    "Florence Nightingale",
                    "BP 128/82, pulse 71",
                ),
                (
                    str(self.wrong.id),
                    "diagnose",
                    "Diagnose",
                    "entered_in_error",
                    "Grace Hopper",
                    "Asthma",
                ),
                (
                    str(self.custom.id),
                    "chartSectionReview",
                    "Chart section review",
                    "committed",
                    None,
                    "details in Canvas",
                ),
                (
                    str(self.plan.id),
                    "plan",
                    "Plan",
                    "committed",
                    "Grace Hopper",
                    "Recheck in 2 weeks",
                ),
            ],
        )
        self.assertEqual(dt.datetime.fromisoformat(body["commands"][0]["at"]), at(1))
        self.assertEqual(set(body), {"note_id", "commands", "staged"})

    def test_one_query_for_the_commands(self):
        with CaptureQueriesContext(connection) as queries:
            self.get(self.note.id)
        reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
        command_reads = [sql for sql in reads if sql.startswith(COMMANDS_READ)]
        self.assertEqual(len(command_reads), 1, command_reads)
        self.assertIn("staff", command_reads[0])
        # Exactly what GET /notes/<id> reads, plus the one read of the commands.
        with CaptureQueriesContext(connection) as detail:
            call(self.api, path=f"/notes/{self.note.id}", **bearer(self.staff))
        detail_reads = [q["sql"] for q in detail if q["sql"].startswith("SELECT")]
        self.assertEqual(len(reads), len(detail_reads) + 1, reads)

    def test_a_note_without_commands(self):
        empty = make_note(state="NEW", provider=self.staff)
        self.assertEqual(
            self.get(empty.id).json(), {"note_id": str(empty.id), "commands": [], "staged": 0}
        )

    def test_same_errors_as_the_note_read(self):
        # Another helper's visibility rule makes notes the caller may not see 404 on
        # GET /notes/<id>; this route shares that lookup (find_note), so it follows.
        for note_id, status, code in [
            ("nope", 400, "invalid_note_id"),
            (str(uuid.uuid4()), 404, "note_not_found"),
        ]:
            with self.subTest(note_id=note_id):
                reply = self.get(note_id)
                self.assertEqual(reply.status, status)
                self.assertEqual(reply.json()["error"]["code"], code)
                detail = call(self.api, path=f"/notes/{note_id}", **bearer(self.staff))
                self.assertEqual((detail.status, detail.json()), (reply.status, reply.json()))

    def test_a_token_without_staff_is_refused_before_the_note(self):
        reply = call(self.api, path=f"/notes/{self.note.id}/content")
        self.assertEqual(reply.status, 401)

    def test_summaries_count_staged_commands(self):
        detail = call(self.api, path=f"/notes/{self.note.id}", **bearer(self.staff)).json()
        self.assertEqual(detail["staged_commands"], 1)
        other = make_note(state="NEW", provider=self.staff)
        add_command(other, "hpi", {"narrative": "a"}, state="staged", by=self.staff)
        add_command(other, "plan", {"narrative": "b"}, state="staged", by=self.staff)
        add_command(other, "plan", {}, state="staged", by=self.staff, in_error_by=self.staff)
        with CaptureQueriesContext(connection) as queries:
            listed = call(self.api, path="/notes", query_string="provider=me", **bearer(self.staff))
        counts = {n["id"]: n["staged_commands"] for n in listed.json()["notes"]}
        self.assertEqual(counts[str(self.note.id)], 1)
        self.assertEqual(counts[str(other.id)], 2)
        # One annotated query for the page, not one per note.
        self.assertEqual(sum("commands_command" in q["sql"] for q in queries), 1)


class SummariserTests(SimpleTestCase):
    def test_each_known_kind(self):
        cases = [
            ("reasonForVisit", {"coding": "Annual physical"}, "Annual physical"),
            ("hpi", {"narrative": "Cough for  3\n days"}, "Cough for 3 days"),
            (
                "ros",
                {
                    "questionnaire": {"text": "ROS adult"},
                    "question-1": "No fever",
                    "question-2": "",
                },
                "ROS adult; 1 answer",
            ),
            ("exam", {"questionnaire": {"text": "Exam"}, "result": "Normal"}, "Exam; Normal"),
            (
                "vitals",
                {
                    "blood_pressure_systole": 120,
                    "blood_pressure_diastole": 80,
                    "pulse": 60,
                    "body_temperature": 98.6,
                    "respiration_rate": 14,
                    "oxygen_saturation": 99,
                    "weight_lbs": 180,
                    "height": 70,
                },
                "BP 120/80, pulse 60, temp 98.6 °F, RR 14, SpO2 99%, weight 180 lb, height 70 in",
            ),
            (
                "assess",
                {"condition": {"text": "Hypertension"}, "status": "stable", "narrative": "ok"},
                "Hypertension; stable; ok",
            ),
            ("diagnose", {"icd10_code": "J20.9", "background": "acute"}, "J20.9; acute"),
            ("plan", {"narrative": "Fluids"}, "Fluids"),
            (
                "prescribe",
                {
                    "prescribe": {"text": "Amoxicillin 500 mg capsule", "value": 1},
                    "sig": "1 cap tid",
                    "quantity_to_dispense": 30,
                    "days_supply": 10,
                    "refills": 0,
                },
                "Amoxicillin 500 mg capsule; 1 cap tid; qty 30; 10 days; refills 0",
            ),
            ("refill", {"prescribe": {"text": "Lisinopril 10 mg"}}, "Lisinopril 10 mg"),
            (
                "stopMedication",
                {"medication": {"text": "Ibuprofen"}, "rationale": "GI upset"},
                "Ibuprofen; GI upset",
            ),
            (
                "allergy",
                {"allergy": {"text": "Penicillin"}, "severity": "severe", "narrative": "hives"},
                "Penicillin; severe; hives",
            ),
            (
                "labOrder",
                {"tests": [{"text": "CBC"}, {"text": "BMP"}], "comment": "fasting"},
                "CBC; BMP; fasting",
            ),
            (
                "imagingOrder",
                {"image": {"text": "Chest X-ray"}, "priority": "Routine"},
                "Chest X-ray; Routine",
            ),
            (
                "refer",
                {"refer_to": {"text": "Cardiology"}, "clinical_question": "Advice"},
                "to Cardiology; Advice",
            ),
            (
                "followUp",
                {"requested_date": "2026-12-01", "comment": "BP check"},
                "on 2026-12-01; BP check",
            ),
            ("instruct", {"instruct": {"text": "Rest"}, "comment": "2 days"}, "Rest; 2 days"),
            ("questionnaire", {"questionnaire": {"text": "PHQ-9"}}, "PHQ-9"),
            (
                "goal",
                {"goal_statement": "Walk daily", "due_date": "2027-01-01"},
                "Walk daily; due 2027-01-01",
            ),
            (
                "task",
                {"title": "Call patient", "assign_to": {"to": "staff"}, "due_date": "2026-11-05"},
                "Call patient; due 2026-11-05",
            ),
        ]
        self.assertEqual({key for key, _data, _text in cases}, set(content.KINDS))
        for key, data, expected in cases:
            with self.subTest(key=key):
                self.assertEqual(content.summary_for(key, data), expected)
                self.assertNotEqual(content.label_for(key), key)

    def test_odd_data_never_raises(self):
        for key in content.KINDS:
            for data in (None, [], "text", {}, {"narrative": {"nested": object()}}, {"sig": 3.5}):
                with self.subTest(key=key, data=type(data).__name__):
                    summary = content.summary_for(key, data)
                    self.assertIsInstance(summary, str)
                    self.assertTrue(summary)
                    self.assertLessEqual(len(summary), content.SUMMARY_MAX)

    def test_a_broken_summariser_gives_the_fallback(self):
        class Exploding(dict):
            def get(self, *args):
                raise RuntimeError("boom")

        self.assertEqual(content.summary_for("plan", Exploding()), content.FALLBACK)

    def test_long_text_is_clipped_on_one_line(self):
        summary = content.summary_for("hpi", {"narrative": "word " * 100})
        self.assertEqual(len(summary), content.SUMMARY_MAX)
        self.assertTrue(summary.endswith("…"))

    def test_unknown_kinds_keep_a_derived_label_and_the_fallback(self):
        self.assertEqual(content.label_for("medicationStatement"), "Medication statement")
        self.assertEqual(content.label_for("custom_thing"), "Custom thing")
        self.assertEqual(content.label_for(""), "Command")
        self.assertEqual(content.label_for(["odd"]), "Command")
        self.assertEqual(content.summary_for("medicationStatement", {"a": 1}), content.FALLBACK)

    def test_states(self):
        self.assertEqual(content.command_state("staged"), content.CommandState.STAGED)
        self.assertEqual(content.command_state("committed"), content.CommandState.COMMITTED)
        self.assertEqual(
            content.command_state("committed", entered_in_error=True),
            content.CommandState.ENTERED_IN_ERROR,
        )
        self.assertEqual(
            content.command_state("entered_in_error"), content.CommandState.ENTERED_IN_ERROR
        )


class ContentCasesTests(TestCase):
    """Every row of content_cases.py, as Canvas records it, read through the API."""

    def test_the_shared_cases(self):
        staff = make_staff(first_name="Grace", last_name="Hopper")
        note = make_note(state="LKD", provider=staff)
        for minute, (key, data, state, _label, _summary) in enumerate(content_cases.CASES):
            in_error = state == "entered_in_error"
            add_command(
                note,
                key,
                data,
                state="committed" if in_error else state,
                by=staff,
                in_error_by=staff if in_error else None,
                at=at(minute),
            )
        body = call(NoteApi, path=f"/notes/{note.id}/content", **bearer(staff)).json()
        self.assertEqual(
            [(c["schema_key"], c["state"], c["label"], c["summary"]) for c in body["commands"]],
            [(key, state, label, text) for key, _d, state, label, text in content_cases.CASES],
        )
        self.assertEqual(body["staged"], 2)
