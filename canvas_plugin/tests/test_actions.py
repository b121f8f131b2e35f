"""POST /notes/<id>/<action>: every action from every state, against the real SDK."""

import datetime as dt
import json
import uuid

from django.test import TestCase
from note_sign_api import transitions
from note_sign_api.handlers.api import NoteApi

from .helpers import KINDS, bearer, call, make_note, make_staff

SDK_EFFECT_NAMES = {
    transitions.LOCK_NOTE: "LOCK_NOTE",
    transitions.SIGN_NOTE: "SIGN_NOTE",
    transitions.UNLOCK_NOTE: "UNLOCK_NOTE",
    transitions.CHECK_IN_NOTE: "CHECK_IN_NOTE",
    transitions.NO_SHOW_NOTE: "NO_SHOW_NOTE",
}


class NoteActionMatrixTests(TestCase):
    """Each (kind, state, action) by the note's provider answers what transitions.py says."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff()
        cls.notes = {
            (kind, state): make_note(state=state, kind=kind, provider=cls.staff)
            for kind in ("encounter", "encounter_nosig", "appointment", "inpatient", "data")
            for state in transitions.STATE_LABELS
        }

    def test_every_action_from_every_state(self):
        counts = {202: 0, 409: 0, 422: 0}
        caller_id = str(self.staff.id)
        for (kind, state), note in self.notes.items():
            category, is_sig_required = KINDS[kind]
            facts = transitions.NoteFacts(
                category=category,
                is_sig_required=is_sig_required,
                state=state,
                provider_id=caller_id,
            )
            for action in transitions.ACTIONS:
                with self.subTest(kind=kind, state=state, action=action):
                    before = dt.datetime.now(dt.UTC)
                    reply = call(
                        self.api,
                        method="POST",
                        path=f"/notes/{note.id}/{action}",
                        **bearer(self.staff),
                    )
                    counts[reply.status] = counts.get(reply.status, 0) + 1
                    refused = transitions.refusal(action, facts, caller_id=caller_id)
                    if refused is not None:
                        self.assertEqual(reply.status, refused.status)
                        self.assertEqual(reply.json()["error"]["code"], refused.code)
                        self.assertEqual(reply.json().get("state", ""), refused.state)
                        self.assertEqual(reply.effects, [])
                        continue
                    names = transitions.effects_for(action, state)
                    expected = transitions.expected_states(
                        action, state, category=category, is_sig_required=is_sig_required
                    )[-1]
                    self.assertEqual(reply.status, 202)
                    body = reply.json()
                    accepted_at = dt.datetime.fromisoformat(body.pop("accepted_at"))
                    self.assertLessEqual(before, accepted_at)
                    self.assertEqual(
                        body,
                        {
                            "note_id": str(note.id),
                            "action": action,
                            "effects": names,
                            "from_state": state,
                            "expected_state": {
                                "code": expected,
                                "label": transitions.STATE_LABELS[expected],
                            },
                        },
                    )
                    self.assertEqual(reply.effect_names, [SDK_EFFECT_NAMES[n] for n in names])
                    for effect in reply.effects:
                        self.assertEqual(
                            json.loads(effect.payload), {"data": {"note": str(note.id)}}
                        )
        # The table exercises all three outcomes, not one of them by accident.
        self.assertGreater(counts[202], 20)
        self.assertGreater(counts[409], 100)
        self.assertGreater(counts[422], 50)


class LockSignTests(TestCase):
    """lock_sign emits lock then sign, and only sign on a locked note."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff()

    def test_new_note_locks_then_signs(self):
        note = make_note(state="NEW", provider=self.staff)
        reply = call(
            self.api, method="POST", path=f"/notes/{note.id}/lock_sign", **bearer(self.staff)
        )
        self.assertEqual(reply.status, 202)
        self.assertEqual(reply.effect_names, ["LOCK_NOTE", "SIGN_NOTE"])
        self.assertEqual(reply.json()["effects"], ["LOCK_NOTE", "SIGN_NOTE"])

    def test_locked_note_only_signs(self):
        note = make_note(state="LKD", provider=self.staff)
        reply = call(
            self.api, method="POST", path=f"/notes/{note.id}/lock_sign", **bearer(self.staff)
        )
        self.assertEqual(reply.status, 202)
        self.assertEqual(reply.effect_names, ["SIGN_NOTE"])
        self.assertEqual(reply.json()["from_state"], "LKD")

    def test_type_without_signature_emits_nothing(self):
        note = make_note(state="NEW", kind="encounter_nosig", provider=self.staff)
        reply = call(
            self.api, method="POST", path=f"/notes/{note.id}/lock_sign", **bearer(self.staff)
        )
        self.assertEqual(reply.status, 422)
        self.assertEqual(reply.effects, [])


