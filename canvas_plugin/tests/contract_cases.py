"""The documented cases of the plugin API's rules, by hand from Canvas's documentation.

Both the plugin's tests (SDK events) and the sandbox's tests (over HTTP)
run every row and must get the same status, code and expected state, so
the two implementations agree with each other and with the documentation
("Note state transitions", collections/_sdk/effects/note.md, and
CANVAS_SDK.md "What Canvas documents"). Written out, not computed from
transitions.py: this table is what the rules are checked against.

A row: (category, is_sig_required, state, action, caller, status, code,
expected state). caller is "provider" (the note's provider),
"supervising" (its supervising provider) or "other" (another active
staff member). status 202 rows have code "" and the state the note ends
in; refusals have the state "" .
"""

CASES: list[tuple[str, bool, str, str, str, int, str, str]] = [
    # lock -> LKD from NEW, CVD, ULK, UND; PSH for encounter notes only
    ("encounter", True, "NEW", "lock", "provider", 202, "", "LKD"),
    ("encounter", True, "CVD", "lock", "other", 202, "", "LKD"),
    ("encounter", True, "ULK", "lock", "provider", 202, "", "LKD"),
    ("encounter", True, "UND", "lock", "provider", 202, "", "LKD"),
    ("encounter", True, "PSH", "lock", "provider", 202, "", "LKD"),
    ("inpatient", True, "PSH", "lock", "provider", 409, "action_not_allowed", ""),
    ("inpatient", True, "NEW", "lock", "provider", 202, "", "LKD"),
    ("encounter", True, "LKD", "lock", "provider", 409, "action_not_allowed", ""),
    ("encounter", True, "SGN", "lock", "provider", 409, "action_not_allowed", ""),
    # appointment notes lock only from NSW
    ("appointment", True, "NSW", "lock", "provider", 202, "", "LKD"),
    ("appointment", True, "NEW", "lock", "provider", 409, "action_not_allowed", ""),
    ("appointment", True, "CVD", "lock", "provider", 409, "action_not_allowed", ""),
    # sign -> SGN from LKD, or SGN to sign again (co-sign); sig-required types only
    ("encounter", True, "LKD", "sign", "provider", 202, "", "SGN"),
    ("encounter", True, "LKD", "sign", "supervising", 202, "", "SGN"),
    ("encounter", True, "NEW", "sign", "provider", 409, "action_not_allowed", ""),
    ("encounter", True, "ULK", "sign", "provider", 409, "action_not_allowed", ""),
    ("encounter", False, "LKD", "sign", "provider", 422, "action_rejected", ""),
    ("inpatient", True, "LKD", "sign", "provider", 202, "", "SGN"),
    # who signs: only the provider or the supervising provider
    ("encounter", True, "LKD", "sign", "other", 403, "not_note_provider", ""),
    ("encounter", True, "NEW", "lock_sign", "other", 403, "not_note_provider", ""),
    ("encounter", True, "LKD", "unlock", "other", 403, "not_note_provider", ""),
    ("encounter", True, "SGN", "unlock", "other", 403, "not_note_provider", ""),
    # lock & sign: [lock, sign], or sign alone on a locked note
    ("encounter", True, "NEW", "lock_sign", "provider", 202, "", "SGN"),
    ("encounter", True, "ULK", "lock_sign", "provider", 202, "", "SGN"),
    ("encounter", True, "LKD", "lock_sign", "provider", 202, "", "SGN"),
    ("encounter", False, "NEW", "lock_sign", "provider", 422, "action_rejected", ""),
    ("appointment", True, "NEW", "lock_sign", "provider", 409, "action_not_allowed", ""),
    # unlock -> ULK from LKD, and from SGN for sig-required types
    ("encounter", True, "LKD", "unlock", "provider", 202, "", "ULK"),
    ("encounter", True, "SGN", "unlock", "provider", 202, "", "ULK"),
    ("encounter", True, "SGN", "unlock", "supervising", 202, "", "ULK"),
    ("encounter", False, "LKD", "unlock", "provider", 202, "", "ULK"),
    ("encounter", True, "NEW", "unlock", "provider", 409, "action_not_allowed", ""),
    # appointment notes: unlock moves LKD back to NSW
    ("appointment", True, "LKD", "unlock", "provider", 202, "", "NSW"),
    # check in -> CVD from BKD, RVT, NSW; no-show -> NSW from BKD, RVT; appointment notes only
    ("appointment", True, "BKD", "checkin", "other", 202, "", "CVD"),
    ("appointment", True, "RVT", "checkin", "other", 202, "", "CVD"),
    ("appointment", True, "NSW", "checkin", "other", 202, "", "CVD"),
    ("appointment", True, "CVD", "checkin", "other", 409, "action_not_allowed", ""),
    ("appointment", True, "BKD", "noshow", "other", 202, "", "NSW"),
    ("appointment", True, "RVT", "noshow", "other", 202, "", "NSW"),
    ("appointment", True, "NSW", "noshow", "other", 409, "action_not_allowed", ""),
    ("encounter", True, "BKD", "checkin", "provider", 422, "action_rejected", ""),
    ("encounter", True, "BKD", "noshow", "provider", 422, "action_rejected", ""),
    # data, letter and message notes accept no action
    ("data", True, "NEW", "lock", "provider", 422, "action_rejected", ""),
    ("data", True, "LKD", "sign", "provider", 422, "action_rejected", ""),
    ("letter", True, "NEW", "lock", "provider", 422, "action_rejected", ""),
    ("message", True, "NEW", "lock", "provider", 422, "action_rejected", ""),
    ("letter", False, "BKD", "checkin", "other", 422, "action_rejected", ""),
]

