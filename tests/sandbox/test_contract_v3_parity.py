"""Contract v3's shared cases (canvas_plugin/tests/contract_cases.py) against the sandbox over HTTP.

The plugin runs the same rows with SDK events (canvas_plugin/tests/test_contract_v3.py).
The cast: `provider` writes the notes; `frontdesk` is administrative only; `rn`, a
registered nurse, is on the care team of the notes' patient; `locum` is a physician
with no tie to them. Here the sandbox's Canvas applies the effects itself (check-in
converts the appointment note into an encounter note).
"""

import datetime as dt
import uuid
import zoneinfo

from django.test import SimpleTestCase

from tests.live import LiveSandbox, sandbox
from tests.plugin_modules import plugin_module

contract_cases = plugin_module("tests.contract_cases")

CAST = {"provider": "provider", "front_desk": "frontdesk", "care_team": "rn", "unrelated": "locum"}
PATIENT = "Vera Parity"


class ContractV3ParityTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.sandbox.create_note(state="NEW", kind="encounter", patient=PATIENT)
        cls.sandbox.add_to_care_team(PATIENT, CAST["care_team"])
        cls.tokens = {
            role: cls.sandbox.issue_tokens(username)["access_token"]
            for role, username in CAST.items()
        }
        me = cls.sandbox.api("GET", "/me", token=cls.tokens["provider"]).json()
        zone = zoneinfo.ZoneInfo(me["installation_time_zone"])
        today = dt.datetime.now(zone).date()
        cls.today = dt.datetime.combine(today, dt.time.min, tzinfo=zone)
        cls.tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=zone)

    def setUp(self):
        self.sandbox.reset_faults()  # effects land at once

    def note(self, kind: str, state: str, day: str = "today") -> dict:
        when = self.today + dt.timedelta(hours=12)
        if day != "today":
            when = self.today - dt.timedelta(days=2)
        return self.sandbox.create_note(
            state=state, kind=kind, patient=PATIENT, date=when.isoformat(), supervising_provider=""
        )

    def get(self, caller: str, path: str, **params):
        return self.sandbox.api("GET", path, token=self.tokens[caller], params=params)

    def post(self, caller: str, path: str):
        return self.sandbox.api("POST", path, token=self.tokens[caller])

    def listed(self, caller: str, **params) -> list[dict]:
        notes, cursor = [], None
        while True:
            page = self.get(caller, "/notes", **params, **({"cursor": cursor} if cursor else {}))
            self.assertEqual(page.status_code, 200, page.text)
            notes += page.json()["notes"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                return notes

    def test_every_visibility_case(self):
        self.assertTrue(contract_cases.VISIBILITY_CASES)
        unknown = self.get("provider", f"/notes/{uuid.uuid4()}")
        no_content = self.get("provider", f"/notes/{uuid.uuid4()}/content")
        for caller, kind, state, day, visible in contract_cases.VISIBILITY_CASES:
            with self.subTest(caller=caller, kind=kind, state=state, day=day):
                note = self.note(kind, state, day)
                self.sandbox.add_command(note["id"], "plan", data={"narrative": "Recheck"})
                ids = {n["id"] for n in self.listed(caller, patient=PATIENT)}
                self.assertEqual(note["id"] in ids, visible)
                read = self.get(caller, f"/notes/{note['id']}")
                self.assertEqual(read.status_code, 200 if visible else 404, read.text)
                content = self.get(caller, f"/notes/{note['id']}/content")
                self.assertEqual(content.status_code, 200 if visible else 404, content.text)
                if not visible:
                    self.assertEqual(read.content, unknown.content)
                    self.assertEqual(content.content, no_content.content)
                    action = self.post(caller, f"/notes/{note['id']}/lock")
                    self.assertEqual((action.status_code, action.content), (404, unknown.content))
                    self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], state)

    def test_every_visit(self):
        self.assertTrue(contract_cases.VISIT_CASES)
        for start, steps in contract_cases.VISIT_CASES:
            with self.subTest(start=start, steps=steps):
                note = self.note("appointment", start)
                for action, expected in steps:
                    reply = self.post("provider", f"/notes/{note['id']}/{action}")
                    self.assertEqual(reply.status_code, 202, reply.text)
                    self.assertEqual(reply.json()["expected_state"]["code"], expected)
                    self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], expected)
                shown = self.get("provider", f"/notes/{note['id']}").json()
                self.assertEqual(shown["state"]["code"], steps[-1][1])
                self.assertEqual(shown["note_type"]["category"], "encounter")

    def test_a_no_show_is_never_offered_a_signature(self):
        self.assertTrue(contract_cases.NO_SHOW_CASES)
        for state, action, status, code in contract_cases.NO_SHOW_CASES:
            with self.subTest(state=state, action=action):
                note = self.note("appointment", "NSW")
                if state != "NSW":
                    locked = self.post("provider", f"/notes/{note['id']}/lock")
                    self.assertEqual(locked.status_code, 202, locked.text)
                    self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], state)
                shown = self.get("provider", f"/notes/{note['id']}").json()
                self.assertFalse({"sign", "lock_sign"} & set(shown["allowed_actions"]))
                queued = {n["id"] for n in self.listed("provider", queue="to_sign")}
                self.assertNotIn(note["id"], queued)
                reply = self.post("provider", f"/notes/{note['id']}/{action}")
                self.assertEqual(reply.status_code, status, reply.text)
                self.assertEqual(reply.json()["error"]["code"], code)

    def test_counts_match_their_lists(self):
        self.assertTrue(contract_cases.COUNT_CASES)
        self.note("appointment", "BKD")  # the front desk has a day to see
        bounds = {"{today}": self.today.isoformat(), "{tomorrow}": self.tomorrow.isoformat()}
        seen = {}
        for caller, count, query in contract_cases.COUNT_CASES:
            with self.subTest(caller=caller, count=count):
                counts = self.get(
                    caller,
                    "/notes/counts",
                    day_start=self.today.isoformat(),
                    day_end=self.tomorrow.isoformat(),
                    overdue_before=self.today.isoformat(),
                ).json()
                params = {key: bounds.get(value, value) for key, value in query.items()}
                self.assertEqual(counts[count], len(self.listed(caller, **params)))
                seen[(caller, count)] = counts[count]
        # Not vacuous: the seeded week gives the provider and the front desk work.
        self.assertGreater(seen[("provider", "to_sign")], 0)
        self.assertGreater(seen[("front_desk", "today")], 0)


