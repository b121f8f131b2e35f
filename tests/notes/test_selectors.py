"""Selectors: note id parsing and the actions a user may take."""

import uuid

from django.test import SimpleTestCase, TestCase

from notes.exceptions import InvalidNoteId
from notes.selectors import actions_permitted, note_id_parse, note_with_actions
from tests.factories import make_user
from tests.notes.helpers import ensure_groups, summary


class NoteIdParseTests(SimpleTestCase):
    def test_accepts_canonical_uuids_in_any_case_with_spaces(self):
        value = uuid.uuid4()
        for text in [str(value), str(value).upper(), f"  {value}\n", value]:
            with self.subTest(text=text):
                self.assertEqual(note_id_parse(value=text), value)

    def test_refuses_everything_else(self):
        bad = [
            "",
            "hello",
            "1" * 5000,
            uuid.uuid4().hex,  # no hyphens
            "{" + str(uuid.uuid4()) + "}",
            "urn:uuid:" + str(uuid.uuid4()),
            str(uuid.uuid4())[:-1] + "\u0444",
            "\uff13" + str(uuid.uuid4())[1:],  # a full-width digit
            str(uuid.uuid4()) + "/../me",
            None,
            42,
            b"bytes",
        ]
        for value in bad:
            with self.subTest(value=repr(value)[:40]), self.assertRaises(InvalidNoteId):
                note_id_parse(value=value)


class ActionsForUserTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        ensure_groups()
        cls.provider = make_user("provider", groups=("Providers",))
        cls.frontdesk = make_user("frontdesk", groups=("Front desk",))
        cls.nobody = make_user("nobody")

    def test_permitted_actions_per_group(self):
        self.assertEqual(
            actions_permitted(user=self.provider),
            ["lock", "sign", "lock_sign", "unlock", "checkin", "noshow"],
        )
        self.assertEqual(actions_permitted(user=self.frontdesk), ["checkin", "noshow"])
        self.assertEqual(actions_permitted(user=self.nobody), [])

    def test_row_actions_are_allowed_and_permitted(self):
        note = summary(state="NSW", allowed=["lock", "checkin"])
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
        note = summary(state="LKD", allowed=["sign", "lock_sign", "unlock"])
        actions = note_with_actions(user=self.provider, note=note)["actions"]
        self.assertTrue(all(a["confirm"] for a in actions))
        note = summary(state="NEW", allowed=["lock"])
        self.assertEqual(
            note_with_actions(user=self.provider, note=note)["actions"][0]["confirm"], ""
        )
