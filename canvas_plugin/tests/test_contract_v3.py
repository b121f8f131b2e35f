"""Contract v3's shared cases (contract_cases.py), through the real handler with SDK events.

Visibility, the visit, no-shows and counts; tests/sandbox/test_contract_parity.py runs
the same rows against the sandbox over HTTP. Effects are applied here the way Canvas
applies them (check-in converts the appointment note into an encounter note).
"""

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from canvas_sdk.test_utils.factories import PatientFactory
from canvas_sdk.v1.data import StaffRole
from django.test import TestCase
from note_sign_api.handlers.api import NoteApi

from .contract_cases import (
    COUNT_CASES,
    DATE_FILTER_CASES,
    DATE_FILTER_DAY,
    DATE_FILTER_ZONE,
    NO_SHOW_CASES,
    VISIBILITY_CASES,
    VISIT_CASES,
)
from .helpers import (
    add_command,
    bearer,
    call,
    change_state,
    give_role,
    join_care_team,
    make_note,
    make_staff,
)
from .helpers import note_type as make_note_type

#: The effects an action's 202 names and the states Canvas records, in order, applying them.
APPLIED = {"lock": ["LKD"], "sign": ["SGN"], "lock_sign": ["LKD", "SGN"], "checkin": ["CVD"]}


def midnights() -> tuple[dt.datetime, dt.datetime]:
    """Return today's and tomorrow's midnight in the installation's zone (UTC in tests)."""
    today = dt.datetime.now(dt.UTC).date()
    start = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


