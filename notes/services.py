"""Note work through Canvas: the worklist, one note, and actions with their audit rows.

Everything here reaches Canvas through `canvas_oauth.tokens.canvas_call`
(the user's token, its single 401 -> refresh -> retry) and the
integration's plugin client. Must not run inside a transaction: the audit
row and a token refresh commit on their own.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from canvas_oauth.exceptions import NotConnected, ReauthorizationRequired, TokenDecryptionFailed
from canvas_oauth.selectors import connection_get
from canvas_oauth.tokens import canvas_call
from integrations.canvas.exceptions import (
    ActionNotAllowed,
    ActionRejected,
    CanvasError,
    NotNoteProvider,
    OutcomeUnknown,
)
from integrations.canvas.plugin import STATE_LABELS, note_id_parse, plugin_client
from notes import conf
from notes.actions import ACTIONS, ActionSpec
from notes.exceptions import ActionNotPermitted, AlreadyInProgress, InvalidAction
from notes.models import NoteActionAttempt
from notes.selectors import attempt_latest_by_note
from notes.tasks import confirmation_enqueue

logger = logging.getLogger(__name__)

Outcome = NoteActionAttempt.Outcome


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


# -- what a user may do ---------------------------------------------------------


def actions_permitted(*, user: AbstractBaseUser) -> list[ActionSpec]:
    """Return the actions the user's permissions allow, in table order."""
    return [spec for spec in ACTIONS.values() if user.has_perm(spec.perm)]


def note_with_actions(*, user: AbstractBaseUser, note: dict[str, Any]) -> dict[str, Any]:
    """Return the summary plus `actions`: allowed in its state AND permitted to the user."""
    allowed = set(note.get("allowed_actions", []))
    actions = [
        {"name": spec.name, "label": spec.label, "confirm": spec.confirm}
        for spec in actions_permitted(user=user)
        if spec.name in allowed
    ]
    return {**note, "actions": actions}


# -- reads ----------------------------------------------------------------------


@dataclass(frozen=True)
class Tab:
    """One worklist tab: which notes, in which order, and which count it shows."""

    key: str
    label: str
    states: tuple[str, ...] = ()
    mine: bool = False
    today: bool = False
    #: A plugin queue (to_sign: every note the caller must sign or co-sign).
    queue: str = ""
    #: "oldest" lists the oldest date of service first.
    order: str = ""
    #: Its key in GET /notes/counts, if Canvas counts it there.
    count_key: str = ""


TABS: dict[str, Tab] = {
    tab.key: tab
    for tab in (
        Tab("to_sign", "To sign", queue="to_sign", order="oldest", count_key="to_sign"),
        Tab("open", "My open notes", states=("NEW", "ULK"), mine=True, count_key="open"),
        Tab("today", "Today's appointments", states=("BKD", "RVT"), today=True, count_key="today"),
        Tab("all", "All"),
    )
}
DEFAULT_TAB = "to_sign"
#: Old links to the tab before "To sign".
TAB_ALIASES = {"signature": "to_sign"}


def can_sign(user: AbstractBaseUser) -> bool:
    """Return whether the user may sign notes (providers), as opposed to front-desk work."""
    return user.has_perm(ACTIONS["sign"].perm) or user.has_perm(ACTIONS["lock_sign"].perm)


def tabs_for_user(user: AbstractBaseUser) -> list[Tab]:
    """Return the user's tabs in order: signing work first, or today's appointments first."""
    if can_sign(user):
        return list(TABS.values())
    return [TABS["today"], TABS["all"]]


