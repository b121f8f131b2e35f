"""The portal's names for actions and states match the plugin's rules module.

The portal deploys without the plugin, so notes/constants.py keeps its own
copy of the vocabulary; this test keeps the two from drifting apart.
"""

import importlib.util
from pathlib import Path

from django.test import SimpleTestCase

from notes import constants

_PATH = Path(__file__).resolve().parents[2] / "canvas_plugin/note_sign_api/transitions.py"
_SPEC = importlib.util.spec_from_file_location("plugin_transitions", _PATH)
transitions = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(transitions)


class VocabularyParityTests(SimpleTestCase):
    def test_actions_and_their_labels_match(self):
        self.assertEqual(constants.ACTIONS, transitions.ACTIONS)
        self.assertEqual(constants.ACTION_LABELS, transitions.ACTION_LABELS)

    def test_state_labels_match(self):
        self.assertEqual(constants.STATE_LABELS, transitions.STATE_LABELS)

    def test_every_action_has_a_permission_and_wording(self):
        for action in transitions.ACTIONS:
            with self.subTest(action=action):
                self.assertIn(action, constants.ACTION_PERMISSIONS)
                self.assertIn(action, constants.ACTION_DONE)
