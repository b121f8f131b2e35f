"""GET /notes/history: many notes' state and history in one answer, in two queries."""

import datetime as dt
import uuid
from urllib.parse import urlencode

from canvas_sdk.v1.data.note import NoteStateChangeEvent
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from note_sign_api.handlers.api import NoteApi

from .helpers import bearer, call, change_state, make_note, make_staff

UTC = dt.UTC


def at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 11, 3, hour, 0, tzinfo=UTC)


class NotesHistoryTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.me = make_staff()
        cls.other = make_staff(first_name="Sam", last_name="Okafor")
        cls.signed = make_note(state="NEW", provider=cls.me)
        NoteStateChangeEvent.objects.filter(note=cls.signed).update(created=at(9))
        change_state(cls.signed, "LKD", by=cls.me, at=at(10))
        change_state(cls.signed, "SGN", by=cls.me, at=at(11))
        cls.locked = make_note(state="NEW", provider=cls.me)
        NoteStateChangeEvent.objects.filter(note=cls.locked).update(created=at(9))
        change_state(cls.locked, "LKD", by=cls.other, at=at(12))

    def ask(self, ids, **params):
        query = urlencode({"ids": ",".join(str(i) for i in ids), **params})
        return call(self.api, path="/notes/history", query_string=query, **bearer(self.me))

    def test_each_note_has_its_summary_state_and_history_since(self):
        reply = self.ask([self.signed.id, self.locked.id], since="2026-11-03T10:30:00Z")
        self.assertEqual(reply.status, 200, reply.raw)
        notes = reply.json()["notes"]
        self.assertEqual(set(notes), {str(self.signed.id), str(self.locked.id)})
        signed = notes[str(self.signed.id)]
        self.assertEqual(
            signed["state"],
            {
                "code": "SGN",
                "label": "Signed",
                "changed_at": "2026-11-03T11:00:00+00:00",
                "changed_by": str(self.me.id),
            },
        )
        self.assertEqual(
            signed["history"],
            [{"state": "SGN", "at": "2026-11-03T11:00:00+00:00", "by": str(self.me.id)}],
        )
        self.assertIn("unlock", signed["allowed_actions"])
        locked = notes[str(self.locked.id)]
        self.assertEqual(locked["state"]["changed_by"], str(self.other.id))
        self.assertEqual([e["state"] for e in locked["history"]], ["LKD"])
        self.assertIn("as_of", reply.json())

    def test_without_since_the_whole_history(self):
        notes = self.ask([self.signed.id]).json()["notes"]
        self.assertEqual(
            [e["state"] for e in notes[str(self.signed.id)]["history"]], ["NEW", "LKD", "SGN"]
        )

    def test_unknown_ids_are_absent_and_duplicates_read_once(self):
        unknown = uuid.uuid4()
        reply = self.ask([unknown, self.signed.id, str(self.signed.id).upper()])
        self.assertEqual(reply.status, 200)
        self.assertEqual(list(reply.json()["notes"]), [str(self.signed.id)])
        self.assertEqual(self.ask([]).json()["notes"], {})

    def test_more_than_100_ids_or_a_bad_one_is_400(self):
        reply = self.ask([uuid.uuid4() for _ in range(101)])
        self.assertEqual((reply.status, reply.json()["error"]["code"]), (400, "too_many_ids"))
        self.assertEqual(self.ask([uuid.uuid4() for _ in range(100)]).status, 200)
        reply = self.ask([self.signed.id, "nope"])
        self.assertEqual((reply.status, reply.json()["error"]["code"]), (400, "invalid_note_id"))

    def test_a_token_without_staff_is_refused(self):
        from canvas_sdk.test_utils.factories import CanvasUserFactory

        user = CanvasUserFactory(is_staff=False)
        reply = call(
            self.api,
            path="/notes/history",
            query_string=f"ids={self.signed.id}",
            **bearer(user),
        )
        self.assertEqual(reply.status, 403)


class NotesHistoryQueryTests(TestCase):
    """One query for the notes' states and one for their history, whatever their number."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.me = make_staff()

    def queries_for(self, n: int) -> list[str]:
        notes = [make_note(state="LKD", provider=self.me, by=self.me) for _ in range(n)]
        query = urlencode({"ids": ",".join(str(note.id) for note in notes)})
        with CaptureQueriesContext(connection) as queries:
            reply = call(self.api, path="/notes/history", query_string=query, **bearer(self.me))
        self.assertEqual(len(reply.json()["notes"]), n)
        return [q["sql"] for q in queries.captured_queries]

    def test_two_queries_for_the_notes_whatever_their_number(self):
        few, many = self.queries_for(2), self.queries_for(30)
        self.assertEqual(len(few), len(many))
        main_table = [sql.split(".")[0] for sql in many if sql.startswith("SELECT ")]
        self.assertEqual(main_table.count('SELECT "canvas_sdk_data_api_note_001"'), 1, many)
        events = 'SELECT "canvas_sdk_data_api_notestatechangeevent_001"'
        self.assertEqual(main_table.count(events), 1, many)


class BatchContractCaseTests(TestCase):
    """contract_cases.BATCH_ID_CASES, as the sandbox's tests run them too."""

    api = NoteApi

    def test_every_case(self):
        from .contract_cases import BATCH_ID_CASES, batch_ids

        me = make_staff()
        for label, status, code in BATCH_ID_CASES:
            with self.subTest(label=label):
                query = urlencode({"ids": ",".join(batch_ids(label))})
                reply = call(self.api, path="/notes/history", query_string=query, **bearer(me))
                self.assertEqual(reply.status, status, reply.raw)
                if code:
                    self.assertEqual(reply.json()["error"]["code"], code)
                else:
                    self.assertEqual(reply.json()["notes"], {})