def default_tab_for(user: AbstractBaseUser) -> str:
    return tabs_for_user(user)[0].key


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Return [start, end) of `day` in the current time zone (the clinic's or the user's).

    Midnight to midnight, so a day when the clocks change lasts 23 or 25 hours.
    """
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def age_days(when: datetime, *, now: datetime | None = None) -> int:
    """Return how many calendar days old `when` is in the current time zone (0: today)."""
    return (timezone.localdate(now or _now()) - timezone.localdate(when)).days


def note_list_for_user(
    *,
    user: AbstractBaseUser,
    tab: str,
    patient: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Return one worklist page: `{"tab", "notes": [summary + actions + age], "next_cursor",
    "count"}`; each note's `age_days` counts calendar days since its date of service, and
    `overdue` is set past `NOTES_OVERDUE_DAYS` on the signing queue."""
    spec = TABS.get(TAB_ALIASES.get(tab, tab)) or TABS[DEFAULT_TAB]
    now = _now()
    # Today is the clinic's day, asked for as an exact UTC range.
    bounds = day_bounds(today or timezone.localdate(now)) if spec.today else None
    page = canvas_call(
        user=user,
        call=lambda token: plugin_client().note_list(
            access_token=token,
            queue=spec.queue or None,
            order=spec.order or None,
            state=list(spec.states) or None,
            provider="me" if spec.mine else None,
            patient=(patient or "").strip()[:100] or None,
            date_from=bounds[0] if bounds else None,
            date_to=bounds[1] if bounds else None,
            limit=limit or conf.page_size(),
            cursor=cursor or None,
        ),
    )
    return {
        "tab": spec,
        "notes": [
            note_aged(note_with_actions(user=user, note=n), queue=spec.queue, now=now)
            for n in page["notes"]
        ],
        "next_cursor": page["next_cursor"],
        "count": page.get("count"),
    }


def note_aged(note: dict[str, Any], *, queue: str, now: datetime | None = None) -> dict[str, Any]:
    """Add `age_days` (calendar days since the date of service) and, in the signing
    queue, `overdue` (older than NOTES_OVERDUE_DAYS)."""
    when = note.get("datetime_of_service")
    age = age_days(when, now=now) if when else None
    overdue = queue == "to_sign" and age is not None and age > conf.overdue_days()
    return {**note, "age_days": age, "overdue": overdue}


def note_counts_for_user(*, user: AbstractBaseUser, today: date | None = None) -> dict[str, int]:
    """Return the user's counts in one Canvas call: to_sign, overdue, open and today.

    Overdue: in the signing queue with a date of service more than
    `NOTES_OVERDUE_DAYS` calendar days ago in the clinic's (or user's) zone.
    """
    day = today or timezone.localdate(_now())
    start, end = day_bounds(day)
    overdue_before = day_bounds(day - timedelta(days=conf.overdue_days()))[0]
    return canvas_call(
        user=user,
        call=lambda token: plugin_client().note_counts(
            access_token=token, overdue_before=overdue_before, day_start=start, day_end=end
        ),
    )


def note_get_for_user(*, user: AbstractBaseUser, note_id: Any) -> dict[str, Any]:
    """Return one note's summary plus the actions this user may take on it."""
    note_uuid = note_id_parse(value=note_id)
    note = canvas_call(
        user=user,
        call=lambda token: plugin_client().note_get(access_token=token, note_id=note_uuid),
    )
    return note_with_actions(user=user, note=note)


# -- the audit row --------------------------------------------------------------


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", "")
    if isinstance(code, str) and code:
        return code[:64]
    # CamelCase class name -> snake_case, e.g. RuntimeError -> runtime_error.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()[:64]


def _client_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _attempt_start(*, fields: dict[str, Any], now: datetime) -> NoteActionAttempt:
    """Commit a pending attempt, or a failed one (and raise) if an identical one is in flight.

    The partial unique index allows one pending row per user, note and
    action, so two racing requests cannot both reach Canvas. Each write is
    a durable transaction: the row is committed before Canvas is called.
    """
    try:
        with transaction.atomic(durable=True):
            return NoteActionAttempt.objects.create(outcome=Outcome.PENDING, **fields)
    except IntegrityError:
        pass
    with transaction.atomic(durable=True):
        # A pending twin older than the window belongs to a request that died
        # without finishing (a killed worker): it no longer blocks.
        abandoned = NoteActionAttempt.objects.filter(
            user=fields["user"],
            note_id=fields["note_id"],
            action=fields["action"],
            outcome=Outcome.PENDING,
            started_at__lt=now - conf.pending_window(),
        ).update(outcome=Outcome.UNKNOWN, error_code="abandoned", finished_at=now)
        if abandoned:
            try:
                with transaction.atomic():
                    return NoteActionAttempt.objects.create(outcome=Outcome.PENDING, **fields)
            except IntegrityError:
                pass  # another request took the place first
        NoteActionAttempt.objects.create(
            outcome=Outcome.FAILED,
            error_code=AlreadyInProgress.code,
            finished_at=now,
            duration_ms=0,
            **fields,
        )
    logger.info(
        "Note action %s on %s by user %s: in progress",
        fields["action"],
        fields["note_id"],
        fields["user"].pk,
    )
    raise AlreadyInProgress()


