"""Canvas applying accepted effects when due: the only writer of a note's state after it exists.

Each due effect goes through the sandbox's engine (Canvas's documented
rules), never through the plugin's prediction of them.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from canvas_sandbox.clinic import conf, engine, times
from canvas_sandbox.clinic.models import Note, NoteStateEvent, PendingEffect
from canvas_sandbox.clinic.notes import note_type_for_kind

logger = logging.getLogger(__name__)

#: Effects another plugin's NOTE_STATE_CHANGE_EVENT_PRE_CREATE validator (the note's veto) refuses.
VETOED_EFFECTS = frozenset({engine.Effect.LOCK, engine.Effect.SIGN})


def effects_apply_due(*, now: dt.datetime | None = None) -> int:
    """Apply every pending effect that is due, note by note; return how many landed.

    Called lazily at the start of every plugin and control request, so any
    process (gunicorn workers on PostgreSQL included) applies what is due
    before it reads or checks. Per note, the note row is locked first
    (SELECT ... FOR UPDATE, notes in id order) and the due effects are read
    again under the lock, so each effect is applied exactly once, in order,
    and a reader that waited for the lock sees the result. Each effect goes
    through engine.effect_apply against the note's state at that moment: an
    invalid transition, the note's veto (lock and sign) or the reject fault
    leaves the note alone, silently, as Canvas does.
    """
    now = now or times.now()
    due = PendingEffect.objects.filter(status=PendingEffect.PENDING, due_at__lte=now)
    note_ids = sorted(set(due.values_list("note_id", flat=True)), key=str)
    landed = 0
    for note_id in note_ids:
        with transaction.atomic():
            note = (
                Note.objects.select_for_update()
                .select_related("note_type")
                .filter(pk=note_id)
                .first()
            )
            if note is not None:
                landed += note_effects_apply_due(note=note, now=now)
    return landed


def note_effects_apply_due(*, note: Note, now: dt.datetime) -> int:
    """Apply the due effects of one note, whose row the caller holds locked; count those landed."""
    landed = 0
    due = PendingEffect.objects.filter(
        note_id=note.pk, status=PendingEffect.PENDING, due_at__lte=now
    ).order_by("due_at", "id")
    for effect in due:
        effect.status = _effect_apply(note=note, effect=effect)
        effect.applied_at = now
        effect.save(update_fields=["status", "applied_at"])
        landed += effect.status == PendingEffect.APPLIED
    return landed


def _signed_since_lock(*, note: Note, actor_id: int | None) -> bool:
    """Return whether the staff member `actor_id` signed `note` since it was last locked."""
    history = NoteStateEvent.objects.filter(note=note).order_by("created", "id")
    signers = engine.signers_since_lock(
        (state, str(actor) if actor else None)
        for state, actor in history.values_list("state", "actor_id")
    )
    return actor_id is not None and str(actor_id) in signers


def _effect_apply(*, note: Note, effect: PendingEffect) -> str:
    """Apply one due effect to a locked note; return the effect's new status."""
    if effect.fate == "reject":
        return PendingEffect.REJECTED
    if note.veto and effect.effect in VETOED_EFFECTS:
        return PendingEffect.VETOED
    try:
        state = engine.effect_apply(
            effect.effect,
            note.state,
            category=note.note_type.category,
            is_sig_required=note.note_type.is_sig_required,
            actor_signed_since_lock=(
                effect.effect == engine.Effect.SIGN
                and note.state == engine.NoteState.SIGNED
                and _signed_since_lock(note=note, actor_id=effect.actor_id)
            ),
            restricted_to_provider=conf.restrict_signing_to_provider(),
            actor_is_provider=effect.actor_id == note.provider_id,
        )
    except engine.InvalidTransition as refusal:
        logger.info(
            "Canvas refused %s on note %s in %s: %s", effect.effect, note.pk, note.state, refusal
        )
        return PendingEffect.REFUSED
    note.state = str(state)
    if effect.effect == engine.Effect.CHECK_IN and conf.checkin_converts():
        # Canvas converts a checked-in appointment into an encounter note (CVD, "Converted"),
        # which then locks and signs like any open note.
        note.note_type = note_type_for_kind(kind="encounter")
    note.save(update_fields=["state", "note_type", "modified"])
    NoteStateEvent.objects.create(
        note=note,
        state=note.state,
        action=effect.action,
        actor_id=effect.actor_id,
        created=effect.due_at,
    )
    return PendingEffect.APPLIED
