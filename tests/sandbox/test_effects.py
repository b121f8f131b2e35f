"""Effects that land later, as on Canvas: delays, refusals at application, veto, reject, history."""

import datetime as dt

from django.test import SimpleTestCase

from tests.live import sandbox


def _at(text):
    return dt.datetime.fromisoformat(text)


class DelayedEffectsTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        cls.me = cls.sandbox.api("GET", "/me", token=cls.token).json()["staff"]["id"]

    def setUp(self):
        self.addCleanup(self.sandbox.reset_faults)

    def _post(self, note, action, token=None):
        return self.sandbox.api("POST", f"/notes/{note['id']}/{action}", token=token or self.token)

    def _get(self, note):
        return self.sandbox.api("GET", f"/notes/{note['id']}", token=self.token).json()

    def test_an_accepted_action_reads_as_the_old_state_until_its_effects_land(self):
        self.sandbox.set_faults(effect_delay_ms=1500)
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        response = self._post(note, "lock")
        self.assertEqual(response.status_code, 202, response.text)
        body = response.json()
        self.assertEqual(
            set(body),
            {"note_id", "action", "effects", "from_state", "expected_state", "accepted_at"},
        )
        self.assertEqual(body["expected_state"], {"code": "LKD", "label": "Locked"})
        self.assertEqual(self._get(note)["state"]["code"], "NEW")
        self.assertEqual([e["status"] for e in self.sandbox.effects(note["id"])], ["pending"])
        landed = self.sandbox.wait_for_state(note["id"], "LKD")
        self.assertEqual(landed["state"]["changed_by"], self.me)
        history = self.sandbox.api("GET", f"/notes/{note['id']}/history", token=self.token).json()
        self.assertEqual(set(history), {"history", "as_of"})
        last = history["history"][-1]
        self.assertEqual((last["state"], last["by"]), ("LKD", self.me))
        delay = _at(last["at"]) - _at(body["accepted_at"])
        self.assertGreaterEqual(delay, dt.timedelta(milliseconds=1500))
        self.assertEqual(last["at"], landed["state"]["changed_at"])

    def test_a_transition_that_became_invalid_is_refused_silently_when_applied(self):
        self.sandbox.set_faults(effect_delay_ms=1500)
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        # Both are accepted against NEW; when they land, the second finds LKD.
        self.assertEqual(self._post(note, "lock").status_code, 202)
        self.assertEqual(self._post(note, "lock").status_code, 202)
        effects = self.sandbox.wait_for_effects(note["id"])
        self.assertEqual([e["status"] for e in effects], ["applied", "refused"])
        self.assertEqual(self._get(note)["state"]["code"], "LKD")
        self.assertEqual([e["state"] for e in self.sandbox.history(note["id"])], ["NEW", "LKD"])

    def test_a_second_signature_by_the_same_signer_is_refused_when_applied(self):
        self.sandbox.set_faults(effect_delay_ms=1500)
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        # Both are accepted against LKD; when the second lands, this signer has already
        # signed since the last lock, and signing again is only a co-signature.
        self.assertEqual(self._post(note, "sign").status_code, 202)
        self.assertEqual(self._post(note, "sign").status_code, 202)
        effects = self.sandbox.wait_for_effects(note["id"])
        self.assertEqual([e["status"] for e in effects], ["applied", "refused"])
        history = self.sandbox.history(note["id"])
        self.assertEqual(
            [(e["state"], e["actor"]) for e in history], [("LKD", None), ("SGN", self.me)]
        )

    def test_a_vetoed_note_never_locks_or_signs_but_other_effects_land(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter", veto=True)
        self.assertEqual(self._post(note, "lock_sign").status_code, 202)
        self.assertEqual(self._get(note)["state"]["code"], "NEW")
        self.assertEqual(
            [e["status"] for e in self.sandbox.effects(note["id"])], ["vetoed", "vetoed"]
        )
        appointment = self.sandbox.create_note(state="BKD", kind="appointment")
        self.assertEqual(self.sandbox.veto(appointment["id"]), {
            "note_id": appointment["id"], "veto": True,
        })  # fmt: skip
        self.assertEqual(self._post(appointment, "checkin").status_code, 202)
        self.assertEqual(self._get(appointment)["state"]["code"], "CVD")
        self.sandbox.veto(note["id"], False)
        self.assertEqual(self._post(note, "lock").status_code, 202)
        self.assertEqual(self._get(note)["state"]["code"], "LKD")

    def test_rejected_effects_never_land(self):
        self.sandbox.set_faults(effect_reject_rate=1)
        note = self.sandbox.create_note(state="LKD", kind="encounter")
        self.assertEqual(self._post(note, "sign").status_code, 202)
        self.assertEqual(self._get(note)["state"]["code"], "LKD")
        self.assertEqual([e["status"] for e in self.sandbox.effects(note["id"])], ["rejected"])
        self.assertEqual([e["state"] for e in self.sandbox.history(note["id"])], ["LKD"])

    def test_reject_rate_is_deterministic_for_a_seed(self):
        runs = []
        for _ in range(2):
            self.sandbox.set_faults(effect_reject_rate=0.5, seed=5)
            notes = [self.sandbox.create_note(state="NEW", kind="encounter") for _ in range(12)]
            for note in notes:
                self.assertEqual(self._post(note, "lock").status_code, 202)
            runs.append([self._get(note)["state"]["code"] for note in notes])
        self.assertEqual(runs[0], runs[1])
        self.assertEqual(set(runs[0]), {"NEW", "LKD"})

    def test_bad_effect_settings_are_400(self):
        for body in ({"effect_reject_rate": 1.5}, {"effect_delay_ms": -1}):
            with self.subTest(body=body):
                response = self.sandbox.http.post(
                    self.sandbox.url("/sandbox/control/faults"),
                    json=body,
                    headers={"X-Sandbox-Control": "1"},
                    timeout=10,
                )
                self.assertEqual(response.status_code, 400)


class HistoryAndCoSignatureTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.tokens = {
            name: cls.sandbox.issue_tokens(name)["access_token"]
            for name in ("provider", "nurse", "frontdesk")
        }
        cls.ids = {
            name: cls.sandbox.api("GET", "/me", token=token).json()["staff"]["id"]
            for name, token in cls.tokens.items()
        }

    def _post(self, note, action, who):
        return self.sandbox.api("POST", f"/notes/{note['id']}/{action}", token=self.tokens[who])

    def _history(self, note, **params):
        response = self.sandbox.api(
            "GET", f"/notes/{note['id']}/history", token=self.tokens["provider"], params=params
        )
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    def _to_sign(self, who):
        response = self.sandbox.api(
            "GET", "/notes", token=self.tokens[who], params={"queue": "to_sign", "limit": 100}
        )
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertGreaterEqual(body["count"], len(body["notes"]))
        return [note["id"] for note in body["notes"]], body["count"]

    def test_the_supervising_provider_co_signs_once(self):
        note = self.sandbox.create_note(state="LKD", kind="encounter", provider="nurse")
        self.assertEqual(note["supervising_provider"]["id"], self.ids["provider"])
        self.assertIn(note["id"], self._to_sign("nurse")[0])
        self.assertNotIn(note["id"], self._to_sign("provider")[0])
        self.assertEqual(self._post(note, "sign", "nurse").status_code, 202)
        self.assertNotIn(note["id"], self._to_sign("nurse")[0])
        self.assertIn(note["id"], self._to_sign("provider")[0])
        summary = self.sandbox.api(
            "GET", f"/notes/{note['id']}", token=self.tokens["provider"]
        ).json()
        self.assertEqual(summary["allowed_actions"], ["sign", "unlock"])
        self.assertEqual(self._post(note, "sign", "provider").status_code, 202)
        again = self._post(note, "sign", "provider")
        self.assertEqual(again.status_code, 409)
        self.assertEqual(again.json()["error"]["code"], "already_signed")
        self.assertEqual(again.json()["state"], "SGN")
        self.assertNotIn(note["id"], self._to_sign("provider")[0])
        history = self._history(note)["history"]
        self.assertEqual(
            [(entry["state"], entry["by"]) for entry in history],
            [("LKD", None), ("SGN", self.ids["nurse"]), ("SGN", self.ids["provider"])],
        )
        # The front desk (administrative only) does not see an encounter note at all.
        front = self._post(note, "unlock", "frontdesk")
        self.assertEqual(front.status_code, 404)
        self.assertEqual(front.json()["error"]["code"], "note_not_found")

    def test_history_since_and_as_of(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        self.assertEqual(self._post(note, "lock", "provider").status_code, 202)
        accepted_at = self._post(note, "sign", "provider").json()["accepted_at"]
        full = self._history(note)
        self.assertEqual([entry["state"] for entry in full["history"]], ["NEW", "LKD", "SGN"])
        self.assertGreaterEqual(_at(full["as_of"]), _at(full["history"][-1]["at"]))
        since = self._history(note, since=accepted_at)["history"]
        self.assertEqual([(e["state"], e["by"]) for e in since], [("SGN", self.ids["provider"])])
        self.assertEqual(self._history(note, since="not a time")["history"], full["history"])
        later = (_at(full["as_of"]) + dt.timedelta(seconds=1)).isoformat()
        self.assertEqual(self._history(note, since=later)["history"], [])

    def test_history_follows_the_contracts_checks(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        path = f"/notes/{note['id']}/history"
        self.assertEqual(self.sandbox.api("GET", path).status_code, 401)
        self.assertEqual(
            self.sandbox.api("GET", "/notes/nope/history", token=self.tokens["nurse"]).status_code,
            400,
        )
        self.assertEqual(
            self.sandbox.api(
                "GET", "/notes/00000000-0000-4000-8000-000000000000/history",
                token=self.tokens["nurse"],
            ).status_code,
            404,
        )  # fmt: skip

    def test_list_filters_from_to_and_counts(self):
        patient = "Fromto Window"
        inside = self.sandbox.create_note(
            state="LKD", kind="encounter", patient=patient, date="2024-03-10T05:00:00+00:00"
        )
        self.sandbox.create_note(
            state="LKD", kind="encounter", patient=patient, date="2024-03-11T05:00:00+00:00"
        )
        body = self.sandbox.api(
            "GET",
            "/notes",
            token=self.tokens["provider"],
            params={
                "patient": patient,
                "from": "2024-03-10T00:00:00-05:00",
                "to": "2024-03-11T00:00:00-05:00",
            },
        ).json()
        self.assertEqual([n["id"] for n in body["notes"]], [inside["id"]])
        self.assertEqual(body["count"], 1)
        counts = self.sandbox.api(
            "GET",
            "/notes/counts",
            token=self.tokens["provider"],
            params={
                "day_start": "2024-03-10T00:00:00-05:00",
                "day_end": "2024-03-11T00:00:00-05:00",
                "overdue_before": "2024-03-11T00:00:00+00:00",
            },
        ).json()
        self.assertEqual(set(counts), {"to_sign", "overdue", "open", "today"})
        self.assertEqual(counts["to_sign"], self._to_sign("provider")[1])
        self.assertGreaterEqual(counts["overdue"], 1)
        self.assertGreaterEqual(counts["today"], 1)


class CheckInConversionTests(SimpleTestCase):
    """Canvas's visit: check-in converts the appointment note, which then locks and signs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]

    def test_check_in_then_lock_and_sign_ends_signed(self):
        note = self.sandbox.create_note(state="BKD", kind="appointment")
        post = self.sandbox.api
        self.assertEqual(
            post("POST", f"/notes/{note['id']}/checkin", token=self.token).status_code, 202
        )
        visit = self.sandbox.note(note["id"])
        self.assertEqual(visit["state"]["code"], "CVD")
        self.assertEqual(visit["note_type"]["category"], "encounter")
        self.assertIn("lock_sign", visit["allowed_actions"])
        signed = post("POST", f"/notes/{note['id']}/lock_sign", token=self.token)
        self.assertEqual(signed.status_code, 202, signed.text)
        self.assertEqual(self.sandbox.note(note["id"])["state"]["code"], "SGN")