def _attempt_finish(
    attempt: NoteActionAttempt,
    *,
    outcome: str,
    status: int | None,
    error_code: str,
    accepted: dict[str, Any] | None = None,
    confirm_now: bool = True,
) -> None:
    """Complete the pending attempt once (a single autocommitted UPDATE).

    An accepted or unknown attempt then waits for its confirmation
    (notes.confirmation), which a background task starts at once, or, when
    the caller reads it back itself, only at its deadline as a backstop.
    """
    finished = _now()
    fields: dict[str, Any] = {
        "outcome": outcome,
        "upstream_status": status,
        "error_code": error_code[:64],
        "finished_at": finished,
        "duration_ms": max(0, int((finished - attempt.started_at).total_seconds() * 1000)),
    }
    if accepted is not None:
        expected = accepted.get("expected_state") or {}
        fields["expected_state"] = (expected.get("code") or "")[:8]
        fields["accepted_at"] = accepted.get("accepted_at")
    NoteActionAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.PENDING).update(**fields)
    for name, value in fields.items():
        setattr(attempt, name, value)
    if attempt.in_flight:
        confirmation_enqueue(
            attempt.pk, run_after=None if confirm_now else finished + conf.confirm_window()
        )


# -- actions --------------------------------------------------------------------


def note_action_perform(
    *,
    user: AbstractBaseUser,
    note_id: Any,
    action: str,
    request_id: str = "",
    client_ip: str | None = None,
    confirm_in_background: bool = True,
) -> NoteActionAttempt:
    """Ask Canvas to perform `action` on a note for `user`; return the accepted attempt.

    Validates the action, the note id and the user's permission before
    anything else; commits a pending audit row; calls Canvas through
    `canvas_call` (a read timeout is never retried); completes the audit
    row as accepted (or unknown, when no answer came back) and starts its
    confirmation. Canvas applies an accepted action's effects after
    answering, so the attempt is in flight until notes.confirmation
    settles it. Raises a CanvasError for a refusal (nothing happened).
    A caller that reads the attempt back itself (a bulk run) passes
    `confirm_in_background=False`: the task then runs only at the deadline.
    """
    spec = ACTIONS.get(action) if isinstance(action, str) else None
    if spec is None:
        raise InvalidAction()
    note_uuid = note_id_parse(value=note_id)
    if not user.has_perm(spec.perm):
        logger.warning("Refused note action %s by user %s: not permitted", action, user.pk)
        raise ActionNotPermitted()

    connection = connection_get(user=user)
    now = _now()
    attempt = _attempt_start(
        fields={
            "user": user,
            "username": user.get_username(),
            "canvas_staff_id": (getattr(connection, "canvas_staff_id", "") or "")[:64],
            "note_id": note_uuid,
            "action": spec.name,
            "request_id": (request_id or "")[:64],
            "client_ip": _client_ip(client_ip),
            "started_at": now,
        },
        now=now,
    )
    sent: list[str] = []  # the tokens the action was sent with

    def send(token: str) -> dict[str, Any]:
        sent.append(token)
        return plugin_client().note_action(access_token=token, note_id=note_uuid, action=spec.name)

    # Until an outcome is known the row says "unknown": an exception we did
    # not expect (or a killed request) never leaves it pending or "failed"
    # when Canvas may have acted.
    outcome, status, code = Outcome.UNKNOWN, None, "internal_error"
    accepted = None
    try:
        accepted = canvas_call(user=user, connection=connection, call=send)
        outcome, status, code = Outcome.ACCEPTED, 202, ""
    except OutcomeUnknown as exc:
        # Canvas may have acted: confirmed by reading, like an accepted one.
        outcome, status, code = Outcome.UNKNOWN, exc.status, _error_code(exc)
    except CanvasError as exc:
        # Includes a refresh whose outcome is unknown: the action itself was not sent.
        outcome, status, code = Outcome.FAILED, exc.status, _error_code(exc)
        raise
    except BaseException:
        outcome = Outcome.UNKNOWN if sent else Outcome.FAILED
        raise
    finally:
        _attempt_finish(
            attempt,
            outcome=outcome,
            status=status,
            error_code=code,
            accepted=accepted,
            confirm_now=confirm_in_background,
        )
        logger.info(
            "Note action %s on %s by user %s: %s %s", action, note_uuid, user.pk, outcome, code
        )
    # Accepted (or unknown) is not applied: the confirmation reads Canvas
    # again, in the background, and settles the attempt.
    return attempt


