"""Planning a run: each chosen note gets the queue's own action, or the true reason; no writes.

A run is planned from the signing queue as Canvas shows it when the person
answers the question (never from what the page posted): each note gets the
action the queue offers for it (Canvas's `queue_action`, or the same rule
derived from its allowed actions). A chosen note that cannot be planned is
named with the reason a read of Canvas shows; "signed" is said only when that
read shows the note signed by this user. Plans are rate limited per user,
before any Canvas read.
A note with commands not committed in Canvas is left out by default
(NOTES_BULK_SKIP_STAGED), with its reason: the run records it as not started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.utils import timezone

from canvas_oauth.selectors import connection_get
from canvas_oauth.tokens import canvas_call
from integrations.canvas.exceptions import InvalidNoteId, NoteNotFound
from integrations.canvas.plugin import note_id_parse, plugin_client
from notes import conf
from notes.actions import (
    ACTIONS,
    QUEUE_ACTION_SENDS,
    Action,
    queue_action_for,
    signed_by_for,
    user_can_sign,
)
from notes.exceptions import ActionNotPermitted, BulkPlanLimited, NothingToSign
from notes.worklist import Order, Queue

#: The most notes one run takes (the queue is read 100 at a time).
MAX_NOTES = 500
#: The most chosen notes outside the queue read one by one for their reason.
MAX_REASON_READS = 25
#: Why nothing can be signed when every chosen note has commands not committed.
ALL_STAGED = "Every note you chose has commands not committed in Canvas: open each note to sign it."


class SkipReason:
    """Why a chosen note is not in the run: each sentence is what a read of Canvas showed."""

    GONE = "No longer in your queue in Canvas."
    SIGNED_BY_YOU = "Already signed: Canvas shows your signature on it ({when})."
    SOMEONE_ELSES = "Someone else's note ({provider}): not yours to sign."
    REFUSED = "Canvas would refuse to sign it while it is {state}."
    NOT_PERMITTED = "You are not permitted to {action} notes in the portal."
    UNREAD = "No longer in your queue in Canvas (not read again: too many chosen)."


def staged_skip_reason(note: dict[str, Any]) -> str:
    """Return why a run leaves this note out (commands not committed), or '' to sign it."""
    staged = note.get("staged_commands") or 0
    if not staged or not conf.bulk_skip_staged():
        return ""
    noun = "command" if staged == 1 else "commands"
    return f"Left out: {staged} {noun} not committed in Canvas. Open the note to sign it."


@dataclass(frozen=True)
class PlannedNote:
    note: dict[str, Any]
    action: Action
    label: str
    #: Why the run leaves it out (recorded as not started), or "".
    skip: str = ""


@dataclass(frozen=True)
class SkippedNote:
    """A chosen note left out of the run, and the reason Canvas shows."""

    note_id: str
    reason: str
    note: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """What a run would do: the notes in queue order, the chosen notes left out, the sentence."""

    notes: list[PlannedNote] = field(default_factory=list)
    skipped: list[SkippedNote] = field(default_factory=list)

    @property
    def to_sign(self) -> list[PlannedNote]:
        return [planned for planned in self.notes if not planned.skip]

    @property
    def staged(self) -> list[PlannedNote]:
        """Return the notes the run records as not started (commands not committed)."""
        return [planned for planned in self.notes if planned.skip]

    @property
    def count(self) -> int:
        return len(self.to_sign)

    @property
    def by_label(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for planned in self.to_sign:
            counts[planned.label] = counts.get(planned.label, 0) + 1
        return counts

    @property
    def title(self) -> str:
        noun = "note" if self.count == 1 else "notes"
        labels = set(self.by_label)
        verb = labels.pop() if len(labels) == 1 else ACTIONS[Action.SIGN].label
        return f"{verb} {self.count} {noun}"


def plan_rate_check(*, user: AbstractBaseUser, now: datetime | None = None) -> None:
    """Count one plan for the user this minute; raise BulkPlanLimited past the limit.

    Runs before any Canvas read (each plan reads the whole queue).
    """
    minute = int((now or timezone.now()).timestamp() // 60)
    key = f"notes:bulk-plans:{user.pk}:{minute}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    if count > conf.bulk_plans_per_minute():
        raise BulkPlanLimited()


def queue_read(*, user: AbstractBaseUser) -> list[dict[str, Any]]:
    """Return the user's whole signing queue (oldest first), up to MAX_NOTES notes."""
    notes: list[dict[str, Any]] = []
    cursor = None
    while len(notes) < MAX_NOTES:
        page = canvas_call(
            user=user,
            call=lambda token, cursor=cursor: plugin_client().note_list(
                access_token=token,
                queue=Queue.TO_SIGN,
                order=Order.OLDEST,
                limit=100,
                cursor=cursor,
            ),
        )
        notes.extend(page["notes"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    return notes[:MAX_NOTES]


def _staff_id(user: AbstractBaseUser) -> str:
    connection = connection_get(user=user)
    return getattr(connection, "canvas_staff_id", "") or ""


def _queued(note: dict[str, Any], *, user: AbstractBaseUser) -> PlannedNote | SkippedNote:
    """Return the note planned with its queue action, or skipped with the reason."""
    queue_action = queue_action_for(note)
    if queue_action is None:
        reason = SkipReason.REFUSED.format(state=note["state"]["label"])
        return SkippedNote(note["id"], reason, note)
    action = QUEUE_ACTION_SENDS[queue_action]
    if not user.has_perm(ACTIONS[action].perm):
        reason = SkipReason.NOT_PERMITTED.format(action=queue_action.label.lower())
        return SkippedNote(note["id"], reason, note)
    return PlannedNote(
        note=note, action=action, label=queue_action.label, skip=staged_skip_reason(note)
    )


def _signed_by_me(note: dict[str, Any], staff_id: str) -> bool:
    """Return whether this read shows the note signed by `staff_id` (state SGN, their signature)."""
    if note["state"]["code"] != "SGN" or not staff_id:
        return False
    signer = signed_by_for(note) or {}
    return staff_id in (signer.get("id"), note["state"].get("changed_by"))


def skip_reason_read(*, user: AbstractBaseUser, note_id: str, staff_id: str) -> SkippedNote:
    """Read one chosen note that is not in the queue and return the reason Canvas shows."""
    try:
        note = canvas_call(
            user=user,
            call=lambda token: plugin_client().note_get(access_token=token, note_id=note_id),
        )
    except NoteNotFound:
        return SkippedNote(note_id, SkipReason.GONE)
    if _signed_by_me(note, staff_id):
        when = note["state"].get("changed_at")
        shown = timezone.localtime(when).strftime("%-d %b, %H:%M") if when else "no time given"
        return SkippedNote(note_id, SkipReason.SIGNED_BY_YOU.format(when=shown), note)
    provider_id = (note.get("provider") or {}).get("id")
    supervisor_id = (note.get("supervising_provider") or {}).get("id")
    if staff_id and staff_id not in (provider_id, supervisor_id):
        provider = (note.get("provider") or {}).get("name") or "another provider"
        return SkippedNote(note_id, SkipReason.SOMEONE_ELSES.format(provider=provider), note)
    return SkippedNote(note_id, SkipReason.REFUSED.format(state=note["state"]["label"]), note)


def _chosen_ids(note_ids: list[str] | None) -> list[str] | None:
    """Return the chosen ids as Canvas spells them, each once; what is not a note id is dropped."""
    if note_ids is None:
        return None
    ids = []
    for value in note_ids:
        try:
            ids.append(str(note_id_parse(value=value)))
        except InvalidNoteId:
            continue
    return list(dict.fromkeys(ids))


def plan_for_user(*, user: AbstractBaseUser, note_ids: list[str] | None) -> Plan:
    """Plan a run over the queue as Canvas shows it now: all of it, or the chosen notes.

    Each planned note gets its queue action; each chosen note left out is
    named with the reason Canvas shows (its own read when it left the queue).
    Raises BulkPlanLimited (before any read), ActionNotPermitted, or
    NothingToSign carrying the reasons.
    """
    if not user_can_sign(user=user):
        raise ActionNotPermitted()
    plan_rate_check(user=user)
    chosen = _chosen_ids(note_ids)
    planned: list[PlannedNote] = []
    skipped: list[SkippedNote] = []
    in_queue = set()
    for note in queue_read(user=user):
        if chosen is not None and note["id"] not in chosen:
            continue
        in_queue.add(note["id"])
        result = _queued(note, user=user)
        (planned if isinstance(result, PlannedNote) else skipped).append(result)
    missing = [n for n in chosen or [] if n not in in_queue]
    staff_id = _staff_id(user) if missing else ""
    for index, note_id in enumerate(missing):
        if index >= MAX_REASON_READS:
            skipped.append(SkippedNote(note_id, SkipReason.UNREAD))
            continue
        skipped.append(skip_reason_read(user=user, note_id=note_id, staff_id=staff_id))
    plan = Plan(notes=planned, skipped=skipped)
    if not plan.count:
        raise NothingToSign(ALL_STAGED if plan.staged else None, skipped=skipped)
    return plan
