"""The plugin's reads of Canvas's data (canvas_sdk.v1.data): querysets and filters, no shapes.

The to-sign queue and the open states come from transitions.py, so the
queries cannot disagree with the rules the API answers by.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import reduce
from operator import or_
from typing import Any
from zoneinfo import ZoneInfo

from canvas_sdk.v1.data import Staff
from canvas_sdk.v1.data.command import Command
from canvas_sdk.v1.data.note import NoteStateChangeEvent
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce

from note_sign_api.codes import Category
from note_sign_api.content import CANVAS_STAGED
from note_sign_api.contract import ME, ListFilters
from note_sign_api.transitions import (
    ACTIONABLE_CATEGORIES,
    STATE_LABELS,
    ListOrder,
    NoteFacts,
    Queue,
    State,
    to_sign_action,
)
from note_sign_api.visibility import clinic_day_bounds, visible_notes

#: The states GET /notes/counts calls open: Canvas's editable ones (CurrentNoteStateEvent.editable).
OPEN_STATES = (
    State.NEW,
    State.CHECKED_IN,
    State.PUSHED,
    State.UNLOCKED,
    State.RESTORED,
    State.UNDELETED,
)

#: Everything a summary reads, and nothing else (no patient or staff column beyond names).
SUMMARY_FIELDS = (
    "dbid",
    "id",
    "title",
    "datetime_of_service",
    "current_state__state",
    "note_type_version__name",
    "note_type_version__category",
    "note_type_version__is_sig_required",
    "patient__id",
    "patient__first_name",
    "patient__last_name",
    "provider__id",
    "provider__first_name",
    "provider__last_name",
    "supervising_provider__id",
    "supervising_provider__first_name",
    "supervising_provider__last_name",
    "provider__default_supervising_provider__id",
    "signed_by_id",
    "signed_by_first_name",
    "signed_by_last_name",
    "signed_at",
    "changed_at",
    "changed_by",
    "caller_signed_since_lock",
)


def staff_for_user(user: Any) -> Staff | None:
    """Return the active Staff record of a Canvas user, or None."""
    if user is None or not user.is_staff:
        return None
    return Staff.objects.filter(user=user, active=True).only("dbid", "id", "user").first()


def staff_names(staff: Staff) -> dict[str, Any]:
    """Return the staff member's id, first name, last name and last known time zone."""
    row = Staff.objects.filter(dbid=staff.dbid).values(
        "id", "first_name", "last_name", "last_known_timezone"
    )[0]
    return row


def notes_queryset(caller: Staff, variables: Any, environment: Any = None) -> Any:
    """Return the notes `caller` may see (visible_notes), annotated for summaries, in list order.

    `changed_at`/`changed_by` come from the note's latest state-change event;
    `caller_signed_since_lock` is whether `caller` signed after the note's last
    lock (the SDK's own sign-again rule compares event dbids the same way).
    """
    events = NoteStateChangeEvent.objects.filter(note=OuterRef("pk")).order_by("-created", "-dbid")
    last_lock = (
        NoteStateChangeEvent.objects.filter(note=OuterRef("note"), state=State.LOCKED)
        .order_by("-dbid")
        .values("dbid")[:1]
    )
    signed = NoteStateChangeEvent.objects.filter(
        note=OuterRef("pk"),
        state=State.SIGNED,
        originator_id=caller.user_id,
        dbid__gt=Coalesce(Subquery(last_lock), Value(0)),
    )
    others = (
        NoteStateChangeEvent.objects.filter(note=OuterRef("pk"), state=State.SIGNED)
        .exclude(originator_id=caller.user_id)
        .order_by("-created", "-dbid")
    )
    return (
        visible_notes(caller, variables, environment)
        .annotate(
            changed_at=Subquery(events.values("created")[:1]),
            changed_by=Subquery(events.values("originator__staff__id")[:1]),
            caller_signed_since_lock=Exists(signed),
            signed_by_id=Subquery(others.values("originator__staff__id")[:1]),
            signed_by_first_name=Subquery(others.values("originator__staff__first_name")[:1]),
            signed_by_last_name=Subquery(others.values("originator__staff__last_name")[:1]),
            signed_at=Subquery(others.values("created")[:1]),
        )
        .order_by("-datetime_of_service", "id")
    )


