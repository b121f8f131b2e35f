"""The plugin's POST action, as the plugin answers it: check, then store the effects as pending.

Nothing changes at acceptance: Canvas applies the effects after the answer
(effects.py, through the sandbox's engine), so a 202 means accepted, never
done.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from note_sign_api import transitions

from canvas_sandbox.clinic import times
from canvas_sandbox.clinic.effects import note_effects_apply_due
from canvas_sandbox.clinic.exceptions import ActionRefused
from canvas_sandbox.clinic.faults import fault_config_get, fault_draw
from canvas_sandbox.clinic.models import Note, PendingEffect, Staff
from canvas_sandbox.clinic.policy import note_refusal
from canvas_sandbox.clinic.selectors import events_by_note, note_get

logger = logging.getLogger(__name__)


def _note_locked(*, note_id: str, actor: Staff) -> Note:
    """Return the note, its row locked for this transaction (validated, found and visible first)."""
    note = note_get(note_id=note_id, viewer=actor)
    # of=self: PostgreSQL cannot lock the nullable side of an outer join.
    return (
        Note.objects.select_for_update(of=("self",))
        .select_related("note_type", "patient", "provider", "supervising_provider")
        .get(pk=note.pk)
    )


def _effects_store(
    *, note: Note, action: str, effects: list[str], actor: Staff, accepted_at: dt.datetime
) -> None:
    """Store the action's effects as pending, due effect_delay_ms after acceptance."""
    config = fault_config_get()
    # Canvas applies effects after the answer: never at the very instant
    # of acceptance, so history `at` is always after `accepted_at`.
    due_at = accepted_at + max(
        dt.timedelta(milliseconds=config.effect_delay_ms), dt.timedelta(microseconds=1)
    )
    fate = "reject" if fault_draw(config=config, rate=config.effect_reject_rate) else ""
    PendingEffect.objects.bulk_create(
        PendingEffect(
            note=note,
            effect=effect,
            action=action,
            actor=actor,
            accepted_at=accepted_at,
            due_at=due_at,
            fate=fate,
        )
        for effect in effects
    )


def note_action_accept(
    *, note_id: str, action: str, actor: Staff, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Accept `action` on a note as the plugin would and return the contract's 202 body.

    Nothing changes yet: the action's effects are stored as pending and land
    when due (effect_delay_ms after now), applied then by effects.py with
    Canvas's rules, as Canvas applies a plugin's effects after the answer.
    The note row is locked while it is checked, so the check sees every
    effect that was due. Raise ActionRefused for the contract's note-level
    refusals (403 not_note_provider, 422, 409), in its order.
    """
    with transaction.atomic():
        note = _note_locked(note_id=note_id, actor=actor)
        accepted_at = now or times.now()
        # What fell due since the request began lands first: the check sees it.
        note_effects_apply_due(note=note, now=accepted_at)
        events = events_by_note(note_ids=[note.pk]).get(str(note.pk), [])
        refused = note_refusal(note=note, events=events, action=action, actor=actor)
        if refused is not None:
            logger.info("Refused %s on note %s: %s", action, note.pk, refused.code)
            raise ActionRefused(refused)
        from_state = note.state
        effects = transitions.effects_for(action, from_state)
        expected = transitions.expected_states(
            action,
            from_state,
            category=note.note_type.category,
            is_sig_required=note.note_type.is_sig_required,
        )[-1]
        _effects_store(
            note=note, action=action, effects=effects, actor=actor, accepted_at=accepted_at
        )
    return {
        "note_id": str(note.pk),
        "action": action,
        "effects": effects,
        "from_state": from_state,
        "expected_state": {"code": expected, "label": transitions.STATE_LABELS[expected]},
        "accepted_at": times.iso(accepted_at),
    }
