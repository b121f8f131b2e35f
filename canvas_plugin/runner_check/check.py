"""Run the plugin in the canvas SDK's own plugin runner and check contract v2 through real events.

Usage (from canvas_plugin/, with its .venv):
    .venv/bin/python runner_check/check.py <plugin package dir> [<plugin package dir> ...]

For each package directory (e.g. note_sign_api, or the released
../dist/acme__note_sign_api/acme__note_sign_api) it starts
`canvas run-plugin <dir> --db-seed-file runner_check/seed.py` (gRPC on
127.0.0.1:50051, SQLite inside the SDK's install, DATABASE_URL unset), waits for
it, sends SIMPLE_API_AUTHENTICATE then SIMPLE_API_REQUEST events with the actor
set, in order, checks status, body and effects of every reply, stops the runner
by its process id (its whole process group) and checks its log for handler
exceptions. Exits 1 with one line per difference, naming the event.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from canvas_generated.messages.effects_pb2 import EffectType

# Run as a script: this folder is on sys.path, so its sibling module imports plainly.
from runner_rpc import Client, Runner

#: Lines in the runner's log that mean a handler or the plugin failed.
BAD_LOG = re.compile(
    r"Traceback|Encountered exception|Unable to load|Failed to|ERROR|CRITICAL|Error loading"
)


def check_plugin(plugin_dir: Path) -> list[str]:
    """Run every contract case against one plugin package; return the differences."""
    with tempfile.TemporaryDirectory(prefix="runner_check_") as tmp:
        runner = Runner(plugin_dir, Path(tmp))
        problems: list[str] = []
        started = time.monotonic()
        try:
            ids = runner.start()
            client = Client(plugin_dir.name)
            try:
                problems += run_cases(client, ids)
            finally:
                client.close()
        finally:
            runner.stop()
        log = runner.log()
        for line in log.splitlines():
            if BAD_LOG.search(line):
                problems.append(f"runner log: {line.strip()}")
        if f'Successfully loaded plugin "{plugin_dir.name}"' not in log:
            problems.append(f"runner log: plugin {plugin_dir.name} was not loaded")
        for loaded, total in re.findall(r"\((\d+)/(\d+) handlers loaded\)", log):
            if loaded != total:
                problems.append(f"runner log: only {loaded}/{total} handlers loaded")
        if problems:
            problems.append(f"--- runner log ({runner.log_path.name}) ---\n{log.rstrip()}")
        print(
            f"runner_check {plugin_dir.name}: "
            f"{'FAILED' if problems else 'ok'} in {time.monotonic() - started:.1f} s"
        )
        return problems


def run_cases(client: Client, ids: dict) -> list[str]:
    """Send every case in order; return the differences."""
    problems: list[str] = []
    users = {name: str(ids[name]["user"]) for name in ("provider", "supervisor", "other")}
    users["non_staff"] = str(ids["non_staff"]["user"])
    staff = {name: ids[name]["staff"] for name in ("provider", "supervisor", "other")}
    notes = ids["notes"]
    prov, sup, oth, nonstaff = (
        users["provider"],
        users["supervisor"],
        users["other"],
        users["non_staff"],
    )

    def expect(label, reply, status, *, code=None, body=None, effects=(), state=None, check=None):
        if reply.status != status:
            problems.append(
                f"{label}: status {reply.status}, expected {status}; body {reply.raw[:300]!r}"
            )
            return
        data = reply.json()
        if code is not None:
            got = (data or {}).get("error", {}).get("code") if isinstance(data, dict) else None
            if got != code:
                problems.append(f"{label}: error code {got!r}, expected {code!r}; body {data}")
            elif not (data["error"].get("message") or "").strip():
                problems.append(f"{label}: error has no message; body {data}")
        if state is not None and (data or {}).get("state") != state:
            problems.append(
                f"{label}: body state {(data or {}).get('state')!r}, expected {state!r}"
            )
        if body is not None and data != body:
            problems.append(f"{label}: body {data}, expected {body}")
        if reply.effect_names != list(effects):
            problems.append(f"{label}: effects {reply.effect_names}, expected {list(effects)}")
        if check is not None:
            for difference in check(data):
                problems.append(f"{label}: {difference}")

    def get(path, actor, query=None, **expected):
        label, reply = client.call("GET", path, actor=actor, query=query)
        expect(label, reply, expected.pop("status", 200), **expected)

    def action(note, name, actor, status, *, code=None, effects=(), expected=None, state=None):
        label, reply = client.call("POST", f"/notes/{notes[note]}/{name}", actor=actor)
        label += f" [{note} note]"

        def accepted(data):
            want = {
                "note_id": notes[note],
                "action": name,
                "effects": list(effects),
                "from_state": state,
            }
            for key, value in want.items():
                if data.get(key) != value:
                    yield f"{key} {data.get(key)!r}, expected {value!r}"
            if (data.get("expected_state") or {}).get("code") != expected:
                yield f"expected_state {data.get('expected_state')}, expected code {expected!r}"
            try:
                datetime.fromisoformat(data.get("accepted_at") or "")
            except ValueError:
                yield f"accepted_at {data.get('accepted_at')!r} is not an ISO date-time"
            for effect in reply.effects:
                payload = json.loads(effect.payload)
                if payload.get("data", {}).get("note") != notes[note]:
                    yield f"{EffectType.Name(effect.type)} payload {payload} is not for this note"
                if effect.actor != actor:
                    yield f"{EffectType.Name(effect.type)} actor {effect.actor!r}, not {actor!r}"

        if status == 202:
            expect(label, reply, 202, effects=effects, check=accepted)
        else:
            expect(label, reply, status, code=code, state=state)

    def ids_are(expected_names, count=None, ordered=False):
        def check(data):
            got = [n["id"] for n in data.get("notes", [])]
            want = [notes[name] for name in expected_names]
            if (got if ordered else sorted(got)) != (want if ordered else sorted(want)):
                names = {v: k for k, v in notes.items()}
                yield f"notes {[names.get(i, i) for i in got]}, expected {list(expected_names)}"
            if data.get("count") != (len(want) if count is None else count):
                total = len(want) if count is None else count
                yield f"count {data.get('count')!r}, expected {total}"

        return check

    # Who may call: a staff token, no token, a non-staff token.
    get(
        "/me",
        prov,
        body={
            "user_id": prov,
            "staff": {"id": staff["provider"], "name": "Ada Lovelace", "time_zone": None},
            "installation_time_zone": "UTC",
        },
    )
    label, reply = client.call("GET", "/me", actor="", token=False)
    expect(label, reply, 401, code="unauthenticated")
    get("/me", nonstaff, status=403, code="forbidden")
    get("/notes", nonstaff, status=403, code="forbidden")

    # Lists, the to-sign queue (own and co-sign), filters, counts.
    get("/notes", prov, {"queue": "to_sign"}, check=ids_are(["new", "ulk", "lkd"]))
    get("/notes", prov, {"queue": "to_sign", "state": "LKD"}, check=ids_are(["lkd"]))
    get("/notes", sup, {"queue": "to_sign"}, check=ids_are(["sgn"]))
    get("/notes", oth, {"queue": "to_sign"}, check=ids_are([]))
    get(
        "/notes",
        prov,
        {"provider": "me", "patient": "pat qui", "limit": 2},
        check=ids_are(["appt_cvd", "appt_bkd"], count=7, ordered=True),
    )
    get(
        "/notes",
        prov,
        {"provider": "me", "patient": "pat qui", "limit": 2, "order": "oldest"},
        check=ids_are(["new", "ulk"], count=7, ordered=True),
    )
    get(
        "/notes/counts",
        prov,
        {
            "day_start": "2026-03-02T00:00:00+00:00",
            "day_end": "2026-03-03T00:00:00+00:00",
            "overdue_before": "2026-03-02T10:30:00+00:00",
        },
        body={"to_sign": 3, "overdue": 2, "open": 3, "today": 7},  # open: NEW, ULK, CVD
    )

    # One note, and its history.
    def lkd_summary(data):
        want = {
            "id": notes["lkd"],
            "title": "Note lkd",
            "state": {"code": "LKD", "label": "Locked", "changed_by": staff["provider"]},
            "note_type": {"name": "Office visit", "category": "encounter", "is_sig_required": True},
            "patient": {"id": ids["patient"], "name": "Pat Quinn"},
            "provider": {"id": staff["provider"], "name": "Ada Lovelace"},
            "supervising_provider": {"id": staff["supervisor"], "name": "Grace Hopper"},
            "allowed_actions": ["sign", "lock_sign", "unlock"],
        }
        for key, value in want.items():
            got = data.get(key)
            if isinstance(value, dict) and isinstance(got, dict):
                got = {k: got.get(k) for k in value}
            if got != value:
                yield f"{key} {data.get(key)!r}, expected {value!r}"
        if not str(data.get("datetime_of_service", "")).startswith("2026-03-02T11:00:00"):
            yield f"datetime_of_service {data.get('datetime_of_service')!r}"

    get(f"/notes/{notes['lkd']}", prov, check=lkd_summary)
    get(
        f"/notes/{notes['lkd']}",
        oth,
        check=lambda d: (
            [f"allowed_actions {d.get('allowed_actions')} for another staff member, expected []"]
            if d.get("allowed_actions") != []
            else []
        ),
    )

    def sgn_history(data):
        got = [(h.get("state"), h.get("by")) for h in data.get("history", [])]
        want = [(s, staff["provider"]) for s in ("NEW", "LKD", "SGN")]
        if got != want:
            yield f"history {got}, expected {want}"
        if not data.get("as_of"):
            yield "no as_of"

    get(f"/notes/{notes['sgn']}/history", prov, check=sgn_history)
    get("/notes/not-a-uuid", prov, status=400, code="invalid_note_id")
    get(f"/notes/{uuid.UUID(int=1)}", prov, status=404, code="note_not_found")

    # Each action in an allowed and a refused state (effects are not applied here,
    # so every note keeps its seeded state and the order does not matter).
    action("new", "lock", prov, 202, effects=["LOCK_NOTE"], expected="LKD", state="NEW")
    action("lkd", "lock", prov, 409, code="action_not_allowed", state="LKD")
    action("data_new", "lock", prov, 422, code="action_rejected")
    action("lkd", "sign", prov, 202, effects=["SIGN_NOTE"], expected="SGN", state="LKD")
    action("new", "sign", prov, 409, code="action_not_allowed", state="NEW")
    action("nosig_lkd", "sign", prov, 422, code="action_rejected")
    action("sgn", "sign", sup, 202, effects=["SIGN_NOTE"], expected="SGN", state="SGN")
    action("sgn", "sign", prov, 409, code="already_signed", state="SGN")
    action(
        "new",
        "lock_sign",
        prov,
        202,
        effects=["LOCK_NOTE", "SIGN_NOTE"],
        expected="SGN",
        state="NEW",
    )
    action("lkd", "lock_sign", prov, 202, effects=["SIGN_NOTE"], expected="SGN", state="LKD")
    action("appt_bkd", "lock_sign", prov, 409, code="action_not_allowed", state="BKD")
    action("lkd", "unlock", prov, 202, effects=["UNLOCK_NOTE"], expected="ULK", state="LKD")
    action("sgn", "unlock", sup, 202, effects=["UNLOCK_NOTE"], expected="ULK", state="SGN")
    action("new", "unlock", prov, 409, code="action_not_allowed", state="NEW")
    action("appt_bkd", "checkin", oth, 202, effects=["CHECK_IN_NOTE"], expected="CVD", state="BKD")
    action("appt_cvd", "checkin", oth, 409, code="action_not_allowed", state="CVD")
    action("new", "checkin", prov, 422, code="action_rejected")
    action("appt_bkd", "noshow", oth, 202, effects=["NO_SHOW_NOTE"], expected="NSW", state="BKD")
    action("appt_cvd", "noshow", oth, 409, code="action_not_allowed", state="CVD")

    # The signer rule: another staff member may not sign, lock & sign or unlock.
    action("lkd", "sign", oth, 403, code="not_note_provider")
    action("new", "lock_sign", oth, 403, code="not_note_provider")
    action("lkd", "unlock", oth, 403, code="not_note_provider")
    # A non-staff actor gets no effect.
    action("new", "lock", nonstaff, 403, code="forbidden")

    # Unknown paths: no route, so the runner answers 404 with no handler.
    get("/nope", prov, status=404)
    label, reply = client.call("POST", f"/notes/{notes['new']}/frobnicate", actor=prov)
    expect(label, reply, 404)
    return problems


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.monotonic()
    problems: list[str] = []
    for raw in argv:
        plugin_dir = Path(raw).resolve()
        if not (plugin_dir / "CANVAS_MANIFEST.json").is_file():
            problems.append(f"{plugin_dir}: no CANVAS_MANIFEST.json")
            continue
        problems += [f"[{plugin_dir.name}] {p}" for p in check_plugin(plugin_dir)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"runner_check: {'FAILED' if problems else 'ok'} in {time.monotonic() - started:.1f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
