"""GET /me, GET /notes (filters, order, pagination) and GET /notes/<id>."""

import datetime as dt
import json
import uuid
from base64 import b64decode
from urllib.parse import urlencode

from canvas_sdk.events import EventType
from canvas_sdk.test_utils.factories import PatientFactory
from canvas_sdk.v1.data.note import NoteStateChangeEvent
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from note_sign_api import transitions
from note_sign_api.handlers.api import NoteApi

from .helpers import bearer, call, change_state, event, join_care_team, make_note, make_staff

UTC = dt.UTC
#: Filters, order and pages are checked over every note (visibility: test_visibility.py).
SEE_ALL = {"visibility": "all"}


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
                "staff": {"id": str(self.staff.id), "name": "Grace Hopper", "time_zone": None},
                "installation_time_zone": "UTC",
            },
        )
        self.assertEqual(reply.headers["Content-Type"], "application/json")

    def test_me_gives_the_installation_zone_the_runner_sets(self):
        auth = event(EventType.SIMPLE_API_REQUEST, path="/me", **bearer(self.staff))
        environment = {"INSTALLATION_TIME_ZONE": "America/Chicago"}
        effects = self.api(auth, secrets={}, environment=environment).compute()
        body = json.loads(b64decode(json.loads(effects[0].payload)["body"]))
        self.assertEqual(body["installation_time_zone"], "America/Chicago")


class NoteDetailTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff(first_name="Grace", last_name="Hopper")
        cls.supervisor = make_staff(first_name="Edsger", last_name="Dijkstra")
        cls.patient = PatientFactory(first_name="Alan", last_name="Turing")
        cls.note = make_note(
            state="NEW",
            provider=cls.staff,
            supervising_provider=cls.supervisor,
            patient=cls.patient,
            title="Follow-up",
            datetime_of_service=at(3, 14),
        )
        cls.locked = change_state(cls.note, "LKD", by=cls.staff)

    def test_summary(self):
        reply = call(self.api, path=f"/notes/{self.note.id}", **bearer(self.staff))
        self.assertEqual(reply.status, 200)
        body = reply.json()
        changed_at = dt.datetime.fromisoformat(body["state"].pop("changed_at"))
        self.assertEqual(changed_at, self.locked.created)
        self.assertEqual(
            body,
            {
                "id": str(self.note.id),
                "title": "Follow-up",
                "datetime_of_service": "2026-11-03T14:00:00+00:00",
                "state": {"code": "LKD", "label": "Locked", "changed_by": str(self.staff.id)},
                "note_type": {
                    "name": "Encounter note",
                    "category": "encounter",
                    "is_sig_required": True,
                },
                "patient": {"id": str(self.patient.id), "name": "Alan Turing"},
                "provider": {"id": str(self.staff.id), "name": "Grace Hopper"},
                "supervising_provider": {"id": str(self.supervisor.id), "name": "Edsger Dijkstra"},
                "allowed_actions": ["sign", "lock_sign", "unlock"],
                "queue_action": "sign",
                "signed_by": None,
                "staged_commands": 0,
            },
        )

    def test_allowed_actions_are_the_callers(self):
        other = make_staff(first_name="Frank", last_name="Desk")
        join_care_team(other, self.patient)  # so the note is visible to them
        reply = call(self.api, path=f"/notes/{self.note.id}", **bearer(other))
        self.assertEqual(reply.json()["allowed_actions"], [])
        unsupervised = make_note(state="NEW", provider=self.staff, patient=self.patient)
        body = call(self.api, path=f"/notes/{unsupervised.id}", **bearer(other)).json()
        self.assertIsNone(body["supervising_provider"])
        self.assertEqual(body["allowed_actions"], ["lock"])
        # NoteFactory records the creation (NEW) as the provider's.
        self.assertEqual(body["state"]["changed_by"], str(self.staff.id))

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
        reply = call(
            self.api,
            secrets=SEE_ALL,
            path="/notes",
            query_string=urlencode(params),
            **bearer(self.me),
        )
        self.assertEqual(reply.status, 200, reply.raw)
        return [note["id"] for note in reply.json()["notes"]]

    def expected(self, notes, order: str = "newest") -> list[str]:
        ordered = sorted(notes, key=lambda n: str(n.id))
        ordered = sorted(ordered, key=lambda n: n.datetime_of_service, reverse=order == "newest")
        return [str(n.id) for n in ordered]

    def walk(self, limit: int, **params) -> tuple[list[str], int]:
        """Return every note id the list yields page by page, and the number of pages."""
        seen, cursor, pages = [], None, 0
        while True:
            query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
            reply = call(
                self.api,
                secrets=SEE_ALL,
                path="/notes",
                query_string=urlencode(query),
                **bearer(self.me),
            )
            self.assertEqual(reply.status, 200, reply.raw)
            body = reply.json()
            self.assertLessEqual(len(body["notes"]), limit)
            self.assertEqual(body["count"], len(self.notes + self.tied))
            seen += [note["id"] for note in body["notes"]]
            pages += 1
            cursor = body["next_cursor"]
            if cursor is None:
                return seen, pages
            self.assertIsInstance(cursor, str)

    def test_order_is_date_desc_then_id(self):
        self.assertEqual(self.ids(), self.expected(self.notes + self.tied))
        self.assertEqual(self.ids(order="newest"), self.expected(self.notes + self.tied))

    def test_order_oldest_is_date_asc_then_id(self):
        oldest = self.expected(self.notes + self.tied, "oldest")
        self.assertEqual(self.ids(order="oldest"), oldest)
        self.assertEqual(oldest[0], str(self.notes[0].id))
        # The tie on the date of service is still broken by id, ascending.
        self.assertEqual(oldest[-3:], sorted(str(n.id) for n in self.tied))
        mine = [n for n in self.notes + self.tied if n.provider == self.me]
        self.assertEqual(self.ids(order="oldest", provider="me"), self.expected(mine, "oldest"))

    def test_unknown_order_is_ignored(self):
        newest = self.expected(self.notes + self.tied)
        for order in ("", "sideways", "OLDEST", "asc", "-datetime_of_service", "x" * 5000):
            with self.subTest(order=order[:20]):
                self.assertEqual(self.ids(order=order), newest)

    def test_pagination_walks_every_note_once_oldest_first(self):
        oldest = self.expected(self.notes + self.tied, "oldest")
        for limit in (1, 2, 3, 4, 7, 8, 100):
            with self.subTest(limit=limit):
                seen, pages = self.walk(limit, order="oldest")
                self.assertEqual(seen, oldest)
                self.assertEqual(pages, max(1, -(-len(oldest) // limit)))

    def test_a_cursor_from_the_other_order_is_400(self):
        oldest_cursor = self.walk_first_cursor(order="oldest")
        newest_cursor = self.walk_first_cursor()
        for order, cursor in (
            (None, oldest_cursor),
            ("newest", oldest_cursor),
            ("oldest", newest_cursor),
        ):
            with self.subTest(order=order, cursor=cursor):
                params = {"cursor": cursor, **({"order": order} if order else {})}
                reply = call(
                    self.api, path="/notes", query_string=urlencode(params), **bearer(self.me)
                )
                self.assertEqual(reply.status, 400, reply.raw)
                self.assertEqual(reply.json()["error"]["code"], "invalid_cursor")

    def walk_first_cursor(self, **params) -> str:
        query = urlencode({**params, "limit": 2})
        reply = call(
            self.api, secrets=SEE_ALL, path="/notes", query_string=query, **bearer(self.me)
        )
        cursor = reply.json()["next_cursor"]
        self.assertIsInstance(cursor, str)
        return cursor

    def test_summaries_carry_the_callers_allowed_actions(self):
        reply = call(self.api, secrets=SEE_ALL, path="/notes", **bearer(self.me))
        for summary in reply.json()["notes"]:
            with self.subTest(note=summary["id"]):
                note_type = summary["note_type"]
                facts = transitions.NoteFacts(
                    category=note_type["category"],
                    is_sig_required=note_type["is_sig_required"],
                    state=summary["state"]["code"],
                    provider_id=summary["provider"]["id"],
                )
                self.assertEqual(
                    summary["allowed_actions"],
                    transitions.allowed_actions(facts, caller_id=str(self.me.id)),
                )

    def test_count_is_the_total_matching(self):
        reply = call(
            self.api, secrets=SEE_ALL, path="/notes", query_string="limit=2", **bearer(self.me)
        )
        self.assertEqual(len(reply.json()["notes"]), 2)
        self.assertEqual(reply.json()["count"], len(self.notes + self.tied))
        reply = call(
            self.api,
            secrets=SEE_ALL,
            path="/notes",
            query_string="limit=1&provider=me",
            **bearer(self.me),
        )
        self.assertEqual(reply.json()["count"], 5)
        cursor = reply.json()["next_cursor"]
        reply = call(
            self.api,
            secrets=SEE_ALL,
            path="/notes",
            query_string=urlencode({"provider": "me", "limit": 1, "cursor": cursor}),
            **bearer(self.me),
        )
        self.assertEqual(reply.json()["count"], 5)

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
                seen, pages = self.walk(limit)
                self.assertEqual(seen, everything)
                self.assertEqual(pages, max(1, -(-len(everything) // limit)))

    def test_pagination_with_filters(self):
        mine = self.expected([n for n in self.notes + self.tied if n.provider == self.me])
        first = call(
            self.api, path="/notes", query_string="provider=me&limit=2", **bearer(self.me)
        ).json()
        second = call(
            self.api,
            secrets=SEE_ALL,
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
                    secrets=SEE_ALL,
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
                    secrets=SEE_ALL,
                    path="/notes",
                    query_string=urlencode({"cursor": cursor}),
                    **bearer(self.me),
                )
                self.assertEqual(reply.status, 400)
                self.assertEqual(reply.json()["error"]["code"], "invalid_cursor")


class NoteListFilterTests(TestCase):
    """Categories, the clinic's day (`from`/`to`) and the to-sign queue."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.me = make_staff(first_name="Riley", last_name="Chen")
        cls.np = make_staff(first_name="Jordan", last_name="Park")
        cls.other = make_staff(first_name="Ana", last_name="Silva")
        mine = {"provider": cls.me}
        cls.open_mine = make_note(state="NEW", datetime_of_service=at(1), **mine)
        cls.locked_mine = make_note(state="LKD", datetime_of_service=at(2), **mine)
        cls.signed_mine = make_note(state="SGN", datetime_of_service=at(3), **mine)
        cls.nosig_mine = make_note(state="LKD", kind="encounter_nosig", **mine)
        cls.data_mine = make_note(state="LKD", kind="data", datetime_of_service=at(4), **mine)
        cls.letter_mine = make_note(state="NEW", kind="letter", **mine)
        cls.inpatient_mine = make_note(state="NEW", kind="inpatient", **mine)
        cls.booked_mine = make_note(state="BKD", kind="appointment", **mine)
        cls.noshow_mine = make_note(state="NSW", kind="appointment", **mine)
        cls.locked_theirs = make_note(state="LKD", provider=cls.other)
        # The nurse practitioner's notes that Chen supervises.
        supervised = {"provider": cls.np, "supervising_provider": cls.me}
        cls.to_cosign = make_note(state="LKD", by=cls.np, **supervised)
        change_state(cls.to_cosign, "SGN", by=cls.np)
        cls.cosigned = make_note(state="LKD", by=cls.np, **supervised)
        change_state(cls.cosigned, "SGN", by=cls.np)
        change_state(cls.cosigned, "SGN", by=cls.me)
        cls.np_locked = make_note(state="LKD", **supervised)

    def ids(self, staff=None, **params) -> set[str]:
        reply = call(
            self.api,
            secrets=SEE_ALL,
            path="/notes",
            query_string=urlencode(params),
            **bearer(staff or self.me),
        )
        self.assertEqual(reply.status, 200, reply.raw)
        body = reply.json()
        self.assertEqual(body["count"], len(body["notes"]))
        return {note["id"] for note in body["notes"]}

    def test_categories_that_accept_no_action_are_left_out_unless_asked(self):
        everything = self.ids(limit=100)
        self.assertNotIn(str(self.data_mine.id), everything)
        self.assertNotIn(str(self.letter_mine.id), everything)
        self.assertIn(str(self.inpatient_mine.id), everything)
        self.assertEqual(self.ids(category="data"), {str(self.data_mine.id)})
        self.assertEqual(
            self.ids(category="data,letter"), {str(self.data_mine.id), str(self.letter_mine.id)}
        )

    def test_from_to_is_the_clinics_day(self):
        # 2026-11-02 in UTC-5 runs from 05:00 UTC on the 2nd to 05:00 UTC on the 3rd.
        day = {"from": "2026-11-02T00:00:00-05:00", "to": "2026-11-03T00:00:00-05:00"}
        self.assertEqual(self.ids(**day), {str(self.locked_mine.id)})
        self.assertEqual(
            self.ids(**{"from": "2026-11-01T09:00:00+00:00", "to": "2026-11-02T09:00:00Z"}),
            {str(self.open_mine.id)},
        )
        # An unencoded "+" arrives as a space; a naive time is UTC; an unreadable bound is ignored.
        reply = call(
            self.api,
            secrets=SEE_ALL,
            path="/notes",
            query_string="from=2026-11-03T00:00:00+00:00&to=2026-11-03T23:00:00+00:00",
            **bearer(self.me),
        )
        self.assertEqual({n["id"] for n in reply.json()["notes"]}, {str(self.signed_mine.id)})
        self.assertEqual(
            self.ids(**{"from": "2026-11-02T00:00:00", "to": "2026-11-03"}),
            {str(self.locked_mine.id)},
        )
        self.assertEqual(self.ids(to="tomorrow"), self.ids())

    def test_queue_to_sign(self):
        expected = {
            str(note.id)
            for note in (
                self.open_mine,  # lock & sign
                self.locked_mine,  # sign
                self.inpatient_mine,  # lock & sign
                self.to_cosign,  # co-sign
            )
        }
        # A no-show appointment note locks but is never signed (contract v3): not queued.
        self.assertEqual(self.ids(queue="to_sign"), expected)
        self.assertNotIn(str(self.noshow_mine.id), self.ids(queue="to_sign"))
        self.assertEqual(self.ids(self.np, queue="to_sign"), {str(self.np_locked.id)})
        self.assertEqual(self.ids(self.other, queue="to_sign"), {str(self.locked_theirs.id)})

    def test_queue_matches_to_sign_action_for_every_note(self):
        reply = call(
            self.api, secrets=SEE_ALL, path="/notes", query_string="limit=100", **bearer(self.me)
        )
        queue = self.ids(queue="to_sign")
        for summary in reply.json()["notes"]:
            with self.subTest(note=summary["id"], summary=summary):
                expected_in_queue = bool(
                    {"sign", "lock_sign"} & set(summary["allowed_actions"])
                ) and (summary["provider"]["id"] == str(self.me.id)) != (
                    summary["state"]["code"] == "SGN"
                )
                self.assertEqual(summary["id"] in queue, expected_in_queue, summary)

    def test_unknown_queue_is_ignored(self):
        self.assertEqual(self.ids(queue="mine"), self.ids())

    def test_counts(self):
        params = {
            "day_start": "2026-11-02T00:00:00-05:00",
            "day_end": "2026-11-03T00:00:00-05:00",
            "overdue_before": "2026-11-02T00:00:00+00:00",
        }
        make_note(
            state="BKD", kind="appointment", provider=self.other, datetime_of_service=at(2, 15)
        )
        reply = call(
            self.api,
            secrets=SEE_ALL,
            path="/notes/counts",
            query_string=urlencode(params),
            **bearer(self.me),
        )
        self.assertEqual(reply.status, 200, reply.raw)
        counts = reply.json()
        self.assertEqual(counts["to_sign"], len(self.ids(queue="to_sign")))
        overdue = self.ids(queue="to_sign", to=params["overdue_before"])
        self.assertEqual(counts["overdue"], len(overdue))
        self.assertEqual(counts["open"], len(self.ids(state="NEW,ULK", provider="me")))
        today = self.ids(**{"from": params["day_start"], "to": params["day_end"]})
        self.assertEqual(counts["today"], len(today))
        # The no-show appointment note is not queued any more (contract v3): 4, not 5.
        self.assertEqual(counts, {"to_sign": 4, "overdue": 1, "open": 2, "today": 2})
        reply = call(self.api, secrets=SEE_ALL, path="/notes/counts", **bearer(self.me))
        self.assertEqual(reply.json(), {"to_sign": 4, "overdue": 0, "open": 2, "today": 0})


class NoteListQueryTests(TestCase):
    """GET /notes reads only what a summary needs, in a fixed number of queries."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.me = make_staff()
        cls.supervisor = make_staff(first_name="Sam", last_name="Okafor")

    def list_queries(self, n: int, query_string: str = "") -> list[str]:
        for _ in range(n):
            make_note(state="LKD", provider=self.me, supervising_provider=self.supervisor)
        with CaptureQueriesContext(connection) as queries:
            reply = call(
                self.api,
                secrets=SEE_ALL,
                path="/notes",
                query_string=query_string,
                **bearer(self.me),
            )
        self.assertEqual(len(reply.json()["notes"]), reply.json()["count"])
        return [query["sql"] for query in queries.captured_queries]

    def test_query_count_does_not_grow_with_the_page(self):
        self.assertEqual(len(self.list_queries(2)), len(self.list_queries(20)))
        self.assertEqual(
            len(self.list_queries(2, "order=oldest")), len(self.list_queries(20, "order=oldest"))
        )

    def test_selects_only_the_columns_a_summary_needs(self):
        for query_string in ("", "order=oldest"):
            with self.subTest(query_string=query_string):
                self.check_summary_columns(self.list_queries(3, query_string))

    def check_summary_columns(self, queries: list[str]) -> None:
        page = [sql for sql in queries if "LIMIT" in sql and "canvas_sdk_data_api_note_001" in sql]
        self.assertEqual(len(page), 1, queries)
        select = page[0].lower()
        for column in (
            "social_security_number",
            "birth_date",
            "npi_number",
            "tax_id",
            '"body"',
            "body_content",
            "billing_note",
            "email",
            "phone_number",
            "place_of_service",
        ):
            with self.subTest(column=column):
                self.assertNotIn(column, select)
        for column in ("first_name", "last_name", '"title"', "datetime_of_service", "category"):
            self.assertIn(column, select)


class NoteHistoryTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.me = make_staff()
        cls.note = make_note(state="NEW", provider=cls.me)
        NoteStateChangeEvent.objects.filter(note=cls.note).update(created=at(3, 9))
        change_state(cls.note, "LKD", by=cls.me, at=at(3, 10))
        change_state(cls.note, "SGN", by=cls.me, at=at(3, 11))
        change_state(cls.note, "ULK", at=at(3, 12))

    def history(self, **params):
        reply = call(
            self.api,
            path=f"/notes/{self.note.id}/history",
            query_string=urlencode(params),
            **bearer(self.me),
        )
        self.assertEqual(reply.status, 200, reply.raw)
        return reply.json()

    def test_history_oldest_first_with_who_and_when(self):
        before = dt.datetime.now(UTC)
        body = self.history()
        self.assertEqual(
            body["history"],
            [
                {"state": "NEW", "at": "2026-11-03T09:00:00+00:00", "by": str(self.me.id)},
                {"state": "LKD", "at": "2026-11-03T10:00:00+00:00", "by": str(self.me.id)},
                {"state": "SGN", "at": "2026-11-03T11:00:00+00:00", "by": str(self.me.id)},
                {"state": "ULK", "at": "2026-11-03T12:00:00+00:00", "by": None},
            ],
        )
        self.assertLessEqual(before, dt.datetime.fromisoformat(body["as_of"]))

    def test_since_is_inclusive_and_unreadable_since_is_ignored(self):
        states = [e["state"] for e in self.history(since="2026-11-03T11:00:00Z")["history"]]
        self.assertEqual(states, ["SGN", "ULK"])
        self.assertEqual(len(self.history(since="yesterday")["history"]), 4)

    def test_bad_and_unknown_ids(self):
        for note_id, status in (("nope", 400), (str(uuid.uuid4()), 404)):
            reply = call(self.api, path=f"/notes/{note_id}/history", **bearer(self.me))
            self.assertEqual(reply.status, status)