class DateFilterParityTests(SimpleTestCase):
    """contract_cases.DATE_FILTER_CASES: a sandbox of its own, its installation on that zone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = LiveSandbox.start(
            extra_env={"SANDBOX_CLINIC_TIME_ZONE": contract_cases.DATE_FILTER_ZONE}
        )
        cls.addClassCleanup(cls.sandbox.stop)
        cls.token = cls.sandbox.issue_tokens(CAST["provider"])["access_token"]

    def test_date_is_the_installations_day(self):
        me = self.sandbox.api("GET", "/me", token=self.token).json()
        self.assertEqual(me["installation_time_zone"], contract_cases.DATE_FILTER_ZONE)
        zone = zoneinfo.ZoneInfo(contract_cases.DATE_FILTER_ZONE)
        notes = {
            when: self.sandbox.create_note(
                state="NEW",
                kind="encounter",
                patient=PATIENT,
                date=dt.datetime.fromisoformat(when).replace(tzinfo=zone).isoformat(),
            )
            for when, _ in contract_cases.DATE_FILTER_CASES
        }
        params = {"patient": PATIENT, "date": contract_cases.DATE_FILTER_DAY, "limit": 100}
        page = self.sandbox.api("GET", "/notes", token=self.token, params=params)
        self.assertEqual(page.status_code, 200, page.text)
        listed = {note["id"] for note in page.json()["notes"]}
        for when, expected in contract_cases.DATE_FILTER_CASES:
            with self.subTest(when=when):
                self.assertEqual(notes[when]["id"] in listed, expected)
