"""What pages show of Canvas: reads only (note lists, counts, one note, its content, tabs, ages).

Nothing here writes. Canvas is reached through `canvas_oauth.tokens.canvas_call`
(the user's token, its single 401 -> refresh -> retry, which commits on its
own: never call these inside a transaction) and the integration's plugin
client; the attempts shown beside the notes come from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.utils import timezone

from canvas_oauth.tokens import canvas_call
from canvas_oauth.zones import clinic_zone
from integrations.canvas.plugin import note_id_parse, plugin_client
from notes import conf
from notes.actions import note_with_actions, user_can_sign
from notes.late import attempt_late_from_note
from notes.models import NoteActionAttempt
from notes.replies import attempt_reply
from notes.selectors import attempt_latest_by_note

Outcome = NoteActionAttempt.Outcome


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


class TabKey(models.TextChoices):
    """A worklist tab (the `?tab=` of its URL); the label is the tab's."""

    TO_SIGN = "to_sign", "To sign"
    OPEN = "open", "My open notes"
    TODAY = "today", "Today's appointments"
    ALL = "all", "All"


class Queue(StrEnum):
    """A plugin queue (the plugin API's `queue=`)."""

    #: Every note the caller must sign or co-sign.
    TO_SIGN = "to_sign"


class Order(StrEnum):
    """A list order the plugin API knows (its `order=`)."""

    #: The oldest date of service first.
    OLDEST = "oldest"


class Count(StrEnum):
    """A key of the plugin's GET /notes/counts."""

    TO_SIGN = "to_sign"
    OVERDUE = "overdue"
    OPEN = "open"
    TODAY = "today"


@dataclass(frozen=True)
class Tab:
    """One worklist tab: which notes, in which order, and which count it shows."""

    key: TabKey
    states: tuple[str, ...] = ()
    mine: bool = False
    today: bool = False
    queue: Queue | None = None
    order: Order | None = None
    #: Its key in GET /notes/counts, if Canvas counts it there.
    count_key: Count | None = None

    @property
    def label(self) -> str:
        return self.key.label

    @property
    def signing(self) -> bool:
        """Return whether this tab is the signing queue (selection, ages, bulk signing)."""
        return self.queue is Queue.TO_SIGN


TABS: dict[str, Tab] = {
    tab.key: tab
    for tab in (
        Tab(TabKey.TO_SIGN, queue=Queue.TO_SIGN, order=Order.OLDEST, count_key=Count.TO_SIGN),
        Tab(TabKey.OPEN, states=("NEW", "ULK"), mine=True, count_key=Count.OPEN),
        # Counted by its own list (`count`): Canvas's counts.today holds every state.
        Tab(TabKey.TODAY, states=("BKD", "RVT"), today=True),
        Tab(TabKey.ALL),
    )
}
DEFAULT_TAB = TabKey.TO_SIGN
#: Old links to the tab before "To sign".
TAB_ALIASES = {"signature": TabKey.TO_SIGN}


def tabs_for_user(user: AbstractBaseUser) -> list[Tab]:
    """Return the user's tabs in order: signing work first, or today's appointments first."""
    if user_can_sign(user=user):
        return list(TABS.values())
    return [TABS[TabKey.TODAY], TABS[TabKey.ALL]]


def tab_for_user(user: AbstractBaseUser, asked: str | None) -> TabKey:
    """Return the tab to show: the one asked for if it is the user's, else their first."""
    tabs = tabs_for_user(user)
    key = TAB_ALIASES.get(asked or "", asked)
    return next((t.key for t in tabs if t.key == key), tabs[0].key)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Return [start, end) of `day` in the current time zone (the clinic's or the user's).

    Midnight to midnight, so a day when the clocks change lasts 23 or 25 hours.
    """
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def clinic_today(now: datetime | None = None) -> date:
    """Return the clinic's date now (its zone, whatever zone the page shows)."""
    return (now or _now()).astimezone(clinic_zone()).date()


def age_days(when: datetime, *, now: datetime | None = None) -> int:
    """Return how many calendar days old `when` is on the clinic's calendar (0: today).

    Negative for a date of service later than the clinic's today.
    """
    return (clinic_today(now) - when.astimezone(clinic_zone()).date()).days


