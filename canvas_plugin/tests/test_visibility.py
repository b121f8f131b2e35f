"""Minimum necessary (contract v3): who sees which notes, in lists, counts, reads and actions."""

import datetime as dt
import uuid

from canvas_sdk.test_utils.factories import PatientFactory
from canvas_sdk.v1.data import StaffRole
from django.test import TestCase
from note_sign_api.handlers.api import NoteApi

from .helpers import add_command, bearer, call, give_role, join_care_team, make_note, make_staff

#: What the visit's note says (its content: patient data only those related to it may read).
NARRATIVE = "Intermittent chest tightness after the marathon; ECG ordered"


class VisibilityTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.provider = make_staff(first_name="Riley", last_name="Chen")
        cls.supervisor = make_staff(first_name="Sam", last_name="Okafor")
        cls.provider.default_supervising_provider = cls.supervisor
        cls.provider.save()
        cls.nurse = make_staff(first_name="Casey", last_name="Nguyen")
        cls.stranger = make_staff(first_name="Drew", last_name="Vance")
        cls.unrelated = make_staff(first_name="Morgan", last_name="Reyes")  # no tie at all
        cls.desk = make_staff(first_name="Jordan", last_name="Lee")
        give_role(cls.desk, domain=StaffRole.RoleDomain.ADMINISTRATIVE)
        give_role(cls.nurse, domain=StaffRole.RoleDomain.CLINICAL)
        cls.patient = PatientFactory()
        join_care_team(cls.nurse, cls.patient)
        join_care_team(cls.stranger, cls.patient, status="inactive")
        now = dt.datetime.now(dt.UTC)
        cls.visit = make_note(state="NEW", provider=cls.provider, patient=cls.patient)
        add_command(cls.visit, "hpi", {"narrative": NARRATIVE}, by=cls.provider)
        cls.other_patients = make_note(state="NEW", provider=cls.provider)
        cls.today = make_note(
            state="BKD", kind="appointment", provider=cls.provider, datetime_of_service=now
        )
        cls.yesterday = make_note(
            state="BKD",
            kind="appointment",
            provider=cls.provider,
            datetime_of_service=now - dt.timedelta(days=2),
        )

    def ids(self, staff, secrets=None) -> set[str]:
        reply = call(self.api, path="/notes", secrets=secrets, **bearer(staff))
        self.assertEqual(reply.status, 200, reply.raw)
        body = reply.json()
        self.assertEqual(body["count"], len(body["notes"]))
        return {note["id"] for note in body["notes"]}

    def test_each_caller_sees_what_they_are_related_to(self):
        every = {str(n.id) for n in (self.visit, self.other_patients, self.today, self.yesterday)}
        cases = [
            (self.provider, every),
            (self.supervisor, every),  # the provider's default supervising provider
            (self.nurse, {str(self.visit.id)}),  # an active care-team member of the patient
            (self.stranger, set()),  # an inactive membership counts for nothing
            (self.desk, {str(self.today.id)}),  # administrative only: today's appointments
        ]
        for staff, expected in cases:
            with self.subTest(staff=staff.first_name):
                self.assertEqual(self.ids(staff), expected)

    def test_visibility_all_keeps_the_old_behaviour(self):
        self.assertEqual(len(self.ids(self.stranger, {"visibility": "all"})), 4)
        self.assertEqual(len(self.ids(self.desk, {"visibility": " ALL "})), 4)

    def test_an_invisible_note_answers_as_an_unknown_one_on_reads_and_actions(self):
        absent = call(self.api, path=f"/notes/{uuid.uuid4()}", **bearer(self.desk))
        for method, path in (
            ("GET", f"/notes/{self.visit.id}"),
            ("GET", f"/notes/{self.visit.id}/history"),
            ("GET", f"/notes/{self.visit.id}/content"),
            ("POST", f"/notes/{self.visit.id}/lock_sign"),
            ("POST", f"/notes/{self.visit.id}/lock"),
        ):
            for staff in (self.desk, self.stranger, self.unrelated):
                with self.subTest(path=path, staff=staff.first_name):
                    reply = call(self.api, method=method, path=path, **bearer(staff))
                    self.assertEqual(reply.status, 404)
                    self.assertEqual(reply.raw, absent.raw)
                    self.assertEqual(reply.effects, [])

    def test_the_content_of_a_note_the_caller_may_not_see_is_that_of_no_note(self):
        # Another staff member's real note, with content: to a caller unrelated to it
        # the content read answers exactly as for an id no note has.
        absent = call(self.api, path=f"/notes/{uuid.uuid4()}/content", **bearer(self.unrelated))
        self.assertEqual(absent.status, 404)
        for staff in (self.unrelated, self.stranger, self.desk):
            with self.subTest(staff=staff.first_name):
                reply = call(self.api, path=f"/notes/{self.visit.id}/content", **bearer(staff))
                self.assertEqual(
                    (reply.status, reply.headers, reply.raw),
                    (absent.status, absent.headers, absent.raw),
                )
        # Those related to it read it: the note's content is real.
        for staff in (self.provider, self.supervisor, self.nurse):
            with self.subTest(staff=staff.first_name):
                reply = call(self.api, path=f"/notes/{self.visit.id}/content", **bearer(staff))
                self.assertEqual(reply.status, 200, reply.raw)
                self.assertEqual([c["summary"] for c in reply.json()["commands"]], [NARRATIVE])

    def test_the_front_desk_checks_in_todays_appointment(self):
        reply = call(
            self.api, method="POST", path=f"/notes/{self.today.id}/checkin", **bearer(self.desk)
        )
        self.assertEqual(reply.status, 202, reply.raw)

    def test_counts_leave_out_what_the_caller_may_not_see(self):
        reply = call(self.api, path="/notes/counts", **bearer(self.stranger))
        self.assertEqual(reply.json(), {"to_sign": 0, "overdue": 0, "open": 0, "today": 0})

    def test_the_front_desk_follows_a_visit_it_checked_in_until_it_is_locked(self):
        # Check-in converts the appointment into an encounter note in CVD (Canvas).
        now = dt.datetime.now(dt.UTC)
        visit = make_note(state="CVD", provider=self.provider, datetime_of_service=now)
        locked = make_note(state="LKD", provider=self.provider, datetime_of_service=now)
        old = make_note(
            state="CVD", provider=self.provider, datetime_of_service=now - dt.timedelta(days=2)
        )
        seen = self.ids(self.desk)
        self.assertIn(str(visit.id), seen)
        self.assertNotIn(str(locked.id), seen)  # the provider's work from here on
        self.assertNotIn(str(old.id), seen)  # not the clinic's today
