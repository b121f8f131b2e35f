"""The sandbox's Canvas (clinic/engine.py) against the plugin's prediction (transitions.py).

Separate code on both sides: the engine is written from Canvas's documented
transitions table, the plugin keeps its own table as its prediction of what
Canvas will do with the effects it returns. Over every (category, signature
required, state, effect, has the actor signed since the last lock) they
must agree, except the cases listed in EXPECTED_DIFFERENCES, where the
documented table decides and the plugin is reported, not edited from here.
"""

import itertools

from django.test import SimpleTestCase

from canvas_sandbox.clinic import engine
from tests.plugin_modules import plugin_module

transitions = plugin_module("note_sign_api.transitions")

#: Categories Canvas has beyond the sandbox's clinic: the table says they accept no effect.
OTHER_CATEGORIES = ("review", "task", "ccda", "schedule_event", "search")

#: (category, is_sig_required, state, effect) -> (the plugin's prediction, the documented table's).
#: Empty: where the two disagreed (a signed appointment note unlocks to ULK, since the table
#: sends only LKD back to NSW), the plugin was corrected to the table.
EXPECTED_DIFFERENCES: dict = {}

ME = "staff-me"


#: The action whose effects the plugin predicts for each effect (the restriction is per action).
EFFECT_ACTIONS = {
    "LOCK_NOTE": "lock",
    "SIGN_NOTE": "sign",
    "UNLOCK_NOTE": "unlock",
    "CHECK_IN_NOTE": "checkin",
    "NO_SHOW_NOTE": "noshow",
}
OTHER = "staff-other"


def engine_verdict(category, is_sig_required, state, effect, signed, restricted=False, mine=True):
    """Return the state the sandbox's Canvas moves the note to, or None when it refuses.

    `restricted`: Canvas's "restrict note signing to the provider" is on; `mine`:
    the effect's actor is the note's provider.
    """
    try:
        return engine.effect_apply(
            effect,
            state,
            category=category,
            is_sig_required=is_sig_required,
            actor_signed_since_lock=signed,
            restricted_to_provider=restricted,
            actor_is_provider=mine,
        )
    except engine.InvalidTransition:
        return None


def plugin_verdict(category, is_sig_required, state, effect, signed, restricted=False, mine=True):
    """Return the state the plugin predicts, or None when it predicts a refusal.

    A second signature by someone who signed since the last lock is the
    plugin's `already_signed` refusal, and the signing restriction its
    `restricted` rule (transitions.refusal), not part of its effect table, so
    they are asked there.
    """
    caller = ME if mine else OTHER
    facts = transitions.NoteFacts(
        category=category, is_sig_required=is_sig_required, state=state, provider_id=ME
    )
    action = EFFECT_ACTIONS[str(effect)]
    if transitions.restricted(action, facts, caller_id=caller, restrict=restricted):
        return None
    try:
        result = transitions.effect_result(
            effect, state, category=category, is_sig_required=is_sig_required
        )
    except transitions.InvalidTransition:
        return None
    if signed and effect == transitions.SIGN_NOTE:
        facts = transitions.NoteFacts(
            category=category,
            is_sig_required=is_sig_required,
            state=state,
            provider_id=ME,
            signed_since_lock=frozenset({caller}),
        )
        # Who may sign is the plugin's own rule, not Canvas's: ask as any staff member.
        refused = transitions.refusal(
            transitions.Action.SIGN,
            facts,
            caller_id=caller,
            signing_policy=transitions.SigningPolicy.ANY_STAFF,
        )
        if refused is not None and refused.code == transitions.ErrorCode.ALREADY_SIGNED:
            return None
    return result