def age_text(age: int | None) -> str:
    """Return an age as a person reads it: "Today", "3 days", "Tomorrow", "in 2 days"."""
    if age is None:
        return ""
    if age == 0:
        return "Today"
    if age == -1:
        return "Tomorrow"
    if age < 0:
        return f"in {-age} days"
    return f"{age} day{'' if age == 1 else 's'}"


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
            queue=spec.queue,
            order=spec.order,
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
            note_aged(note_with_actions(user=user, note=n), signing=spec.signing, now=now)
            for n in page["notes"]
        ],
        "next_cursor": page["next_cursor"],
        "count": page.get("count"),
    }


def note_aged(
    note: dict[str, Any], *, signing: bool, now: datetime | None = None
) -> dict[str, Any]:
    """Add `age_days` (clinic calendar days since the date of service, negative when
    later), `age_text` and, in the signing queue, `overdue` (older than
    NOTES_OVERDUE_DAYS; a later date never is)."""
    when = note.get("datetime_of_service")
    age = age_days(when, now=now) if when else None
    overdue = signing and age is not None and age > conf.overdue_days()
    return {**note, "age_days": age, "age_text": age_text(age), "overdue": overdue}


def note_counts_for_user(*, user: AbstractBaseUser, today: date | None = None) -> dict[str, int]:
    """Return the user's counts in one Canvas call: to_sign, overdue, open and today.

    Overdue: in the signing queue with a date of service more than
    `NOTES_OVERDUE_DAYS` calendar days before the clinic's today, in its zone.
    """
    day = today or timezone.localdate(_now())
    start, end = day_bounds(day)
    overdue_day = (today or clinic_today()) - timedelta(days=conf.overdue_days())
    overdue_before = datetime.combine(overdue_day, time.min, tzinfo=clinic_zone())
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


def note_content_for_user(*, user: AbstractBaseUser, note_id: Any) -> dict[str, Any]:
    """Return one note's content (its commands, in order) in one Canvas call.

    Patient data: shown and dropped; never logged, stored or put in the session.
    """
    note_uuid = note_id_parse(value=note_id)
    return canvas_call(
        user=user,
        call=lambda token: plugin_client().note_content(access_token=token, note_id=note_uuid),
    )


#: How long a final attempt's outcome stays on its note's row.
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
    # Past its deadline an attempt is `confirm_note_actions`'s: the row shows
    # the note as Canvas does rather than a spinner that never stops.
    followed_since = now - conf.confirm_window() - FOLLOW_GRACE
    rows = []
    for note in notes:
        attempt = latest.get(str(note["id"]))
        if attempt is not None and attempt.in_flight and attempt.started_at < followed_since:
            attempt = None
        if attempt is not None:
            # The note was just read: a change recorded not applied may show now.
            attempt_late_from_note(attempt=attempt, note=note)
        final_badly = (
            attempt is not None and not attempt.in_flight and attempt.outcome != Outcome.CONFIRMED
        )
        outcome = attempt_reply(user=user, attempt=attempt) if final_badly else None
        rows.append({**note, "attempt": attempt, "outcome": outcome})
    return rows


@dataclass(frozen=True)
class CountCard:
    """One number on the home page, linking to the tab that lists it."""

    label: str
    count: int
    tab: TabKey
    warn: bool = False


def today_count_for_user(*, user: AbstractBaseUser) -> int | None:
    """Return how many notes the Today tab lists (its list's `count`), None if not sent."""
    return note_list_for_user(user=user, tab=TabKey.TODAY, limit=1)["count"]


def home_cards_for_user(*, user: AbstractBaseUser) -> list[CountCard]:
    """Return the home page's counts, in the order the user's work needs them.

    Providers: to sign, overdue, open, today's appointments; front-desk
    staff: today's appointments first (and only). Today's number is the Today
    tab's own list count, so the card and the tab agree.
    """
    today_count = today_count_for_user(user=user)
    counts = note_counts_for_user(user=user) if user_can_sign(user=user) else {}
    if today_count is None:  # a plugin before contract v2 sends no list count
        counts = counts or note_counts_for_user(user=user)
        today_count = counts[Count.TODAY]
    today = CountCard(TabKey.TODAY.label, today_count, TabKey.TODAY)
    if not user_can_sign(user=user):
        return [today]
    return [
        CountCard(TabKey.TO_SIGN.label, counts[Count.TO_SIGN], TabKey.TO_SIGN),
        CountCard(
            f"Overdue (over {conf.overdue_days()} days)",
            counts[Count.OVERDUE],
            TabKey.TO_SIGN,
            warn=counts[Count.OVERDUE] > 0,
        ),
        CountCard(TabKey.OPEN.label, counts[Count.OPEN], TabKey.OPEN),
        today,
    ]
