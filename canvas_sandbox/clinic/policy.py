"""The plugin's policy served over the sandbox's notes: who may act, what, and the to-sign queue.

The sandbox stands in for Canvas *with the plugin installed*, so what the
plugin decides (refusals, allowed_actions, the queue) comes from the
plugin's own transitions module. What Canvas does when it applies the
effects afterwards is the sandbox's engine, not this.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from note_sign_api import transitions

from canvas_sandbox.clinic import conf
from canvas_sandbox.clinic.models import Note, Staff
from canvas_sandbox.clinic.selectors import Event, events_by_note

#: States an own note may be in for lock & sign or sign to start from (a query's first cut).
_TO_SIGN_OWN_STATES = ("NEW", "PSH", "ULK", "UND", "CVD", "NSW", "LKD")


def note_facts(*, note: Note, events: list[Event]) -> transitions.NoteFacts:
    """Return what the plugin's rules need to know about a note."""
    return transitions.NoteFacts(
        category=note.note_type.category,
        is_sig_required=note.note_type.is_sig_required,
        state=note.state,
        provider_id=note.provider.key,
        supervising_provider_id=note.supervising_provider.key if note.supervising_provider else "",
        default_supervisor_id=note.provider.supervisor.key if note.provider.supervisor else "",
        signed_since_lock=transitions.signed_since_lock((s, a or "") for s, a, _ in events),
    )


def note_refusal(*, note: Note, events: list[Event], action: str, actor: Staff) -> Any:
    """Return the plugin's transitions.Refusal of `action` by `actor` on `note`, or None."""
    return transitions.refusal(
        action,
        note_facts(note=note, events=events),
        caller_id=actor.key,
        signing_policy=conf.signing_policy(),
        restrict=restrict(),
    )


def note_allowed_actions(*, note: Note, events: list[Event], caller_id: str) -> list[str]:
    """Return the actions the plugin lets `caller_id` take on `note` now."""
    return transitions.allowed_actions(
        note_facts(note=note, events=events),
        caller_id=caller_id,
        signing_policy=conf.signing_policy(),
        restrict=restrict(),
    )


def restrict() -> bool:
    """Return the installed plugin's variable `restrict_signing_to_provider`."""
    return conf.plugin_variables().get("restrict_signing_to_provider", "").lower() == "true"


def note_queue_action(*, note: Note, events: list[Event], caller_id: str) -> str | None:
    """Return what clears `note` from `caller_id`'s to-sign queue (queue_action), or None."""
    return transitions.to_sign_action(
        note_facts(note=note, events=events), caller_id=caller_id, restrict=restrict()
    )


def to_sign_ids(*, actor: Staff, notes: QuerySet[Note]) -> list[Any]:
    """Return the ids of the notes `actor` must sign (transitions.to_sign_action).

    A query narrows the candidates (own notes in a state lock & sign or sign
    may start from, supervised notes that are signed); the rules decide.
    """
    candidates = list(
        notes.filter(
            note_type__category__in=transitions.ACTIONABLE_CATEGORIES,
            note_type__is_sig_required=True,
        ).filter(
            Q(provider=actor, state__in=_TO_SIGN_OWN_STATES)
            | Q(supervising_provider=actor, state="SGN")
            | Q(provider__supervisor=actor, state="SGN")
        )
    )
    events = events_by_note(note_ids=[note.pk for note in candidates])
    return [
        note.pk
        for note in candidates
        if note_queue_action(note=note, events=events.get(str(note.pk), []), caller_id=actor.key)
    ]
