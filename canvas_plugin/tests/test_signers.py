"""Who may sign, lock & sign and unlock: the note's provider or supervising provider."""

from canvas_sdk.test_utils.factories import PatientFactory
from django.test import TestCase
from note_sign_api.handlers.api import NoteApi

from .helpers import bearer, call, change_state, join_care_team, make_note, make_staff


class SignerRuleTests(TestCase):
    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.chen = make_staff(first_name="Riley", last_name="Chen")
        cls.nurse_practitioner = make_staff(first_name="Jordan", last_name="Park")
        cls.other_provider = make_staff(first_name="Ana", last_name="Silva")
        cls.front_desk = make_staff(first_name="Frank", last_name="Desk")
        # Everyone here sees the notes (on the patient's care team): the signer rule decides.
        cls.patient = PatientFactory()
        for staff in (cls.other_provider, cls.front_desk):
            join_care_team(staff, cls.patient)

    def post(self, staff, note, action, secrets=None):
        return call(
            self.api,
            method="POST",
            path=f"/notes/{note.id}/{action}",
            secrets=secrets,
            **bearer(staff),
        )

    def get(self, staff, note):
        return call(self.api, path=f"/notes/{note.id}", **bearer(staff)).json()

    def test_someone_elses_note_is_refused(self):
        cases = [("sign", "LKD"), ("lock_sign", "NEW"), ("lock_sign", "LKD"), ("unlock", "LKD")]
        cases.append(("unlock", "SGN"))
        for staff in (self.front_desk, self.other_provider):
            for action, state in cases:
                with self.subTest(staff=staff.first_name, action=action, state=state):
                    note = make_note(
                        patient=self.patient,
                        state=state,
                        provider=self.chen,
                        supervising_provider=self.nurse_practitioner,
                    )
                    reply = self.post(staff, note, action)
                    self.assertEqual(reply.status, 403)
                    self.assertEqual(reply.json()["error"]["code"], "not_note_provider")
                    self.assertEqual(set(reply.json()), {"error"})
                    self.assertEqual(reply.effects, [])
                    self.assertNotIn(action, self.get(staff, note)["allowed_actions"])

    def test_anyone_may_lock_check_in_and_mark_no_show(self):
        note = make_note(patient=self.patient, state="NEW", provider=self.chen)
        self.assertEqual(self.post(self.front_desk, note, "lock").status, 202)
        appointment = make_note(
            patient=self.patient, state="BKD", kind="appointment", provider=self.chen
        )
        self.assertEqual(self.post(self.front_desk, appointment, "checkin").status, 202)
        self.assertEqual(self.post(self.front_desk, appointment, "noshow").status, 202)
        self.assertEqual(self.get(self.front_desk, note)["allowed_actions"], ["lock"])

    def test_any_staff_policy_lets_every_staff_member_sign(self):
        note = make_note(patient=self.patient, state="LKD", provider=self.chen)
        for value in ("any_staff", " ANY_STAFF "):
            with self.subTest(value=value):
                secrets = {"signing_policy": value}
                self.assertEqual(self.post(self.front_desk, note, "sign", secrets).status, 202)
        for value in ("provider", "", "anyone"):
            with self.subTest(value=value):
                reply = self.post(self.front_desk, note, "sign", {"signing_policy": value})
                self.assertEqual(reply.status, 403)

    def test_supervising_provider_co_signs_once(self):
        note = make_note(
            patient=self.patient,
            state="LKD",
            provider=self.nurse_practitioner,
            supervising_provider=self.chen,
            by=self.nurse_practitioner,
        )
        self.assertEqual(self.post(self.nurse_practitioner, note, "sign").status, 202)
        change_state(note, "SGN", by=self.nurse_practitioner)  # Canvas applies the effect
        # The note's provider has signed; signing again is not theirs to do.
        reply = self.post(self.nurse_practitioner, note, "sign")
        self.assertEqual((reply.status, reply.json()["error"]["code"]), (409, "already_signed"))
        self.assertNotIn("sign", self.get(self.nurse_practitioner, note)["allowed_actions"])

        self.assertIn("sign", self.get(self.chen, note)["allowed_actions"])
        reply = self.post(self.chen, note, "sign")
        self.assertEqual(reply.status, 202)
        self.assertEqual(reply.json()["effects"], ["SIGN_NOTE"])
        self.assertEqual(reply.json()["from_state"], "SGN")
        self.assertEqual(reply.json()["expected_state"], {"code": "SGN", "label": "Signed"})
        change_state(note, "SGN", by=self.chen)

        reply = self.post(self.chen, note, "sign")
        self.assertEqual(reply.status, 409)
        self.assertEqual(reply.json()["error"]["code"], "already_signed")
        self.assertEqual(reply.json()["state"], "SGN")
        self.assertNotIn("sign", self.get(self.chen, note)["allowed_actions"])

        # After an unlock and a new lock, each may sign again.
        change_state(note, "ULK", by=self.chen)
        change_state(note, "LKD", by=self.nurse_practitioner)
        self.assertEqual(self.post(self.chen, note, "sign").status, 202)

    def test_lock_sign_is_not_a_co_signature(self):
        note = make_note(
            patient=self.patient,
            state="SGN",
            provider=self.chen,
            supervising_provider=self.nurse_practitioner,
        )
        reply = self.post(self.nurse_practitioner, note, "lock_sign")
        self.assertEqual(reply.status, 409)
        self.assertEqual(reply.json()["error"]["code"], "action_not_allowed")