@dataclass(frozen=True)
class ActionReply:
    """What a person is shown after an action: the note or the attempt in flight, and a message."""

    #: The note's summary with actions, or None when there is no fresh one to draw.
    note: dict[str, Any] | None
    message: str
    #: "success", "info" (requested: Canvas is applying it), "warning" or "error".
    level: str
    #: The attempt Canvas is applying (accepted, or sent without an answer):
    #: the page follows it until it is confirmed or not applied.
    attempt: NoteActionAttempt | None = None
    #: `{"href", "text"}` of a link that helps (open the note), if any.
    link: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.level in ("success", "info")


# Refusals after which the note is read again, to show it as it is now.
_REREAD_AFTER = (
    ActionNotAllowed,
    ActionRejected,
    AlreadyInProgress,
    NotNoteProvider,
)


def refusal_message(exc: CanvasError, spec: ActionSpec | None) -> str:
    """Return the sentence a person reads when an action was refused (or could not be sent)."""
    if isinstance(exc, NotConnected):
        return f"{exc.message} Open the worklist to connect your Canvas account."
    if isinstance(exc, ReauthorizationRequired):
        return f"{exc.message} Open the worklist to reconnect."
    # (AlreadySigned is an ActionNotAllowed with its own sentence.)
    if type(exc) is ActionNotAllowed and exc.state and spec is not None:
        return f"This note is {STATE_LABELS.get(exc.state, exc.state)}; it can't be {spec.done}."
    return exc.message


def note_action_reply(
    *,
    user: AbstractBaseUser,
    note_id: str,
    action: str,
    request_id: str = "",
    client_ip: str | None = None,
) -> ActionReply:
    """Perform an action and return what to show; raise only TokenDecryptionFailed (a 503).

    An action Canvas accepted is *requested*, never done: the reply carries
    the attempt, which the page follows. After a refusal for the note's
    state or kind the note is read again so the person sees it as it is now.
    """
    spec = ACTIONS.get(action)
    try:
        attempt = note_action_perform(
            user=user, note_id=note_id, action=action, request_id=request_id, client_ip=client_ip
        )
    except TokenDecryptionFailed:
        raise
    except CanvasError as exc:
        level = "warning" if isinstance(exc, AlreadyInProgress) else "error"
        note = None
        if isinstance(exc, _REREAD_AFTER):
            try:
                note = note_get_for_user(user=user, note_id=note_id)
            except CanvasError:
                note = None
        return ActionReply(note=note, message=refusal_message(exc, spec), level=level)
    level = "warning" if attempt.outcome == Outcome.UNKNOWN else "info"
    return ActionReply(
        note=None, message=_requested_message(attempt, spec), level=level, attempt=attempt
    )


def _requested_message(attempt: NoteActionAttempt, spec: ActionSpec) -> str:
    """Say what Canvas has shown so far: a request it accepted, or one it did not answer."""
    if attempt.outcome == Outcome.UNKNOWN:
        return (
            f"{spec.label} requested, but Canvas did not answer in time. The portal is "
            "checking whether it applied; reload in a moment to see."
        )
    return f"{spec.label} requested: Canvas accepted it. Reload in a moment to see the outcome."


# -- following an attempt ---------------------------------------------------------


