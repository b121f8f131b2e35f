"""The documented cases (contract_cases.py), through the real handler with SDK events.

The sandbox's tests run the same rows over HTTP; both must answer the same status,
error code and expected state.
"""

from django.test import TestCase
from note_sign_api.handlers.api import NoteApi

from .contract_cases import CASES, SIGN_AGAIN_CASES
from .helpers import bearer, call, change_state, make_note, make_staff, note_type


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
        return make_note(
            state=state,
            note_type_version=self.types[key],
            provider=self.callers["provider"],
            supervising_provider=self.callers["supervising"],
            by=self.callers["provider"],
        )

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