def actionable_notes(notes: Any) -> Any:
    """Return `notes` narrowed to the categories that accept an action."""
    return notes.filter(note_type_version__category__in=sorted(ACTIONABLE_CATEGORIES))


def summary_rows(notes: Any) -> Any:
    """Select only the columns a summary reads, and the note's count of staged commands."""
    return notes.annotate(staged_commands=staged_count()).values(*SUMMARY_FIELDS, "staged_commands")


def staged_count() -> Any:
    """Return the count of the outer note's staged commands (not in error), as a subquery."""
    staged = (
        Command.objects.filter(
            note=OuterRef("pk"), state=CANVAS_STAGED, entered_in_error__isnull=True
        )
        .order_by()
        .values("note")
        .annotate(n=Count("dbid"))
        .values("n")
    )
    return Coalesce(Subquery(staged, output_field=IntegerField()), Value(0))


#: What the content of a note reads of each command: nothing beyond names for people.
COMMAND_FIELDS = (
    "id",
    "schema_key",
    "data",
    "state",
    "created",
    "entered_in_error",
    "originator__staff__first_name",
    "originator__staff__last_name",
)


def note_commands(note_dbid: int) -> list[dict[str, Any]]:
    """Return a note's commands in the note's order (created, then dbid), in one query."""
    commands = Command.objects.filter(note__dbid=note_dbid).order_by("created", "dbid")
    return list(commands.values(*COMMAND_FIELDS))


def summary_row(notes: Any, note_id: str) -> dict[str, Any] | None:
    """Return the summary row of the note `note_id` among `notes` (notes_queryset), or None.

    A note Canvas records no state for, or one the caller may not see, reads as absent.
    """
    return summary_rows(notes.filter(id=note_id)).first()


def _own_to_sign_states(caller_id: str, category: str) -> list[str]:
    """Return the states of `category` in which the caller's own note is on their queue."""
    return [
        state
        for state in STATE_LABELS
        if to_sign_action(
            NoteFacts(category=category, is_sig_required=True, state=state, provider_id=caller_id),
            caller_id=caller_id,
        )
    ]


def to_sign_filter(caller: Staff, *, restrict: bool = False) -> Q:
    """Return the notes `caller` must sign (transitions.to_sign_action), as a query filter.

    Own notes of a signature-required type in a state lock & sign or sign clears;
    notes they supervise (as the note's or the provider's default supervising
    provider) that are signed but not by them since the last lock, unless
    signing is restricted to the provider. Never appointment notes.
    """
    caller_id = str(caller.id)
    own_states = []
    for category in sorted(ACTIONABLE_CATEGORIES - {Category.APPOINTMENT}):
        states = _own_to_sign_states(caller_id, category)
        if states:
            own_states.append(
                Q(note_type_version__category=category, current_state__state__in=states)
            )
    own = Q(provider=caller) & reduce(or_, own_states)
    if restrict:
        return Q(note_type_version__is_sig_required=True) & own
    supervises = Q(supervising_provider=caller) | Q(provider__default_supervising_provider=caller)
    cosign = (
        supervises
        & Q(current_state__state=State.SIGNED, caller_signed_since_lock=False)
        & ~Q(provider=caller)
        & Q(note_type_version__category__in=sorted(ACTIONABLE_CATEGORIES - {Category.APPOINTMENT}))
    )
    return Q(note_type_version__is_sig_required=True) & (own | cosign)


def with_patient_name(notes: Any) -> Any:
    """Alias the patient's full name (first name, space, last name) as `patient_name`."""
    name = Func(
        F("patient__first_name"),
        Value(" "),
        F("patient__last_name"),
        template="%(expressions)s",
        arg_joiner=" || ",
        output_field=TextField(),
    )
    return notes.alias(patient_name=name)


def notes_filtered(
    caller: Staff,
    notes: Any,
    filters: ListFilters,
    *,
    zone: ZoneInfo,
    restrict: bool = False,
) -> Any:
    """Return the `notes` (notes_queryset) the list's filters select, before the cursor.

    `date=` is a day in `zone`, the installation's (visibility.installation_zone).
    """
    notes = notes.filter(
        note_type_version__category__in=filters.categories or sorted(ACTIONABLE_CATEGORIES)
    )
    if filters.queue == Queue.TO_SIGN:
        notes = notes.filter(to_sign_filter(caller, restrict=restrict))
    if filters.states:
        notes = notes.filter(current_state__state__in=filters.states)
    if filters.provider == ME:
        notes = notes.filter(provider=caller)
    elif filters.provider:
        notes = notes.filter(provider__id=filters.provider)
    if filters.patient:
        notes = with_patient_name(notes).filter(patient_name__icontains=filters.patient)
    return _in_service_time(notes, day=filters.day, zone=zone, start=filters.start, end=filters.end)