def attempt_get_for_user(*, user: AbstractBaseUser, attempt_id: int) -> NoteActionAttempt:
    """Return one of the user's own attempts (a database read, never Canvas); raise DoesNotExist."""
    return NoteActionAttempt.objects.get(pk=attempt_id, user=user)


def attempt_note(*, user: AbstractBaseUser, attempt: NoteActionAttempt) -> dict[str, Any] | None:
    """Return the note as its settled attempt last saw it (state and actions), or None.

    Codes only, stored when the attempt was settled: the page redraws the
    note's state and buttons without calling Canvas.
    """
    if not attempt.note_state:
        return None
    code = attempt.note_state
    note = {
        "id": str(attempt.note_id),
        "state": {"code": code, "label": STATE_LABELS.get(code, code)},
        "allowed_actions": attempt.note_action_list,
    }
    return note_with_actions(user=user, note=note)


def attempt_reply(*, user: AbstractBaseUser, attempt: NoteActionAttempt) -> ActionReply:
    """Return what to show about a settled attempt: no stronger than what Canvas showed."""
    spec = ACTIONS[attempt.action]
    note = attempt_note(user=user, attempt=attempt)
    link = {
        "href": reverse("notes:detail", kwargs={"note_id": attempt.note_id}),
        "text": "Open the note",
    }
    if attempt.outcome == Outcome.CONFIRMED:
        return ActionReply(note=note, message=f"Note {spec.done}.", level="success")
    if attempt.outcome == Outcome.NOT_APPLIED:
        return ActionReply(
            note=note,
            message=(
                f"Canvas did not apply {spec.noun}. The note may have changed in Canvas "
                "meanwhile, or a Canvas rule or another plugin refused it."
            ),
            level="error",
            link=link,
        )
    return ActionReply(
        note=note,
        message=(
            f"The portal could not confirm {spec.noun}: Canvas could not be read. "
            "Open the note to check it."
        ),
        level="warning",
        link=link,
    )


#: How long a settled attempt's outcome stays on its note's row.
RECENT_OUTCOME = timedelta(minutes=15)
#: How long past its confirmation deadline a row still follows an attempt.
FOLLOW_GRACE = timedelta(seconds=30)


def notes_with_attempts(
    *, user: AbstractBaseUser, notes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Add `attempt` to each note: the user's latest attempt on it lately (a database read).

    So a reloaded page shows an action Canvas is still applying (and
    follows it), and `outcome` (an ActionReply) when the last one was not
    applied or could not be confirmed.
    """
    now = _now()
    latest = attempt_latest_by_note(
        user=user, note_ids=[n["id"] for n in notes], since=now - RECENT_OUTCOME
    )
    # Past its deadline an attempt is the resolver's: the row shows the note
    # as Canvas does rather than a spinner that never stops.
    followed_since = now - conf.confirm_window() - FOLLOW_GRACE
    rows = []
    for note in notes:
        attempt = latest.get(str(note["id"]))
        if attempt is not None and attempt.in_flight and attempt.started_at < followed_since:
            attempt = None
        settled_badly = (
            attempt is not None and not attempt.in_flight and attempt.outcome != Outcome.CONFIRMED
        )
        outcome = attempt_reply(user=user, attempt=attempt) if settled_badly else None
        rows.append({**note, "attempt": attempt, "outcome": outcome})
    return rows


@dataclass(frozen=True)
class CountCard:
    """One number on the home page, linking to the tab that lists it."""

    label: str
    count: int
    tab: str
    warn: bool = False


def home_cards_for_user(*, user: AbstractBaseUser) -> list[CountCard]:
    """Return the home page's counts, in the order the user's work needs them.

    Providers: to sign, overdue, open, today's appointments; front-desk
    staff: today's appointments first (and only). One Canvas call.
    """
    counts = note_counts_for_user(user=user)
    today = CountCard("Today's appointments", counts["today"], "today")
    if not can_sign(user):
        return [today]
    return [
        CountCard("To sign", counts["to_sign"], "to_sign"),
        CountCard(
            f"Overdue (over {conf.overdue_days()} days)",
            counts["overdue"],
            "to_sign",
            warn=counts["overdue"] > 0,
        ),
        CountCard("My open notes", counts["open"], "open"),
        today,
    ]