#: A signed note: who signed since the last lock decides whether signing again is allowed.
#: (signed by, caller, status, code, expected state)
SIGN_AGAIN_CASES: list[tuple[str, str, int, str, str]] = [
    ("provider", "supervising", 202, "", "SGN"),  # the co-signature
    ("provider", "provider", 409, "already_signed", ""),
    ("supervising", "supervising", 409, "already_signed", ""),
    ("supervising", "provider", 202, "", "SGN"),
    ("provider", "other", 403, "not_note_provider", ""),
]

#: GET /notes `order`: (the query's `order`, None for none; the order the notes come in).
#: Both orders break a tie on the date of service by id, ascending; an unknown value
#: is ignored like any unreadable filter.
LIST_ORDER_CASES: list[tuple[str | None, str]] = [
    (None, "newest"),
    ("newest", "newest"),
    ("oldest", "oldest"),
    (" oldest ", "oldest"),
    ("", "newest"),
    ("OLDEST", "newest"),
    ("sideways", "newest"),
]

#: A cursor is only good for the order it was made in; any other use is a bad cursor.
#: (order the cursor was made with, order it is used with, status, code)
CURSOR_ORDER_CASES: list[tuple[str | None, str | None, int, str]] = [
    ("oldest", "oldest", 200, ""),
    ("newest", "newest", 200, ""),
    (None, "newest", 200, ""),
    ("newest", None, 200, ""),
    ("sideways", None, 200, ""),
    ("oldest", None, 400, "invalid_cursor"),
    ("oldest", "newest", 400, "invalid_cursor"),
    ("oldest", "sideways", 400, "invalid_cursor"),
    ("newest", "oldest", 400, "invalid_cursor"),
    (None, "oldest", 400, "invalid_cursor"),
]

#: GET /notes/history?ids= (contract v3): which id lists are answered, and how.
#: A row: (the ids asked for, status, code). "unknown": a UUID no note has;
#: "100 unknown"/"101 unknown": that many distinct unknown UUIDs.
BATCH_ID_CASES: list[tuple[str, int, str]] = [
    ("none", 200, ""),
    ("unknown", 200, ""),
    ("100 unknown", 200, ""),
    ("101 unknown", 400, "too_many_ids"),
    ("not-a-uuid", 400, "invalid_note_id"),
]


def batch_ids(label: str) -> list[str]:
    """Return the ids a BATCH_ID_CASES row asks for."""
    import uuid

    if label == "none":
        return []
    if label.endswith("unknown"):
        count = int(label.split()[0]) if " " in label else 1
        return [str(uuid.uuid4()) for _ in range(count)]
    return [label]


