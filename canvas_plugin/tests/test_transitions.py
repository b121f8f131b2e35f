"""transitions.py against the canvas SDK's own transition matrices."""

from canvas_sdk.effects.note.note import transition_matrix_for
from django.test import SimpleTestCase
from note_sign_api import transitions

#: The state each effect asks Canvas to move the note to.
TARGET = {
    transitions.LOCK_NOTE: "LKD",
    transitions.SIGN_NOTE: "SGN",
    transitions.UNLOCK_NOTE: "ULK",
    transitions.CHECK_IN_NOTE: "CVD",
    transitions.NO_SHOW_NOTE: "NSW",
}


class TransitionTableTests(SimpleTestCase):
    def test_every_allowed_step_is_in_the_sdk_matrix(self):
        def steps(category: str) -> dict[str, set[str]]:
            return {
                str(state): {str(target) for target in targets}
                for state, targets in transition_matrix_for(category).items()
            }

        general = steps("encounter")
        appointment = steps("appointment")
        checked = 0
        for category in ("encounter", "appointment"):
            for state in transitions.STATES:
                allowed = transitions.allowed_actions(
                    state, category=category, is_sig_required=True
                )
                for action in allowed:
                    with self.subTest(category=category, state=state, action=action):
                        current = state
                        for effect in transitions.effects_for(action, state):
                            # An appointment follows its own matrix, then the general one
                            # once it is a visit (checked in).
                            possible = general.get(current, set())
                            if category == "appointment":
                                possible = possible | appointment.get(current, set())
                            self.assertIn(TARGET[effect], possible)
                            current = TARGET[effect]
                            checked += 1
                        self.assertEqual(current, transitions.state_after(action, state))
        self.assertGreater(checked, 30)

    def test_letters_and_messages_accept_no_action(self):
        for category in ("letter", "message"):
            for state in transitions.STATES:
                with self.subTest(category=category, state=state):
                    self.assertEqual(
                        transitions.allowed_actions(state, category=category, is_sig_required=True),
                        [],
                    )
            for action in transitions.ACTIONS:
                with self.subTest(category=category, action=action):
                    self.assertIn(
                        f"A {category} note cannot be",
                        transitions.requirement_error(
                            action, category=category, is_sig_required=True
                        ),
                    )
