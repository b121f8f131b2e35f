"""transitions.py on its own: the documented cases, sign-again history and the to-sign queue."""

from django.test import SimpleTestCase
from note_sign_api import transitions

from .contract_cases import CASES

IDS = {"provider": "p", "supervising": "s", "other": "o"}


def facts(category: str, sig: bool, state: str, **kw) -> transitions.NoteFacts:
    return transitions.NoteFacts(
        category=category,
        is_sig_required=sig,
        state=state,
        provider_id="p",
        supervising_provider_id="s",
        **kw,
    )


class TransitionRuleTests(SimpleTestCase):
    def test_documented_cases(self):
        for category, sig, state, action, caller, status, code, expected in CASES:
            with self.subTest(category=category, state=state, action=action, caller=caller):
                note = facts(category, sig, state)
                refused = transitions.refusal(action, note, caller_id=IDS[caller])
                if status == 202:
                    self.assertIsNone(refused)
                    states = transitions.expected_states(
                        action, state, category=category, is_sig_required=sig
                    )
                    self.assertEqual(states[-1], expected)
                else:
                    self.assertEqual((refused.status, refused.code), (status, code))

    def test_non_actionable_categories_accept_nothing(self):
        for category in ("data", "letter", "message", "search"):
            for state in transitions.STATE_LABELS:
                with self.subTest(category=category, state=state):
                    note = facts(category, True, state)
                    self.assertEqual(transitions.allowed_actions(note, caller_id="p"), [])
                    with self.assertRaises(transitions.InvalidTransition):
                        transitions.effect_result(
                            transitions.LOCK_NOTE, state, category=category, is_sig_required=True
                        )

    def test_signed_since_lock(self):
        history = [("NEW", "p"), ("LKD", "p"), ("SGN", "p"), ("SGN", "s")]
        self.assertEqual(transitions.signed_since_lock(history), {"p", "s"})
        history += [("ULK", "p"), ("LKD", "p"), ("SGN", None)]
        self.assertEqual(transitions.signed_since_lock(history), frozenset())
        self.assertEqual(transitions.signed_since_lock([("SGN", "p")]), {"p"})

    def test_to_sign_action(self):
        cases = [
            (facts("encounter", True, "NEW"), "p", "lock_sign"),
            (facts("encounter", True, "LKD"), "p", "sign"),
            (facts("encounter", True, "SGN"), "p", None),
            (facts("encounter", False, "LKD"), "p", None),
            (facts("data", True, "LKD"), "p", None),
            (facts("appointment", True, "BKD"), "p", None),
            # Canvas never signs an appointment note (contract v3): a no-show only locks.
            (facts("appointment", True, "NSW"), "p", None),
            (facts("appointment", True, "LKD"), "p", None),
            (facts("encounter", True, "SGN"), "s", "cosign"),
            (facts("encounter", True, "SGN", default_supervisor_id="d"), "d", "cosign"),
            (facts("encounter", True, "SGN", signed_since_lock=frozenset({"s"})), "s", None),
            (facts("encounter", True, "LKD"), "s", None),
            (facts("encounter", True, "SGN"), "o", None),
        ]
        for note, caller, action in cases:
            with self.subTest(note=note, caller=caller):
                self.assertEqual(transitions.to_sign_action(note, caller_id=caller), action)

    def test_restricted_signing_queues_no_cosignature_and_refuses_others(self):
        signed = facts("encounter", True, "SGN")
        self.assertIsNone(transitions.to_sign_action(signed, caller_id="s", restrict=True))
        for action, state in (("sign", "SGN"), ("lock", "NEW"), ("unlock", "LKD")):
            with self.subTest(action=action):
                note = facts("encounter", True, state)
                refused = transitions.refusal(action, note, caller_id="s", restrict=True)
                self.assertEqual(refused.code, "not_note_provider")
                self.assertIsNone(transitions.refusal(action, note, caller_id="p", restrict=True))
        self.assertEqual(transitions.allowed_actions(signed, caller_id="s", restrict=True), [])

    def test_lock_sign_on_a_note_the_caller_signed_is_not_allowed_not_already_signed(self):
        note = facts("encounter", True, "SGN", signed_since_lock=frozenset({"p"}))
        self.assertEqual(
            transitions.refusal("lock_sign", note, caller_id="p").code, "action_not_allowed"
        )
        self.assertEqual(transitions.refusal("sign", note, caller_id="p").code, "already_signed")
