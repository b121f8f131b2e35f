"""Every (note kind, state, action) against the plugin's transitions module, over HTTP.

This is also the plugin/sandbox parity test: the sandbox must answer exactly
what `canvas_plugin/note_sign_api/transitions.py` says the plugin answers.
"""

from django.test import SimpleTestCase
from note_sign_api import transitions

from tests.live import sandbox

KINDS = {
    "encounter": ("encounter", True),
    "encounter_nosig": ("encounter", False),
    "appointment": (transitions.APPOINTMENT, False),
    "letter": (transitions.LETTER, False),
}


class TransitionParityTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox = sandbox()
        cls.token = cls.sandbox.issue_tokens("provider")["access_token"]

    def _post(self, note_id, action):
        return self.sandbox.api("POST", f"/notes/{note_id}/{action}", token=self.token)

    def _state(self, note_id):
        response = self.sandbox.api("GET", f"/notes/{note_id}", token=self.token)
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_every_state_and_action_for_every_note_kind(self):
        checked = 0
        for kind, (category, is_sig_required) in KINDS.items():
            for state in transitions.STATES:
                # Refusals leave the note alone, so one note takes all of them.
                shared = self.sandbox.create_note(state=state, kind=kind)
                self.assertEqual(
                    shared["allowed_actions"],
                    transitions.allowed_actions(
                        state, category=category, is_sig_required=is_sig_required
                    ),
                )
                for action in transitions.ACTIONS:
                    with self.subTest(kind=kind, state=state, action=action):
                        self._check(kind, category, is_sig_required, state, action, shared)
                        checked += 1
                with self.subTest(kind=kind, state=state, refusals="left the note alone"):
                    self.assertEqual(self._state(shared["id"])["state"]["code"], state)
        self.assertEqual(checked, len(KINDS) * len(transitions.STATES) * len(transitions.ACTIONS))

    def _check(self, kind, category, is_sig_required, state, action, shared):
        if not transitions.state_allows(action, state, category=category):
            response = self._post(shared["id"], action)
            self.assertEqual(response.status_code, 409, response.text)
            body = response.json()
            self.assertEqual(body["error"]["code"], "action_not_allowed")
            self.assertEqual(body["state"], state)
            return
        reason = transitions.requirement_error(
            action, category=category, is_sig_required=is_sig_required
        )
        if reason is not None:
            response = self._post(shared["id"], action)
            self.assertEqual(response.status_code, 422, response.text)
            self.assertEqual(
                response.json(), {"error": {"code": "action_rejected", "message": reason}}
            )
            return
        note = self.sandbox.create_note(state=state, kind=kind)
        response = self._post(note["id"], action)
        self.assertEqual(response.status_code, 202, response.text)
        body = response.json()
        returned = body.pop("note")
        self.assertEqual(
            body,
            {
                "note_id": note["id"],
                "action": action,
                "effects": transitions.effects_for(action, state),
                "from_state": state,
            },
        )
        after = self._state(note["id"])
        # The 202's summary (the extension) is the note as a later GET sees it.
        self.assertEqual(returned, after)
        new_state = transitions.state_after(action, state)
        self.assertEqual(after["state"]["code"], new_state)
        self.assertEqual(after["state"]["label"], transitions.STATE_LABELS[new_state])
        self.assertEqual(
            after["allowed_actions"],
            transitions.allowed_actions(
                new_state, category=category, is_sig_required=is_sig_required
            ),
        )

    def test_lock_sign_from_new_records_both_steps_and_a_repeat_is_refused(self):
        note = self.sandbox.create_note(state="NEW", kind="encounter")
        first = self._post(note["id"], "lock_sign")
        self.assertEqual(first.json()["effects"], ["LOCK_NOTE", "SIGN_NOTE"])
        second = self._post(note["id"], "lock_sign")
        self.assertEqual(second.status_code, 409)
        self.assertEqual(second.json()["state"], "SGN")
        history = self.sandbox.control("GET", f"notes/{note['id']}/history")["history"]
        steps = [(event["state"], event["action"]) for event in history]
        self.assertEqual(steps, [("NEW", "created"), ("LKD", "lock_sign"), ("SGN", "lock_sign")])
        me = self.sandbox.api("GET", "/me", token=self.token).json()["staff"]["id"]
        self.assertEqual([e["actor"] for e in history], [None, me, me])
