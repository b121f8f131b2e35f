"""The one table of actions: the plugin's names, the permissions and what a user may do.

The portal deploys without the plugin, so notes/actions.py keeps its own
table; these tests keep it from drifting from the plugin's rules module and
check that permissions, groups and the model derive from it.
"""

from django.test import SimpleTestCase, TestCase

from integrations.canvas.plugin import STATE_LABELS
from notes.actions import ACTIONS, PERMISSIONS, Action, actions_permitted, note_with_actions
from notes.groups import DEFAULT_GROUPS
from notes.models import NoteActionAttempt
from tests.factories import make_user
from tests.helpers import ensure_groups, summary
from tests.plugin_modules import plugin_module

transitions = plugin_module("note_sign_api.transitions")


class VocabularyParityTests(SimpleTestCase):
    def test_actions_and_their_labels_match(self):
        self.assertEqual(tuple(ACTIONS), transitions.ACTIONS)
        self.assertEqual({n: s.label for n, s in ACTIONS.items()}, transitions.ACTION_LABELS)

    def test_state_labels_match(self):
        self.assertEqual(STATE_LABELS, transitions.STATE_LABELS)


class ActionTableTests(SimpleTestCase):
    def test_model_choices_permissions_and_groups_derive_from_the_table(self):
        field = NoteActionAttempt._meta.get_field("action")
        self.assertEqual([value for value, _ in field.choices], list(ACTIONS))
        self.assertIs(NoteActionAttempt.Action, Action)
        self.assertEqual(NoteActionAttempt._meta.permissions, PERMISSIONS)
        self.assertEqual(
            [codename for codename, _ in PERMISSIONS], [s.permission for s in ACTIONS.values()]
        )
        self.assertEqual(set(DEFAULT_GROUPS["Providers"]), {s.permission for s in ACTIONS.values()})
        self.assertEqual(DEFAULT_GROUPS["Front desk"], ("checkin_note", "noshow_note"))

    def test_every_action_has_wording(self):
        for name, spec in ACTIONS.items():
            with self.subTest(action=name):
                self.assertEqual(spec.name, name)
                self.assertTrue(spec.label)
                self.assertTrue(spec.done)
                self.assertEqual(spec.perm, f"notes.{spec.permission}")


class ActionsForUserTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        cls.frontdesk = make_user("frontdesk", groups=("Front desk",))
        cls.nobody = make_user("nobody")

    def test_permitted_actions_per_group(self):
        cases = [
            (self.provider, ["lock", "sign", "lock_sign", "unlock", "checkin", "noshow"]),
            (self.frontdesk, ["checkin", "noshow"]),
            (self.nobody, []),
        ]
        for user, expected in cases:
            with self.subTest(user=user.username):
                self.assertEqual([s.name for s in actions_permitted(user=user)], expected)

    def test_row_actions_are_allowed_and_permitted(self):
        note = summary(state="NSW", allowed=["lock", "checkin", "delete"])
        cases = [
            (self.provider, ["lock", "checkin"]),
            (self.frontdesk, ["checkin"]),
            (self.nobody, []),
        ]
        for user, expected in cases:
            with self.subTest(user=user.username):
                actions = note_with_actions(user=user, note=note)["actions"]
                self.assertEqual([a["name"] for a in actions], expected)

    def test_sign_and_unlock_ask_for_confirmation(self):
        # A locked signature-required note: one Sign (not Lock & sign beside it), then Unlock.
        note = summary(state="LKD", allowed=["sign", "lock_sign", "unlock"])
        actions = note_with_actions(user=self.provider, note=note)["actions"]
        self.assertEqual([a["name"] for a in actions], ["sign", "unlock"])
        for action in actions:
            with self.subTest(action=action["name"]):
                self.assertIn("?", action["ask"])
        note = summary(state="NEW", allowed=["lock"])
        self.assertEqual(note_with_actions(user=self.provider, note=note)["actions"][0]["ask"], "")