def _in_service_time(
    notes: Any,
    *,
    day: date | None,
    zone: ZoneInfo,
    start: datetime | None,
    end: datetime | None,
) -> Any:
    """Narrow to a date of service on `day` in `zone` and within [start, end); None is no bound.

    The day runs midnight to midnight in `zone`: 23 or 25 hours when its clocks change.
    """
    if day is not None:
        day_start, day_end = clinic_day_bounds(zone, day)
        notes = notes.filter(datetime_of_service__gte=day_start, datetime_of_service__lt=day_end)
    if start is not None:
        notes = notes.filter(datetime_of_service__gte=start)
    if end is not None:
        notes = notes.filter(datetime_of_service__lt=end)
    return notes


def in_order(notes: Any, order: ListOrder) -> Any:
    """Order the notes by date of service in `order`, ties by id."""
    if order == ListOrder.OLDEST:
        return notes.order_by("datetime_of_service", "id")
    return notes.order_by("-datetime_of_service", "id")


def after_position(notes: Any, *, order: ListOrder, after: datetime, after_id: str) -> Any:
    """Keep the notes that come after (after, after_id) in `order`: the next page."""
    if order == ListOrder.OLDEST:
        beyond = Q(datetime_of_service__gt=after)
    else:
        beyond = Q(datetime_of_service__lt=after)
    return notes.filter(beyond | Q(datetime_of_service=after, id__gt=after_id))


def note_counts(
    caller: Staff,
    notes: Any,
    *,
    overdue_before: datetime | None,
    day_start: datetime | None,
    day_end: datetime | None,
    restrict: bool = False,
) -> dict[str, int]:
    """Return every worklist tab's count; a missing bound gives 0 for its count.

    Each count is its list's: `today` is GET /notes with from/to, `open` the
    caller's notes in an editable state.
    """
    notes = actionable_notes(notes)
    to_sign = notes.filter(to_sign_filter(caller, restrict=restrict))
    overdue = 0
    if overdue_before is not None:
        overdue = to_sign.filter(datetime_of_service__lt=overdue_before).count()
    today = 0
    if day_start is not None and day_end is not None:
        today = notes.filter(
            datetime_of_service__gte=day_start, datetime_of_service__lt=day_end
        ).count()
    return {
        "to_sign": to_sign.count(),
        "overdue": overdue,
        "open": notes.filter(provider=caller, current_state__state__in=OPEN_STATES).count(),
        "today": today,
    }


def state_changes(note_dbid: int, *, since: datetime | None) -> list[dict[str, Any]]:
    """Return a note's state changes (state, created, by: staff id), oldest first."""
    events = NoteStateChangeEvent.objects.filter(note__dbid=note_dbid)
    if since is not None:
        events = events.filter(created__gte=since)
    rows = events.order_by("created", "dbid").values(
        "state", "created", by=F("originator__staff__id")
    )
    return list(rows)


def notes_with_history(
    notes: Any, note_ids: list[str], *, since: datetime | None
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """Return the summary rows of `notes` (the caller's visible ones) among `note_ids`, and history.

    Two queries whatever the number of notes: the rows (on notes_queryset, so
    the same notes a detail read finds), then every state change at or after
    `since` of those notes, oldest first, grouped by note dbid.
    """
    rows = list(summary_rows(notes.filter(id__in=note_ids)))
    events: dict[int, list[dict[str, Any]]] = {row["dbid"]: [] for row in rows}
    if not rows:
        return rows, events
    changes = NoteStateChangeEvent.objects.filter(note__dbid__in=list(events))
    if since is not None:
        changes = changes.filter(created__gte=since)
    for change in changes.order_by("created", "dbid").values(
        "state", "created", note_dbid=F("note__dbid"), by=F("originator__staff__id")
    ):
        events[change.pop("note_dbid")].append(change)
    return rows, events