class EngineParityTests(SimpleTestCase):
    def test_both_sides_name_the_same_states_categories_and_effects(self):
        self.assertEqual(list(transitions.STATES), list(engine.NoteState))
        self.assertEqual(set(transitions.CATEGORIES), set(engine.Category))
        self.assertEqual(set(transitions.ACTIONABLE_CATEGORIES), engine.ACCEPTING_CATEGORIES)
        effects = {
            transitions.LOCK_NOTE,
            transitions.SIGN_NOTE,
            transitions.UNLOCK_NOTE,
            transitions.CHECK_IN_NOTE,
            transitions.NO_SHOW_NOTE,
        }
        self.assertEqual(effects, set(engine.Effect))

    def test_every_category_type_state_and_effect(self):
        categories = [*engine.Category, *OTHER_CATEGORIES]
        cases = list(
            itertools.product(
                categories,
                (True, False),
                engine.NoteState,
                engine.Effect,
                (False, True),
                (False, True),  # Canvas restricts signing to the provider (and the plugin knows)
                (True, False),  # the actor is the note's provider
            )
        )
        self.assertEqual(len(cases), len(categories) * 2 * 18 * 5 * 2 * 2 * 2)
        differences = {}
        for case in cases:
            category, sig, state, effect, *_ = case
            ours, theirs = engine_verdict(*case), plugin_verdict(*case)
            key = (str(category), sig, str(state), str(effect))
            if ours != theirs:
                differences[key] = (theirs, ours)
        # Both ways: a listed case where they agree fails too.
        self.assertEqual(differences, EXPECTED_DIFFERENCES)
        # A table that refused everything would agree with another that did: count what
        # the documented table accepts. Per actor (not yet signed): encounter 9 + 6
        # (signature required or not), inpatient 8 + 5, appointment 10 + 7 = 45; an actor
        # who signed since the last lock loses sign-again in the 3 categories: 42.
        # Restricted, another actor keeps only check-in and no-show (appointment: 3 + 2, x2 types).
        accepted = [case for case in cases if engine_verdict(*case) is not None]
        self.assertEqual(len(accepted), (45 + 42) * 3 + 10 * 2)


class EngineTableTests(SimpleTestCase):
    """Rows of the documented table, written out, against the engine alone."""

    ROWS = [
        # (category, is_sig_required, state, effect, signed, result or None)
        ("encounter", True, "PSH", "LOCK_NOTE", False, "LKD"),
        ("inpatient", True, "PSH", "LOCK_NOTE", False, None),
        ("appointment", True, "NSW", "LOCK_NOTE", False, "LKD"),
        ("appointment", True, "NEW", "LOCK_NOTE", False, None),
        ("encounter", True, "NEW", "SIGN_NOTE", False, None),
        ("encounter", False, "LKD", "SIGN_NOTE", False, None),
        ("encounter", True, "SGN", "SIGN_NOTE", False, "SGN"),
        ("encounter", True, "SGN", "SIGN_NOTE", True, None),
        ("encounter", True, "SGN", "UNLOCK_NOTE", False, "ULK"),
        ("encounter", False, "SGN", "UNLOCK_NOTE", False, None),
        ("appointment", True, "LKD", "UNLOCK_NOTE", False, "NSW"),
        ("appointment", True, "SGN", "UNLOCK_NOTE", False, "ULK"),
        ("appointment", True, "NSW", "CHECK_IN_NOTE", False, "CVD"),
        ("encounter", True, "BKD", "CHECK_IN_NOTE", False, None),
        ("appointment", True, "NSW", "NO_SHOW_NOTE", False, None),
        ("letter", True, "NEW", "LOCK_NOTE", False, None),
        ("message", True, "LKD", "UNLOCK_NOTE", False, None),
        # Restricted to the provider: another actor's lock, sign, unlock are refused.
        ("encounter", True, "SGN", "SIGN_NOTE", False, True, False, None),
        ("encounter", True, "NEW", "LOCK_NOTE", False, True, False, None),
        ("encounter", True, "LKD", "UNLOCK_NOTE", False, True, False, None),
        ("encounter", True, "NEW", "LOCK_NOTE", False, True, True, "LKD"),
        ("appointment", True, "BKD", "CHECK_IN_NOTE", False, True, False, "CVD"),
    ]

    def test_rows(self):
        for row in self.ROWS:
            *case, expected = row
            with self.subTest(row=row):
                self.assertEqual(engine_verdict(*case), expected)

    def test_signers_since_lock_start_again_at_every_lock(self):
        history = [("NEW", None), ("LKD", "a"), ("SGN", "a"), ("ULK", "a"), ("LKD", "b")]
        self.assertEqual(engine.signers_since_lock(history), frozenset())
        history += [("SGN", "b"), ("SGN", "c"), ("SGN", None)]
        self.assertEqual(engine.signers_since_lock(history), frozenset({"b", "c"}))
