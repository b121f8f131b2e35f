"""Every (note kind, state, action) against the plugin's transitions module, over HTTP.

The sandbox must answer exactly what `canvas_plugin/note_sign_api/transitions.py`
says (the same module the plugin enforces), and the accepted action must land
where the sandbox's Canvas (clinic/engine.py) puts it: the state its 202
announced, except where test_engine_parity lists a difference. The documented
cases both implementations must meet are in test_contract_parity.py.
"""

import datetime as dt

from django.test import SimpleTestCase

from canvas_sandbox.clinic import engine
from tests.live import sandbox
from tests.plugin_modules import plugin_module
from tests.sandbox.test_engine_parity import EXPECTED_DIFFERENCES

transitions = plugin_module("note_sign_api.transitions")

KINDS = {
    "encounter": (transitions.ENCOUNTER, True),
    "encounter_nosig": (transitions.ENCOUNTER, False),
    "appointment": (transitions.APPOINTMENT, True),
    "inpatient": (transitions.INPATIENT, True),
    "data": (transitions.DATA, True),
}


class TransitionParityTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]
        cls.me = cls.sandbox.api("GET", "/me", token=cls.token).json()["staff"]["id"]

    def _post(self, note_id, action):
        return self.sandbox.api("POST", f"/notes/{note_id}/{action}", token=self.token)

    def _get(self, note_id):
        response = self.sandbox.api("GET", f"/notes/{note_id}", token=self.token)
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_every_state_and_action_for_every_note_kind(self):
        checked = 0
        for kind, (category, is_sig_required) in KINDS.items():
            for state in transitions.STATES:
                facts = transitions.NoteFacts(
                    category=category,
                    is_sig_required=is_sig_required,
                    state=state,
                    provider_id=self.me,
                )
                # Refusals leave the note alone, so one note takes all of them.
                shared = self.sandbox.create_note(state=state, kind=kind, supervising_provider="")
                self.assertEqual(
                    self._get(shared["id"])["allowed_actions"],
                    transitions.allowed_actions(facts, caller_id=self.me),
                )
                for action in transitions.ACTIONS:
                    with self.subTest(kind=kind, state=state, action=action):
                        self._check(kind, facts, action, shared)
                        checked += 1
                with self.subTest(kind=kind, state=state, refusals="left the note alone"):
                    self.assertEqual(self._get(shared["id"])["state"]["code"], state)
        self.assertEqual(checked, len(KINDS) * len(transitions.STATES) * len(transitions.ACTIONS))

    def _check(self, kind, facts, action, shared):
        refused = transitions.refusal(action, facts, caller_id=self.me)
        if refused is not None:
            response = self._post(shared["id"], action)
            self.assertEqual(response.status_code, refused.status, response.text)
            expected = {"error": {"code": refused.code, "message": refused.message}}
            if refused.status == 409:
                expected["state"] = facts.state
            self.assertEqual(response.json(), expected)
            return
        note = self.sandbox.create_note(state=facts.state, kind=kind, supervising_provider="")
        response = self._post(note["id"], action)
        self.assertEqual(response.status_code, 202, response.text)
        body = response.json()
        accepted_at = body.pop("accepted_at")
        states = transitions.expected_states(
            action, facts.state, category=facts.category, is_sig_required=facts.is_sig_required
        )
        self.assertEqual(
            body,
            {
                "note_id": note["id"],
                "action": action,
                "effects": transitions.effects_for(action, facts.state),
                "from_state": facts.state,
                "expected_state": {
                    "code": states[-1],
                    "label": transitions.STATE_LABELS[states[-1]],
                },
            },
        )
        # The effects land as the sandbox's Canvas applies them (its engine, not the
        # plugin's table): where the two differ, only as test_engine_parity lists.
        landed = facts.state
        for effect in body["effects"]:
            landed = engine.effect_apply(
                effect, landed, category=facts.category, is_sig_required=facts.is_sig_required
            )
        if landed != states[-1]:
            key = (facts.category, facts.is_sig_required, facts.state, body["effects"][-1])
            self.assertEqual(EXPECTED_DIFFERENCES.get(key), (states[-1], landed))
        after = self._get(note["id"])
        self.assertEqual(after["state"]["code"], landed)
        self.assertEqual(after["state"]["changed_by"], self.me)
        self.assertGreater(
            dt.datetime.fromisoformat(after["state"]["changed_at"]),
            dt.datetime.fromisoformat(accepted_at),
        )

    def test_lock_sign_from_new_records_both_steps_and_a_repeat_is_refused(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        first = self._post(note["id"], "lock_sign")
        self.assertEqual(first.json()["effects"], ["LOCK_NOTE", "SIGN_NOTE"])
        second = self._post(note["id"], "lock_sign")
        self.assertEqual(second.status_code, 409)
        self.assertEqual(second.json()["state"], "SGN")
        # The document reserves already_signed for `sign`: lock_sign on a signed note is
        # action_not_allowed first (contract v3; was already_signed).
        self.assertEqual(second.json()["error"]["code"], "action_not_allowed")
        history = self.sandbox.history(note["id"])
        steps = [(event["state"], event["action"]) for event in history]
        self.assertEqual(steps, [("NEW", "created"), ("LKD", "lock_sign"), ("SGN", "lock_sign")])
        self.assertEqual([e["actor"] for e in history], [None, self.me, self.me])