class ContractV3Base(TestCase):
    api = NoteApi
    #: What the plugin runner hands the handler (None: no INSTALLATION_TIME_ZONE, so UTC).
    environment: dict | None = None

    @classmethod
    def setUpTestData(cls):
        cls.cast = {
            "provider": make_staff(first_name="Riley", last_name="Chen"),
            "front_desk": make_staff(first_name="Jordan", last_name="Lee"),
            "care_team": make_staff(first_name="Casey", last_name="Nguyen"),
            "unrelated": make_staff(first_name="Drew", last_name="Vance"),
        }
        give_role(cls.cast["front_desk"], domain=StaffRole.RoleDomain.ADMINISTRATIVE)
        give_role(cls.cast["care_team"], domain=StaffRole.RoleDomain.CLINICAL)
        cls.patient = PatientFactory()
        join_care_team(cls.cast["care_team"], cls.patient)
        cls.encounter_type = make_note_type("encounter")

    def note(self, kind: str, state: str, day: str = "today"):
        start, _ = midnights()
        when = start + dt.timedelta(hours=12) if day == "today" else start - dt.timedelta(days=2)
        return make_note(
            state=state,
            kind=kind,
            provider=self.cast["provider"],
            patient=self.patient,
            datetime_of_service=when,
            by=self.cast["provider"],
        )

    def get(self, caller: str, path: str, **query):
        return call(
            self.api,
            path=path,
            query_string=urlencode(query),
            environment=self.environment,
            **bearer(self.cast[caller]),
        )

    def post(self, caller: str, path: str):
        return call(self.api, method="POST", path=path, **bearer(self.cast[caller]))

    def listed(self, caller: str, **query) -> list[dict]:
        notes, cursor = [], None
        while True:
            page = self.get(caller, "/notes", **query, **({"cursor": cursor} if cursor else {}))
            self.assertEqual(page.status, 200, page.raw)
            notes += page.json()["notes"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                return notes


class VisibilityCaseTests(ContractV3Base):
    def test_every_visibility_case(self):
        self.assertTrue(VISIBILITY_CASES)
        unknown = self.get("provider", "/notes/00000000-0000-4000-8000-000000000000")
        no_content = self.get("provider", "/notes/00000000-0000-4000-8000-000000000000/content")
        for caller, kind, state, day, visible in VISIBILITY_CASES:
            with self.subTest(caller=caller, kind=kind, state=state, day=day):
                note = self.note(kind, state, day)
                add_command(note, "plan", {"narrative": "Recheck"}, by=self.cast["provider"])
                ids = {n["id"] for n in self.listed(caller)}
                self.assertEqual(str(note.id) in ids, visible)
                read = self.get(caller, f"/notes/{note.id}")
                self.assertEqual(read.status, 200 if visible else 404, read.raw)
                content = self.get(caller, f"/notes/{note.id}/content")
                self.assertEqual(content.status, 200 if visible else 404, content.raw)
                if not visible:
                    self.assertEqual(read.raw, unknown.raw)  # same body as no such note
                    self.assertEqual(content.raw, no_content.raw)
                    action = self.post(caller, f"/notes/{note.id}/lock")
                    self.assertEqual((action.status, action.raw), (404, unknown.raw))
                    self.assertEqual(action.effects, [])


class VisitCaseTests(ContractV3Base):
    def apply(self, note, action: str) -> None:
        """Apply an accepted action as Canvas does: check-in converts the note type."""
        if action == "checkin":
            type(note).objects.filter(pk=note.pk).update(note_type_version=self.encounter_type)
        for state in APPLIED[action]:
            change_state(note, state, by=self.cast["provider"])

    def test_every_visit(self):
        self.assertTrue(VISIT_CASES)
        for start, steps in VISIT_CASES:
            with self.subTest(start=start, steps=steps):
                note = self.note("appointment", start)
                for action, expected in steps:
                    reply = self.post("provider", f"/notes/{note.id}/{action}")
                    self.assertEqual(reply.status, 202, reply.raw)
                    self.assertEqual(reply.json()["expected_state"]["code"], expected)
                    self.apply(note, action)
                shown = self.get("provider", f"/notes/{note.id}").json()
                self.assertEqual(shown["state"]["code"], steps[-1][1])
                self.assertEqual(shown["note_type"]["category"], "encounter")

    def test_a_no_show_is_never_offered_a_signature(self):
        self.assertTrue(NO_SHOW_CASES)
        for state, action, status, code in NO_SHOW_CASES:
            with self.subTest(state=state, action=action):
                note = self.note("appointment", "NSW")
                if state != "NSW":
                    change_state(note, state, by=self.cast["provider"])
                shown = self.get("provider", f"/notes/{note.id}").json()
                self.assertFalse({"sign", "lock_sign"} & set(shown["allowed_actions"]))
                queued = {n["id"] for n in self.listed("provider", queue="to_sign")}
                self.assertNotIn(str(note.id), queued)
                reply = self.post("provider", f"/notes/{note.id}/{action}")
                self.assertEqual(reply.status, status, reply.raw)
                self.assertEqual(reply.json()["error"]["code"], code)


class CountCaseTests(ContractV3Base):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        start, _ = midnights()
        week = [
            ("appointment", "BKD", 10),
            ("appointment", "CVD", 9),
            ("appointment", "NSW", -20),
            ("encounter", "NEW", 11),
            ("encounter", "LKD", -30),
            ("encounter", "ULK", -50),
            ("encounter", "SGN", -70),
            ("encounter", "CVD", -3),
        ]
        for kind, state, hours in week:
            make_note(
                state=state,
                kind=kind,
                provider=cls.cast["provider"],
                patient=cls.patient,
                datetime_of_service=start + dt.timedelta(hours=hours),
                by=cls.cast["provider"],
            )
            make_note(
                state=state, kind=kind, datetime_of_service=start + dt.timedelta(hours=hours)
            )  # another provider's, of another patient

    def test_counts_match_their_lists(self):
        self.assertTrue(COUNT_CASES)
        start, end = midnights()
        bounds = {"{today}": start.isoformat(), "{tomorrow}": end.isoformat()}
        for caller, count, query in COUNT_CASES:
            with self.subTest(caller=caller, count=count):
                counts = self.get(
                    caller,
                    "/notes/counts",
                    day_start=start.isoformat(),
                    day_end=end.isoformat(),
                    overdue_before=start.isoformat(),
                ).json()
                listed = self.listed(caller, **{k: bounds.get(v, v) for k, v in query.items()})
                self.assertEqual(counts[count], len(listed))
        # Not vacuous: the cast sees different, non-empty days.
        self.assertGreater(len(self.listed("provider", queue="to_sign")), 0)
        self.assertEqual(
            len(self.listed("front_desk", **{"from": start.isoformat(), "to": end.isoformat()})),
            4,  # both providers' booked and checked-in appointments of today
        )


class DateFilterCaseTests(ContractV3Base):
    environment = {"INSTALLATION_TIME_ZONE": DATE_FILTER_ZONE}

    def test_date_is_the_installations_day(self):
        self.assertTrue(DATE_FILTER_CASES)
        zone = ZoneInfo(DATE_FILTER_ZONE)
        notes = {
            when: make_note(
                state="NEW",
                kind="encounter",
                provider=self.cast["provider"],
                patient=self.patient,
                datetime_of_service=dt.datetime.fromisoformat(when).replace(tzinfo=zone),
                by=self.cast["provider"],
            )
            for when, _ in DATE_FILTER_CASES
        }
        listed = {n["id"] for n in self.listed("provider", date=DATE_FILTER_DAY)}
        for when, expected in DATE_FILTER_CASES:
            with self.subTest(when=when):
                self.assertEqual(str(notes[when].id) in listed, expected)
