"""The sandbox's GET /notes/history (contract v3) over HTTP, and its queries in-process."""

import json
import uuid

from django.test import SimpleTestCase

from tests.live import sandbox
from tests.plugin_modules import plugin_module

contract_cases = plugin_module("tests.contract_cases")

#: Counts the sandbox's queries for one batched read of the first `n` notes.
QUERY_SCRIPT = """
import json
from django.db import connection
from django.test.utils import CaptureQueriesContext
from canvas_sandbox.clinic import listing
from canvas_sandbox.clinic.models import Note, Staff
actor = Staff.objects.get(user__username="provider")
mine = Note.objects.filter(provider=actor).order_by("pk")
ids = ",".join(str(pk) for pk in mine.values_list("pk", flat=True)[:{n}])
with CaptureQueriesContext(connection) as queries:
    body = listing.notes_history(actor=actor, ids=ids, since=None)
print(json.dumps({{"notes": len(body["notes"]), "queries": len(queries)}}))
"""


#: Counts the sandbox's queries for the provider's co-sign rows of patients named `patient`.
COSIGN_QUERY_SCRIPT = """
import json
from django.db import connection
from django.test.utils import CaptureQueriesContext
from canvas_sandbox.clinic import listing
from canvas_sandbox.clinic.models import Staff
actor = Staff.objects.get(user__username="provider")
with CaptureQueriesContext(connection) as queries:
    body = listing.note_list(actor=actor, queue="to_sign", patient="{patient}")
rows = [n for n in body["notes"] if n["signed_by"]]
print(json.dumps({{"rows": len(rows), "queries": len(queries)}}))
"""


class NotesHistoryTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        cls.me = cls.sandbox.api("GET", "/me", token=cls.token).json()["staff"]["id"]

    def ask(self, ids, **params):
        return self.sandbox.api(
            "GET", "/notes/history", token=self.token, params={"ids": ",".join(ids), **params}
        )

    def test_states_and_histories_of_several_notes_in_one_call(self):
        locked = self.sandbox.create_note(state="NEW", kind="encounter")
        signed = self.sandbox.create_note(state="SGN", kind="encounter")
        self.assertEqual(self.sandbox.api("POST", f"/notes/{locked['id']}/lock",
                                          token=self.token).status_code, 202)  # fmt: skip
        self.sandbox.wait_for_state(locked["id"], "LKD")
        response = self.ask([locked["id"], signed["id"], str(uuid.uuid4())])
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.headers["Cache-Control"], "no-store")
        body = response.json()
        self.assertEqual(set(body), {"notes", "as_of"})
        self.assertEqual(set(body["notes"]), {locked["id"], signed["id"]})
        entry = body["notes"][locked["id"]]
        self.assertEqual(set(entry), {"state", "allowed_actions", "history"})
        self.assertEqual(entry["state"]["code"], "LKD")
        self.assertEqual(entry["state"]["changed_by"], self.me)
        last = entry["history"][-1]
        self.assertEqual((last["state"], last["by"]), ("LKD", self.me))
        self.assertEqual(entry["state"], self.sandbox.note(locked["id"])["state"])
        # `since` keeps the entries at or after it; the state still says the last change.
        later = self.ask([locked["id"]], since=last["at"]).json()["notes"][locked["id"]]
        self.assertEqual([e["state"] for e in later["history"]], ["LKD"])

    def test_unauthenticated_is_401(self):
        response = self.sandbox.api("GET", "/notes/history", params={"ids": ""})
        self.assertEqual(response.status_code, 401)

    def test_every_contract_case(self):
        for label, status, code in contract_cases.BATCH_ID_CASES:
            with self.subTest(label=label):
                response = self.ask(contract_cases.batch_ids(label))
                self.assertEqual(response.status_code, status, response.text)
                if code:
                    self.assertEqual(response.json()["error"]["code"], code)
                else:
                    self.assertEqual(response.json()["notes"], {})

    def test_queries_do_not_grow_with_the_notes(self):
        for _ in range(12):
            self.sandbox.create_note(state="LKD", kind="encounter")
        counts = []
        for n in (1, 12):
            result = self.sandbox.run_command("shell", "-c", QUERY_SCRIPT.format(n=n))
            self.assertEqual(result.returncode, 0, result.stderr[-2000:])
            counts.append(json.loads(result.stdout.strip().splitlines()[-1]))
        self.assertEqual([c["notes"] for c in counts], [1, 12])
        # One query for the notes, one for every state change of them, and the
        # caller's visibility facts (the plugin's variables, Canvas's settings,
        # the caller's roles) read once per call: the same count for 1 note or 12.
        one, twelve = (c["queries"] for c in counts)
        self.assertEqual(one, twelve)
        self.assertLessEqual(twelve, 5)

    def test_co_sign_rows_name_their_signer_without_a_query_each(self):
        nurse = self.sandbox.issue_tokens("nurse")["access_token"]
        counts = []
        for patient, n in (("Cosignone", 1), ("Cosignmany", 4)):
            for index in range(n):
                # Signed by the nurse practitioner `provider` supervises: a co-signature.
                note = self.sandbox.create_note(state="LKD", kind="encounter", provider="nurse",
                                                patient=f"{patient} P{index}")  # fmt: skip
                signed = self.sandbox.api("POST", f"/notes/{note['id']}/sign", token=nurse)
                self.assertEqual(signed.status_code, 202, signed.text)
                self.sandbox.wait_for_state(note["id"], "SGN")
            script = COSIGN_QUERY_SCRIPT.format(patient=patient)
            result = self.sandbox.run_command("shell", "-c", script)
            self.assertEqual(result.returncode, 0, result.stderr[-2000:])
            counts.append(json.loads(result.stdout.strip().splitlines()[-1]))
        self.assertEqual([c["rows"] for c in counts], [1, 4])
        self.assertEqual(counts[0]["queries"], counts[1]["queries"])
