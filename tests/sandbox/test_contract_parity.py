"""The documented cases of the plugin API's rules, against the sandbox over HTTP.

canvas_plugin/tests/contract_cases.py is written by hand from Canvas's
documentation; the plugin's tests run every row as SDK events, these run
every row against the sandbox, so both answer the same status, code and
expected state. The note's provider is the nurse practitioner `nurse`, its
supervising provider `provider`; "other" is `provider2`, on the care team
of the notes' patient (contract v3: a caller sees only notes they are related to).
"""

import datetime as dt

from django.test import SimpleTestCase

from tests.live import sandbox
from tests.plugin_modules import plugin_module

contract_cases = plugin_module("tests.contract_cases")

CALLERS = {"provider": "nurse", "supervising": "provider", "other": "provider2"}


class ContractParityTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.sandbox.add_to_care_team("Test Patient", CALLERS["other"])
        cls.tokens = {
            role: cls.sandbox.issue_tokens(username)["access_token"]
            for role, username in CALLERS.items()
        }

    def _note(self, *, category, is_sig_required, state):
        return self.sandbox.create_note(
            state=state,
            category=category,
            is_sig_required=is_sig_required,
            provider=CALLERS["provider"],
            supervising_provider=CALLERS["supervising"],
        )

    def _post(self, note, action, caller):
        return self.sandbox.api("POST", f"/notes/{note['id']}/{action}", token=self.tokens[caller])

    def assertOutcome(self, response, note, status, code, expected):
        self.assertEqual(response.status_code, status, response.text)
        body = response.json()
        if status == 202:
            self.assertEqual(body["expected_state"]["code"], expected)
            # The effects land (no delay here): the note ends where the 202 said.
            self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], expected)
        else:
            self.assertEqual(body["error"]["code"], code)
            if status == 409:
                self.assertIn("state", body)

    def test_the_table_has_rows(self):
        self.assertGreaterEqual(len(contract_cases.CASES), 40)
        self.assertTrue(contract_cases.SIGN_AGAIN_CASES)

    def test_every_documented_case(self):
        for row in contract_cases.CASES:
            category, is_sig_required, state, action, caller, status, code, expected = row
            with self.subTest(row=row):
                note = self._note(category=category, is_sig_required=is_sig_required, state=state)
                response = self._post(note, action, caller)
                self.assertOutcome(response, note, status, code, expected)
                if status != 202:
                    self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], state)

    def test_signing_again_depends_on_who_signed_since_the_last_lock(self):
        for row in contract_cases.SIGN_AGAIN_CASES:
            signed_by, caller, status, code, expected = row
            with self.subTest(row=row):
                note = self._note(category="encounter", is_sig_required=True, state="LKD")
                first = self._post(note, "sign", signed_by)
                self.assertEqual(first.status_code, 202, first.text)
                self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "SGN")
                self.assertOutcome(self._post(note, "sign", caller), note, status, code, expected)


class ListOrderParityTests(SimpleTestCase):
    """The shared `order` cases of GET /notes (the plugin runs them as SDK events)."""

    PATIENT = "Orla Parity"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.sandbox.add_to_care_team("Test Patient", CALLERS["other"])
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        day = dt.datetime(2024, 2, 2, 9, tzinfo=dt.UTC)
        hours = [5, 0, 3, 3, 3, 1]  # three notes tie on their date of service
        cls.notes = [
            cls.sandbox.create_note(
                state="NEW",
                kind="encounter",
                patient=cls.PATIENT,
                date=(day + dt.timedelta(hours=h)).isoformat(),
            )
            for h in hours
        ]

    def expected(self, order):
        by_id = sorted(self.notes, key=lambda note: note["id"])
        ordered = sorted(
            by_id,
            key=lambda note: dt.datetime.fromisoformat(note["datetime_of_service"]),
            reverse=order == "newest",
        )
        return [note["id"] for note in ordered]

    def get(self, **params):
        query = {"patient": self.PATIENT, **params}
        query = {key: value for key, value in query.items() if value is not None}
        return self.sandbox.api("GET", "/notes", token=self.token, params=query)

    def test_the_tables_have_rows(self):
        self.assertTrue(contract_cases.LIST_ORDER_CASES)
        self.assertTrue(contract_cases.CURSOR_ORDER_CASES)

    def test_every_order_case(self):
        for order, expected in contract_cases.LIST_ORDER_CASES:
            with self.subTest(order=order):
                response = self.get(order=order)
                self.assertEqual(response.status_code, 200, response.text)
                body = response.json()
                self.assertEqual([note["id"] for note in body["notes"]], self.expected(expected))
                self.assertEqual(body["count"], len(self.notes))

    def test_a_cursor_is_only_good_for_its_order(self):
        for made_with, used_with, status, code in contract_cases.CURSOR_ORDER_CASES:
            with self.subTest(made_with=made_with, used_with=used_with):
                cursor = self.get(order=made_with, limit=2).json()["next_cursor"]
                response = self.get(order=used_with, limit=2, cursor=cursor)
                self.assertEqual(response.status_code, status, response.text)
                if status == 200:
                    expected = "oldest" if used_with == "oldest" else "newest"
                    ids = [note["id"] for note in response.json()["notes"]]
                    self.assertEqual(ids, self.expected(expected)[2:4])
                else:
                    self.assertEqual(response.json()["error"]["code"], code)