class ActionErrorBodyTests(TestCase):
    """400, 404, 409 and 422 bodies follow the contract exactly."""

    api = NoteApi

    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff()

    def post(self, note_id: str, action: str = "lock"):
        return call(
            self.api, method="POST", path=f"/notes/{note_id}/{action}", **bearer(self.staff)
        )

    def test_bad_ids_are_400(self):
        bad_ids = [
            "not-a-uuid",
            "1234",
            "x" * 10_000,
            "é" * 36,
            "0f8fad5b-d9cb-469f-a165-70867728950ë",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "0f8fad5bd9cb469fa16570867728950e",
            "0f8fad5b-d9cb-469f-a165-70867728950e%00",
            "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "<b onmouseover=x>",
        ]
        for note_id in bad_ids:
            for action in transitions.ACTIONS:
                with self.subTest(note_id=note_id[:40], action=action):
                    reply = self.post(note_id, action)
                    self.assertEqual(reply.status, 400)
                    self.assertEqual(
                        reply.json(),
                        {
                            "error": {
                                "code": "invalid_note_id",
                                "message": "The note id is not a valid UUID.",
                            }
                        },
                    )
                    self.assertEqual(reply.effects, [])

    def test_unknown_note_is_404(self):
        reply = self.post(str(uuid.uuid4()))
        self.assertEqual(reply.status, 404)
        self.assertEqual(
            reply.json(), {"error": {"code": "note_not_found", "message": "No note has this id."}}
        )

    def test_uppercase_uuid_is_accepted(self):
        note = make_note(state="NEW", provider=self.staff)
        reply = self.post(str(note.id).upper())
        self.assertEqual(reply.status, 202)
        self.assertEqual(reply.json()["note_id"], str(note.id))

    def test_conflict_body(self):
        note = make_note(state="SGN", provider=self.staff)
        reply = self.post(str(note.id), "lock")
        self.assertEqual(reply.status, 409)
        body = reply.json()
        self.assertEqual(body["state"], "SGN")
        self.assertEqual(body["error"]["code"], "action_not_allowed")
        self.assertEqual(body["error"]["message"], "This note is Signed; it can't be locked.")
        self.assertEqual(set(body), {"error", "state"})

    def test_rejection_says_why(self):
        cases = [
            ("encounter_nosig", "LKD", "sign", "This note type does not require a signature."),
            (
                "encounter",
                "BKD",
                "checkin",
                "Only appointment notes can be checked in or marked as no-show.",
            ),
            ("letter", "NEW", "lock", "A letter note cannot be locked."),
            ("data", "NEW", "lock", "A data note cannot be locked."),
        ]
        for kind, state, action, message in cases:
            with self.subTest(kind=kind, action=action):
                note = make_note(state=state, kind=kind, provider=self.staff)
                reply = self.post(str(note.id), action)
                self.assertEqual(reply.status, 422)
                self.assertEqual(
                    reply.json(), {"error": {"code": "action_rejected", "message": message}}
                )

    def test_no_body_echoes_request_headers(self):
        note = make_note(state="SGN", provider=self.staff)
        secret = "Bearer s3cr3t-access-token-value"
        for path in (f"/notes/{note.id}/lock", "/notes/nope/lock", f"/notes/{uuid.uuid4()}/lock"):
            with self.subTest(path=path):
                reply = call(
                    self.api,
                    method="POST",
                    path=path,
                    headers={"Authorization": secret, "X-Probe": "probe-value"},
                    actor=str(self.staff.user.dbid),
                )
                self.assertNotIn(b"s3cr3t", reply.raw)
                self.assertNotIn(b"probe-value", reply.raw)
                self.assertNotIn("Authorization", json.dumps(reply.headers))

    def test_unknown_action_has_no_route(self):
        note = make_note(state="NEW", provider=self.staff)
        from canvas_sdk.events import EventType

        from .helpers import event

        handler = self.api(
            event(EventType.SIMPLE_API_REQUEST, method="POST", path=f"/notes/{note.id}/delete")
        )
        self.assertFalse(handler.accept_event())
        handler = self.api(
            event(EventType.SIMPLE_API_REQUEST, method="GET", path=f"/notes/{note.id}/lock")
        )
        self.assertFalse(handler.accept_event())
