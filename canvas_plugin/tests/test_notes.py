"""GET /me, GET /notes (filters, order, pagination) and GET /notes/<id>."""

import datetime as dt
import uuid
from urllib.parse import urlencode

from canvas_sdk.test_utils.factories import PatientFactory
from django.test import TestCase
from note_sign_api import transitions
from note_sign_api.handlers.api import NoteApi

from .helpers import bearer, call, make_note, make_staff

UTC = dt.UTC


def at(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, 0, tzinfo=UTC)


class MeTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(first_name="Grace", last_name="Hopper")

    def test_me(self):
        reply = call(self.api, path="/me", **bearer(self.staff))
        self.assertEqual(reply.status, 200)
        self.assertEqual(
            reply.json(),
            {
                "user_id": str(self.staff.user.dbid),
                "staff": {"id": str(self.staff.id), "name": "Grace Hopper"},
            },
        )
        self.assertEqual(reply.headers["Content-Type"], "application/json")


class NoteDetailTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(first_name="Grace", last_name="Hopper")
        cls.patient = PatientFactory(first_name="Alan", last_name="Turing")
        cls.note = make_note(
            state="LKD",
            provider=cls.staff,
            patient=cls.patient,
            title="Follow-up",
            datetime_of_service=at(3, 14),
        )

    def test_summary(self):
        reply = call(self.api, path=f"/notes/{self.note.id}", **bearer(self.staff))
        self.assertEqual(reply.status, 200)
        self.assertEqual(
            reply.json(),
            {
                "id": str(self.note.id),
                "title": "Follow-up",
                "datetime_of_service": "2026-11-03T14:00:00+00:00",
                "state": {"code": "LKD", "label": "Locked"},
                "note_type": {
                    "name": "Encounter note",
                    "category": "encounter",
                    "is_sig_required": True,
                },
                "patient": {"id": str(self.patient.id), "name": "Alan Turing"},
                "provider": {"id": str(self.staff.id), "name": "Grace Hopper"},
                "allowed_actions": ["sign", "lock_sign", "unlock"],
            },
        )

    def test_bad_and_unknown_ids(self):
        for note_id, status, code in [
            ("nope", 400, "invalid_note_id"),
            ("9" * 5000, 400, "invalid_note_id"),
            ("ü" * 36, 400, "invalid_note_id"),
            (str(uuid.uuid4()), 404, "note_not_found"),
        ]:
            with self.subTest(note_id=note_id[:20]):
                reply = call(self.api, path=f"/notes/{note_id}", **bearer(self.staff))
                self.assertEqual(reply.status, status)
                self.assertEqual(reply.json()["error"]["code"], code)
                self.assertEqual(set(reply.json()["error"]), {"code", "message"})


