"""The read phase, part one: authentication and error shapes, `/me`, the lists and counts."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from contract.context import Run, shown, summary_missing
from contract.report import Case, failed, passed, unobservable

PLUGIN_NAME_CHANGE = (
    "CANVAS_PLUGIN_NAME (and CONTRACT_PLUGIN_NAME): on Canvas Platform the plugin is "
    "`<org prefix>__note_sign_api`"
)


def case_unauthenticated(run: Run) -> Case:
    """No token: 401 with the contract's error body; an empty 404 means a wrong plugin name."""
    name = "auth.unauthenticated"
    answer = run.client.api("GET", "/me", token=None)
    if answer.route_absent:
        return failed(name, "404 with no body: no plugin at this name", PLUGIN_NAME_CHANGE)
    body = answer.body if isinstance(answer.body, dict) else {}
    message = (
        (body.get("error") or {}).get("message") if isinstance(body.get("error"), dict) else None
    )
    if answer.status == 401 and answer.error_code == "unauthenticated" and message:
        return passed(name, "401 unauthenticated with a message")
    return failed(name, f"{shown(answer)}; expected 401 unauthenticated with a message")


def case_bad_token(run: Run) -> Case:
    """A token Canvas never issued: 401 unauthenticated."""
    answer = run.client.api("GET", "/me", token="contract-" + uuid.uuid4().hex)
    if answer.status == 401 and answer.error_code == "unauthenticated":
        return passed("auth.bad_token", "401 unauthenticated")
    return failed("auth.bad_token", f"{shown(answer)}; expected 401 unauthenticated")


def case_invalid_note_id(run: Run) -> Case:
    """An id that is not a UUID: 400 invalid_note_id."""
    answer = run.get("/notes/not-a-uuid")
    if answer.status == 400 and answer.error_code == "invalid_note_id":
        return passed("errors.invalid_note_id", "400 invalid_note_id")
    return failed("errors.invalid_note_id", f"{shown(answer)}; expected 400 invalid_note_id")


def case_note_not_found(run: Run) -> Case:
    """A UUID no note has: 404 note_not_found."""
    answer = run.get(f"/notes/{uuid.uuid4()}")
    if answer.status == 404 and answer.error_code == "note_not_found":
        return passed("errors.note_not_found", "404 note_not_found")
    return failed("errors.note_not_found", f"{shown(answer)}; expected 404 note_not_found")


def _staff_id(body: object) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("staff"), dict):
        value = body["staff"].get("id")
        return value if isinstance(value, str) and value else None
    return None


def case_me(run: Run) -> Case:
    """`/me`: user_id and staff {id, name} for each token given."""
    answer = run.get("/me")
    run.staff_id = _staff_id(answer.body)
    if answer.status != 200 or not run.staff_id or "user_id" not in answer.body:
        return failed("me", f"{shown(answer)}; expected 200 with user_id and staff.id")
    if run.target.token_2:
        second = run.get("/me", second=True)
        run.staff_id_2 = _staff_id(second.body)
        if second.status != 200 or not run.staff_id_2:
            return failed("me", f"second token: {shown(second)}; expected 200 with staff.id")
    return passed("me", "200 with user_id and staff.id", staff_id=run.staff_id)


def case_time_zone(run: Run) -> Case:
    """`/me`'s installation_time_zone (contract v3) against the portal's CLINIC_TIME_ZONE."""
    name = "me.installation_time_zone"
    answer = run.get("/me")
    zone = answer.body.get("installation_time_zone") if isinstance(answer.body, dict) else None
    if not zone:
        return unobservable(name, "/me carries no installation_time_zone (contract v2 plugin)")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return failed(name, f"installation_time_zone {zone!s:.60} is no IANA zone name")
    portal = run.target.portal.clinic_time_zone
    if zone == portal:
        return passed(name, f"{zone}, as CLINIC_TIME_ZONE", zone=zone)
    return failed(
        name, f"the installation is on {zone}, the portal on {portal}", f"CLINIC_TIME_ZONE={zone}"
    )


def case_list(run: Run) -> Case:
    """`/notes`: notes, next_cursor and count; every summary has the contract's keys."""
    answer = run.get("/notes", limit=100)
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status != 200 or not {"notes", "next_cursor", "count"} <= body.keys():
        return failed("notes.list", f"{shown(answer)}; expected 200 with notes, next_cursor, count")
    run.notes = list(body["notes"])
    broken = [summary_missing(note) for note in run.notes if summary_missing(note)]
    if broken:
        return failed("notes.list", f"{len(broken)} summaries lack keys, e.g. {broken[0]}")
    if not isinstance(body["count"], int) or body["count"] < len(run.notes):
        return failed("notes.list", "count is not an integer at least the page's length")
    return passed("notes.list", f"{len(run.notes)} notes on the first page, count {body['count']}")


