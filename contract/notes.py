"""The read phase, part two: one note, history, content, batched history, visibility, signing."""

from __future__ import annotations

import uuid
from typing import Any

from contract.context import Run, shown, summary_missing
from contract.http import Answer
from contract.report import Case, failed, passed, unobservable

SIGN_ACTIONS = frozenset({"sign", "lock_sign", "unlock"})


def _route_absent(answer: Answer) -> bool:
    """No such route on this instance: the runner's empty 404, or "history" read as a note id."""
    return answer.route_absent or (answer.status == 400 and answer.error_code == "invalid_note_id")


def _first_note(run: Run) -> dict[str, Any] | None:
    return run.notes[0] if run.notes else None


def case_detail(run: Run) -> Case:
    """`/notes/<id>`: the same note's summary."""
    note = _first_note(run)
    if note is None:
        return unobservable("note.detail", "the first staff member sees no notes")
    answer = run.get(f"/notes/{note['id']}")
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status != 200 or body.get("id") != note["id"] or summary_missing(body):
        return failed("note.detail", f"{shown(answer)}; expected the note's summary")
    return passed("note.detail", "200 with the note's summary", note_id=note["id"])


def _history_ok(entries: Any) -> bool:
    return isinstance(entries, list) and all(
        isinstance(e, dict) and {"state", "at", "by"} <= e.keys() for e in entries
    )


def case_history(run: Run) -> Case:
    """`/notes/<id>/history`: entries {state, at, by}, oldest first, ending in the note's state."""
    note = _first_note(run)
    if note is None:
        return unobservable("note.history", "the first staff member sees no notes")
    answer = run.get(f"/notes/{note['id']}/history")
    body = answer.body if isinstance(answer.body, dict) else {}
    entries = body.get("history")
    if answer.status != 200 or not _history_ok(entries) or "as_of" not in body:
        return failed("note.history", f"{shown(answer)}; expected history entries and as_of")
    state = (note.get("state") or {}).get("code")
    if entries and entries[-1]["state"] != state:
        return failed("note.history", f"last entry {entries[-1]['state']}, note is {state}")
    return passed("note.history", f"{len(entries)} entries, the last one {state}")


def case_content(run: Run) -> Case:
    """`/notes/<id>/content` (contract v3): commands and staged count, or not observable."""
    note = _first_note(run)
    if note is None:
        return unobservable("note.content", "the first staff member sees no notes")
    answer = run.get(f"/notes/{note['id']}/content")
    if answer.route_absent:
        return unobservable("note.content", "the instance has no /notes/<id>/content route (404)")
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status != 200 or body.get("note_id") != note["id"]:
        return failed("note.content", f"{shown(answer)}; expected 200 with note_id")
    if not isinstance(body.get("commands"), list) or "staged" not in body:
        return failed("note.content", "the body lacks commands or staged")
    return passed("note.content", f"{len(body['commands'])} commands, staged {body['staged']}")


def case_history_batch(run: Run) -> Case:
    """`/notes/history?ids=` (contract v3): the visible ids' histories; unknown ids absent."""
    name = "notes.history_batch"
    ids = [note["id"] for note in run.notes[:3]]
    if not ids:
        return unobservable(name, "the first staff member sees no notes")
    unknown = str(uuid.uuid4())
    answer = run.get("/notes/history", ids=",".join([*ids, unknown]))
    if _route_absent(answer):
        return unobservable(name, f"the instance has no /notes/history route ({shown(answer)})")
    notes = answer.body.get("notes") if isinstance(answer.body, dict) else None
    if answer.status != 200 or not isinstance(notes, dict):
        return failed(name, f"{shown(answer)}; expected 200 with notes by id")
    if unknown in notes or set(ids) - notes.keys():
        return failed(name, "the answer lacks a visible id or holds the unknown one")
    if not all(_history_ok((notes[i] or {}).get("history")) for i in ids):
        return failed(name, "an entry lacks its history list")
    return passed(name, f"{len(ids)} histories, the unknown id absent")


def case_visibility(run: Run) -> Case:
    """A note the first staff member sees and the second does not: 404 for the second."""
    name = "visibility"
    if not run.target.token_2:
        return unobservable(name, "no second token (CONTRACT_TOKEN_2)")
    mine = {note["id"] for note in run.notes_all()}
    theirs = {note["id"] for note in run.notes_all(second=True)}
    hidden = sorted(mine - theirs)
    if not hidden:
        return unobservable(
            name,
            f"the second staff member sees all {len(mine)} notes the first sees "
            "(plugin variable visibility=all, or the two are related)",
        )
    answer = run.get(f"/notes/{hidden[0]}", second=True)
    if answer.status == 404 and answer.error_code == "note_not_found":
        return passed(name, f"{len(hidden)} notes hidden from the second; reading one: 404")
    return failed(
        name,
        f"a note absent from the second's list answers {shown(answer)} to them",
        "plugin variable `visibility`: lists and reads must agree",
    )


def _supervised(run: Run) -> list[dict[str, Any]]:
    """Locked notes the second staff member supervises but did not write."""
    return [
        note
        for note in run.notes_all(second=True, state="LKD")
        if (note.get("supervising_provider") or {}).get("id") == run.staff_id_2
        and (note.get("provider") or {}).get("id") != run.staff_id_2
    ]


def case_signing_restriction(run: Run) -> Case:
    """A supervising provider is offered sign on a locked note, unless signing is restricted."""
    name = "signing.restriction"
    if not run.target.token_2 or not run.staff_id_2:
        return unobservable(name, "no second token (CONTRACT_TOKEN_2)")
    notes = _supervised(run)
    if not notes:
        return unobservable(name, "no locked note of another provider that the second supervises")
    offered = [note for note in notes if SIGN_ACTIONS & set(note.get("allowed_actions") or [])]
    if offered:
        return passed(
            name, f"the supervising provider may sign ({len(offered)}/{len(notes)} notes)"
        )
    return failed(
        name,
        f"the instance offers no sign to a supervising provider on {len(notes)} locked notes: "
        "signing is restricted to the note's provider, so the co-sign queue stays empty",
        "plugin variable `restrict_signing_to_provider`=false if supervisors co-sign in the portal",
    )


def case_signing_policy(run: Run) -> Case:
    """Someone neither provider nor supervisor is not offered sign (signing_policy=provider)."""
    name = "signing.policy"
    if not run.target.token_2 or not run.staff_id_2:
        return unobservable(name, "no second token (CONTRACT_TOKEN_2)")
    me = run.staff_id_2
    strangers = [
        note
        for note in run.notes_all(second=True, state="LKD")
        if me
        not in {
            (note.get("provider") or {}).get("id"),
            (note.get("supervising_provider") or {}).get("id"),
        }
    ]
    if not strangers:
        return unobservable(name, "the second sees no locked note they neither wrote nor supervise")
    offered = [note for note in strangers if "sign" in (note.get("allowed_actions") or [])]
    if not offered:
        return passed(name, f"sign is not offered on {len(strangers)} other providers' notes")
    return failed(
        name,
        f"any staff member may sign ({len(offered)}/{len(strangers)} notes)",
        "plugin variable `signing_policy`=provider unless any staff member may sign",
    )


NOTE_CASES = (
    case_detail,
    case_history,
    case_content,
    case_history_batch,
    case_visibility,
    case_signing_restriction,
    case_signing_policy,
)