#: Minimum necessary (contract v3, plugin variable visibility=related). The cast:
#: "provider" wrote every note (the notes' patient is one patient); "front_desk" has only
#: administrative roles; "care_team" is a clinical nurse, active on that patient's care
#: team; "unrelated" is another provider with no tie to the notes.
#: A row: (caller, note kind, state, day, visible); day "today" or "past" (two days ago).
#: An invisible note is absent from the caller's list and answers 404 note_not_found to
#: GET /notes/<id> and to POST /notes/<id>/lock alike (the 404 before any 403).
VISIBILITY_CASES: list[tuple[str, str, str, str, bool]] = [
    ("front_desk", "appointment", "BKD", "today", True),
    ("front_desk", "appointment", "BKD", "past", False),
    ("front_desk", "encounter", "NEW", "today", False),
    ("front_desk", "encounter", "LKD", "past", False),
    ("care_team", "encounter", "LKD", "past", True),
    ("care_team", "appointment", "BKD", "today", True),
    ("unrelated", "encounter", "NEW", "today", False),
    ("unrelated", "appointment", "BKD", "today", False),
    ("provider", "encounter", "NEW", "past", True),
]

#: The visit: the provider's appointment note in `start`, then actions by the provider,
#: each answered 202 with the state the note ends in. Check-in converts the note into an
#: encounter note in CVD (Canvas does it when applying the effect; the plugin predicts
#: CVD), which then locks and signs like any open note.
VISIT_CASES: list[tuple[str, list[tuple[str, str]]]] = [
    ("BKD", [("checkin", "CVD"), ("lock_sign", "SGN")]),
    ("BKD", [("checkin", "CVD"), ("lock", "LKD"), ("sign", "SGN")]),
    ("NSW", [("checkin", "CVD"), ("lock_sign", "SGN")]),
]

#: A no-show is never offered a signature: the provider's appointment note in `state`
#: (NSW, or locked from NSW) never lists sign or lock_sign among its allowed actions nor
#: sits in queue=to_sign, and asking anyway is refused: (state, action, status, code).
NO_SHOW_CASES: list[tuple[str, str, int, str]] = [
    ("NSW", "sign", 409, "action_not_allowed"),
    ("NSW", "lock_sign", 409, "action_not_allowed"),
    ("LKD", "sign", 409, "action_not_allowed"),
    ("LKD", "lock_sign", 409, "action_not_allowed"),
]

#: GET /notes/counts equals the length of the list it counts: (caller, count, the list's
#: query). "{today}"/"{tomorrow}": the clinic's midnights (the counts' day_start/day_end).
COUNT_CASES: list[tuple[str, str, dict[str, str]]] = [
    ("provider", "to_sign", {"queue": "to_sign"}),
    ("provider", "open", {"provider": "me", "state": "NEW,CVD,PSH,ULK,RST,UND"}),
    ("provider", "today", {"from": "{today}", "to": "{tomorrow}"}),
    ("front_desk", "today", {"from": "{today}", "to": "{tomorrow}"}),
    ("front_desk", "to_sign", {"queue": "to_sign"}),
    ("care_team", "today", {"from": "{today}", "to": "{tomorrow}"}),
    ("unrelated", "today", {"from": "{today}", "to": "{tomorrow}"}),
]

#: GET /notes?date= is a day of the installation's zone (contract v3), midnight to midnight
#: there, not UTC's. Run with the installation on DATE_FILTER_ZONE (Auckland, UTC+13 that
#: day): 00:30 on the 30th there is the 29th in UTC, 05:00 on December 1st the 30th.
#: A row: (date of service in the installation's wall time, listed by date=DATE_FILTER_DAY).
DATE_FILTER_ZONE = "Pacific/Auckland"
DATE_FILTER_DAY = "2026-11-30"
DATE_FILTER_CASES: list[tuple[str, bool]] = [
    ("2026-11-29T23:30", False),
    ("2026-11-30T00:30", True),  # the 29th in UTC
    ("2026-11-30T23:30", True),
    ("2026-12-01T05:00", False),  # the 30th in UTC
]
