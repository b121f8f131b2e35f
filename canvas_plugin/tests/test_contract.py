"""The documented cases (contract_cases.py), through the real handler with SDK events.

The sandbox's tests run the same rows over HTTP; both must answer the same status,
error code and expected state.
"""

import datetime as dt
from urllib.parse import urlencode

from django.test import TestCase
from note_sign_api.handlers.api import NoteApi

from .contract_cases import CASES, CURSOR_ORDER_CASES, LIST_ORDER_CASES, SIGN_AGAIN_CASES
from .helpers import (
    bearer,
    call,
    change_state,
    join_care_team,
    make_note,
    make_staff,
    note_type,
)


class ContractCaseTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.callers = {
            "provider": make_staff(first_name="Riley", last_name="Chen"),
            "supervising": make_staff(first_name="Sam", last_name="Okafor"),
            "other": make_staff(first_name="Frank", last_name="Desk"),
        }
        cls.types = {}

    def note(self, category: str, is_sig_required: bool, state: str):
        key = (category, is_sig_required)
        if key not in self.types:
            self.types[key] = note_type(category=category, is_sig_required=is_sig_required)
        note = make_note(
            state=state,
            note_type_version=self.types[key],
            provider=self.callers["provider"],
            supervising_provider=self.callers["supervising"],
            by=self.callers["provider"],
        )
        # "other" sees the note (contract v3): on the care team of its patient.
        join_care_team(self.callers["other"], note.patient)
        return note

    def check(self, reply, status: str, code: str, expected: str, note):
        self.assertEqual(reply.status, status, reply.raw)
        body = reply.json()
        if status == 202:
            self.assertEqual(body["expected_state"]["code"], expected)
            self.assertEqual(body["note_id"], str(note.id))
            self.assertTrue(reply.effects)
        else:
            self.assertEqual(body["error"]["code"], code)
            self.assertEqual(reply.effects, [])

    def test_every_documented_case(self):
        self.assertGreater(len(CASES), 40)
        for category, sig, state, action, caller, status, code, expected in CASES:
            with self.subTest(
                category=category, sig=sig, state=state, action=action, caller=caller
            ):
                note = self.note(category, sig, state)
                reply = call(
                    self.api,
                    method="POST",
                    path=f"/notes/{note.id}/{action}",
                    **bearer(self.callers[caller]),
                )
                self.check(reply, status, code, expected, note)

    def test_signing_again(self):
        for signed_by, caller, status, code, expected in SIGN_AGAIN_CASES:
            with self.subTest(signed_by=signed_by, caller=caller):
                note = self.note("encounter", True, "LKD")
                change_state(note, "SGN", by=self.callers[signed_by])
                reply = call(
                    self.api,
                    method="POST",
                    path=f"/notes/{note.id}/sign",
                    **bearer(self.callers[caller]),
                )
                self.check(reply, status, code, expected, note)
                if code == "already_signed":
                    self.assertEqual(reply.json()["state"], "SGN")


class ListOrderCaseTests(TestCase):
    """The shared `order` cases of GET /notes (the sandbox runs them over HTTP)."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.me = make_staff(first_name="Riley", last_name="Chen")
        day = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
        hours = [5, 0, 3, 3, 3, 1]  # three notes tie on their date of service
        cls.notes = [
            make_note(state="NEW", provider=cls.me, datetime_of_service=day + dt.timedelta(hours=h))
            for h in hours
        ]

    def expected(self, order: str) -> list[str]:
        by_id = sorted(self.notes, key=lambda note: str(note.id))
        ordered = sorted(by_id, key=lambda n: n.datetime_of_service, reverse=order == "newest")
        return [str(note.id) for note in ordered]

    def get(self, **params):
        query = {key: value for key, value in params.items() if value is not None}
        return call(self.api, path="/notes", query_string=urlencode(query), **bearer(self.me))

    def test_every_order_case(self):
        for order, expected in LIST_ORDER_CASES:
            with self.subTest(order=order):
                reply = self.get(order=order)
                self.assertEqual(reply.status, 200, reply.raw)
                body = reply.json()
                self.assertEqual([note["id"] for note in body["notes"]], self.expected(expected))
                self.assertEqual(body["count"], len(self.notes))

    def test_a_cursor_is_only_good_for_its_order(self):
        for made_with, used_with, status, code in CURSOR_ORDER_CASES:
            with self.subTest(made_with=made_with, used_with=used_with):
                cursor = self.get(order=made_with, limit=2).json()["next_cursor"]
                reply = self.get(order=used_with, limit=2, cursor=cursor)
                self.assertEqual(reply.status, status, reply.raw)
                if status == 200:
                    expected = "oldest" if used_with == "oldest" else "newest"
                    ids = [note["id"] for note in reply.json()["notes"]]
                    self.assertEqual(ids, self.expected(expected)[2:4])
                else:
                    self.assertEqual(reply.json()["error"]["code"], code)