def case_limit_cursor(run: Run) -> Case:
    """`limit` bounds a page; `cursor` gives the next page, without repeats."""
    name = "notes.limit_cursor"
    first = run.get("/notes", limit=2)
    body = first.body if isinstance(first.body, dict) else {}
    page = body.get("notes") or []
    if first.status != 200 or len(page) > 2:
        return failed(name, f"{shown(first)} with {len(page)} notes for limit=2")
    if not body.get("next_cursor"):
        return unobservable(name, f"{len(page)} notes in all: no second page to read")
    second = run.get("/notes", limit=2, cursor=body["next_cursor"])
    later = (second.body or {}).get("notes") if isinstance(second.body, dict) else None
    if second.status != 200 or not isinstance(later, list):
        return failed(name, f"the next page answered {shown(second)}")
    repeated = {n.get("id") for n in page} & {n.get("id") for n in later}
    if repeated:
        return failed(name, f"{len(repeated)} notes appear on both pages")
    return passed(name, f"pages of {len(page)} and {len(later)} notes, no repeats")


def _dates(notes: list[dict]) -> list[str]:
    return [str(note.get("datetime_of_service") or "") for note in notes]


def case_order(run: Run) -> Case:
    """Newest date of service first by default, oldest first with order=oldest."""
    newest = _dates(run.notes)
    answer = run.get("/notes", limit=100, order="oldest")
    oldest = _dates((answer.body or {}).get("notes") or []) if answer.status == 200 else None
    if oldest is None:
        return failed("notes.order", f"order=oldest answered {shown(answer)}")
    key = dt.datetime.fromisoformat
    try:
        ok = newest == sorted(newest, key=key, reverse=True) and oldest == sorted(oldest, key=key)
    except ValueError:
        return failed("notes.order", "a datetime_of_service is no ISO date-time")
    if not ok:
        return failed("notes.order", "a page is not in date-of-service order")
    return passed("notes.order", "newest first by default, oldest first with order=oldest")


def case_state_filter(run: Run) -> Case:
    """`state=<code>` keeps the notes in that state, and `count` counts them."""
    codes = sorted({(note.get("state") or {}).get("code") for note in run.notes} - {None})
    if not codes:
        return unobservable("notes.state_filter", "no notes to filter")
    code = codes[0]
    answer = run.get("/notes", state=code, limit=100)
    body = answer.body if isinstance(answer.body, dict) else {}
    notes = body.get("notes") or []
    if answer.status != 200 or not notes:
        return failed("notes.state_filter", f"state={code}: {shown(answer)}, {len(notes)} notes")
    others = [n for n in notes if (n.get("state") or {}).get("code") != code]
    if others:
        return failed("notes.state_filter", f"state={code} returned {len(others)} other states")
    return passed("notes.state_filter", f"state={code}: {len(notes)} notes, count {body['count']}")


def case_to_sign(run: Run) -> Case:
    """`queue=to_sign`: the caller's own or supervised notes; its count equals counts.to_sign."""
    name = "notes.to_sign"
    answer = run.get("/notes", queue="to_sign", limit=100)
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status != 200 or "count" not in body:
        return failed(name, f"{shown(answer)}; expected 200 with notes and count")
    me = run.staff_id
    foreign = [
        n
        for n in body.get("notes") or []
        if me
        not in {
            (n.get("provider") or {}).get("id"),
            (n.get("supervising_provider") or {}).get("id"),
        }
        and n.get("queue_action") != "cosign"
    ]
    if foreign:
        return failed(name, f"{len(foreign)} notes neither the caller's nor supervised by them")
    day = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = run.get(
        "/notes/counts",
        day_start=day.isoformat(),
        day_end=(day + dt.timedelta(days=1)).isoformat(),
        overdue_before=(day - dt.timedelta(days=3)).isoformat(),
    )
    shape = counts.body if isinstance(counts.body, dict) else {}
    keys = {"to_sign", "overdue", "open", "today"}
    if counts.status != 200 or not keys <= shape.keys():
        return failed("notes.counts", f"{shown(counts)}; expected to_sign, overdue, open, today")
    if shape["to_sign"] != body["count"]:
        return failed(
            "notes.counts",
            f"counts.to_sign {shape['to_sign']} but the list's count {body['count']}",
        )
    return passed("notes.counts", f"to_sign {shape['to_sign']} in both the list and counts")


READ_CASES = (
    case_unauthenticated,
    case_bad_token,
    case_invalid_note_id,
    case_note_not_found,
    case_me,
    case_time_zone,
    case_list,
    case_limit_cursor,
    case_order,
    case_state_filter,
    case_to_sign,
)