class NoteListTests(TestCase):
    """Filters, order and cursor pagination of GET /notes."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.me = make_staff(first_name="Grace", last_name="Hopper")
        cls.other = make_staff(first_name="Edsger", last_name="Dijkstra")
        alan = PatientFactory(first_name="Alan", last_name="Turing")
        barbara = PatientFactory(first_name="Barbara", last_name="Liskov")
        cls.notes = [
            make_note(state="NEW", provider=cls.me, patient=alan, datetime_of_service=at(1)),
            make_note(state="LKD", provider=cls.me, patient=barbara, datetime_of_service=at(2)),
            make_note(state="SGN", provider=cls.other, patient=alan, datetime_of_service=at(2, 18)),
            make_note(
                state="BKD",
                kind="appointment",
                provider=cls.other,
                patient=barbara,
                datetime_of_service=at(3, 23),
            ),
            make_note(state="LKD", provider=cls.other, patient=alan, datetime_of_service=at(4)),
        ]
        # Three notes at the same moment: the id breaks the tie.
        cls.tied = [
            make_note(state="ULK", provider=cls.me, patient=barbara, datetime_of_service=at(5))
            for _ in range(3)
        ]

    def ids(self, **params) -> list[str]:
        reply = call(self.api, path="/notes", query_string=urlencode(params), **bearer(self.me))
        self.assertEqual(reply.status, 200, reply.raw)
        return [note["id"] for note in reply.json()["notes"]]

    def expected(self, notes) -> list[str]:
        ordered = sorted(notes, key=lambda n: str(n.id))
        ordered = sorted(ordered, key=lambda n: n.datetime_of_service, reverse=True)
        return [str(n.id) for n in ordered]

    def test_order_is_date_desc_then_id(self):
        self.assertEqual(self.ids(), self.expected(self.notes + self.tied))

    def test_summaries_carry_allowed_actions(self):
        reply = call(self.api, path="/notes", **bearer(self.me))
        for summary in reply.json()["notes"]:
            with self.subTest(note=summary["id"]):
                note_type = summary["note_type"]
                self.assertEqual(
                    summary["allowed_actions"],
                    transitions.allowed_actions(
                        summary["state"]["code"],
                        category=note_type["category"],
                        is_sig_required=note_type["is_sig_required"],
                    ),
                )

    def test_state_filter(self):
        lkd = [n for n in self.notes if n.current_state.state == "LKD"]
        self.assertEqual(self.ids(state="LKD"), self.expected(lkd))
        new_or_sgn = [self.notes[0], self.notes[2]]
        self.assertEqual(self.ids(state="NEW,SGN"), self.expected(new_or_sgn))
        self.assertEqual(self.ids(state="new, sgn"), self.expected(new_or_sgn))
        self.assertEqual(self.ids(state="XYZ"), [])
        self.assertEqual(self.ids(state=""), self.expected(self.notes + self.tied))

    def test_provider_filter(self):
        mine = [n for n in self.notes + self.tied if n.provider == self.me]
        self.assertEqual(self.ids(provider="me"), self.expected(mine))
        theirs = [n for n in self.notes if n.provider == self.other]
        self.assertEqual(self.ids(provider=self.other.id), self.expected(theirs))
        self.assertEqual(self.ids(provider="nobody"), [])

    def test_patient_filter(self):
        alan = [n for n in self.notes if n.patient.first_name == "Alan"]
        self.assertEqual(self.ids(patient="turing"), self.expected(alan))
        self.assertEqual(self.ids(patient="AN TUR"), self.expected(alan))
        self.assertEqual(self.ids(patient="Ada"), [])

    def test_date_filter(self):
        self.assertEqual(self.ids(date="2026-11-02"), self.expected(self.notes[1:3]))
        self.assertEqual(self.ids(date="2026-11-03"), self.expected([self.notes[3]]))
        everything = self.expected(self.notes + self.tied)
        self.assertEqual(self.ids(date="2026-13-40"), everything)
        self.assertEqual(self.ids(date="yesterday"), everything)

    def test_filters_combine_and_unknown_ones_are_ignored(self):
        self.assertEqual(
            self.ids(state="LKD", provider="me", colour="blue"), self.expected([self.notes[1]])
        )

    def test_pagination_walks_every_note_once(self):
        everything = self.expected(self.notes + self.tied)
        for limit in (1, 2, 3, 7, 8, 100):
            with self.subTest(limit=limit):
                seen, cursor, pages = [], None, 0
                while True:
                    params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
                    reply = call(
                        self.api, path="/notes", query_string=urlencode(params), **bearer(self.me)
                    )
                    body = reply.json()
                    self.assertLessEqual(len(body["notes"]), limit)
                    seen += [note["id"] for note in body["notes"]]
                    pages += 1
                    cursor = body["next_cursor"]
                    if cursor is None:
                        break
                    self.assertIsInstance(cursor, str)
                self.assertEqual(seen, everything)
                self.assertEqual(pages, max(1, -(-len(everything) // limit)))

    def test_pagination_with_filters(self):
        mine = self.expected([n for n in self.notes + self.tied if n.provider == self.me])
        first = call(
            self.api, path="/notes", query_string="provider=me&limit=2", **bearer(self.me)
        ).json()
        second = call(
            self.api,
            path="/notes",
            query_string=urlencode({"provider": "me", "limit": 2, "cursor": first["next_cursor"]}),
            **bearer(self.me),
        ).json()
        self.assertEqual([n["id"] for n in first["notes"] + second["notes"]], mine[:4])

    def test_limit_is_clamped(self):
        total = len(self.notes + self.tied)
        cases = [("0", 1), ("-5", 1), ("9" * 50, 50), ("1", 1), ("abc", 50), ("100000", total)]
        for raw, size in [*cases, ("", 50)]:
            with self.subTest(limit=raw):
                reply = call(
                    self.api,
                    path="/notes",
                    query_string=urlencode({"limit": raw}),
                    **bearer(self.me),
                )
                self.assertEqual(len(reply.json()["notes"]), min(size, total))

    def test_default_limit_is_50_and_max_is_100(self):
        patient = PatientFactory()
        for _ in range(120):
            make_note(state="NEW", provider=self.other, patient=patient, datetime_of_service=at(9))
        self.assertEqual(len(self.ids()), 50)
        self.assertEqual(len(self.ids(limit=500)), 100)

    def test_bad_cursor_is_400(self):
        for cursor in ("garbage!", "abc", "x" * 500, "eyJkIjoxfQ", "e30"):
            with self.subTest(cursor=cursor[:20]):
                reply = call(
                    self.api,
                    path="/notes",
                    query_string=urlencode({"cursor": cursor}),
                    **bearer(self.me),
                )
                self.assertEqual(reply.status, 400)
                self.assertEqual(reply.json()["error"]["code"], "invalid_cursor")
