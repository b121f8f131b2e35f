"""Send one request to the plugin runner and compare its answer: the check's vocabulary.

cases.py and switched_cases.py speak it; nothing here knows which answer a case expects.
"""

from __future__ import annotations

import json
from datetime import datetime

from canvas_generated.messages.effects_pb2 import EffectType

# Run as a script: this folder is on sys.path, so its sibling module imports plainly.
from runner_rpc import Client, Reply

#: The seeded staff members the cases act as (seed.py), and the non-staff user.
STAFF = ("provider", "supervisor", "other", "stranger")


class Checks:
    """One pass of cases against one running plugin: send, compare, collect differences."""

    def __init__(self, client: Client, ids: dict) -> None:
        self.client = client
        self.ids = ids
        self.notes: dict[str, str] = ids["notes"]
        self.users = {name: str(ids[name]["user"]) for name in (*STAFF, "non_staff")}
        self.staff = {name: ids[name]["staff"] for name in STAFF}
        self.problems: list[str] = []

    def expect(self, label, reply: Reply, status, *, code=None, body=None, effects=(), **more):
        """Compare a reply's status, error code, body and effects; `more`: state=, check=."""
        if reply.status != status:
            self.problems.append(
                f"{label}: status {reply.status}, expected {status}; body {reply.raw[:300]!r}"
            )
            return
        data = reply.json()
        differences = [*error_differences(data, code)]
        state = more.get("state")
        if state is not None and (data or {}).get("state") != state:
            differences.append(f"body state {(data or {}).get('state')!r}, expected {state!r}")
        if body is not None and data != body:
            differences.append(f"body {data}, expected {body}")
        if reply.effect_names != list(effects):
            differences.append(f"effects {reply.effect_names}, expected {list(effects)}")
        if more.get("check") is not None:
            differences += list(more["check"](data))
        self.problems += [f"{label}: {difference}" for difference in differences]

    def get(self, path: str, actor: str, query: dict | None = None, **expected) -> None:
        """GET `path` as `actor`; expect status (default 200) and the rest of `expected`."""
        label, reply = self.client.call("GET", path, actor=actor, query=query)
        self.expect(label, reply, expected.pop("status", 200), **expected)

    def action(
        self, note, name, actor, status, *, code=None, effects=(), expected=None, state=None
    ):
        """POST action `name` on seeded note `note` as `actor`.

        202: the effects, in order, for this note and actor, and the accepted body
        (from_state `state`, expected_state `expected`); otherwise the error `code`
        and, for a 409, the body's `state`.
        """
        label, reply = self.client.call("POST", f"/notes/{self.notes[note]}/{name}", actor=actor)
        label += f" [{note} note]"
        if status != 202:
            self.expect(label, reply, status, code=code, state=state)
            return
        want = {
            "note_id": self.notes[note],
            "action": name,
            "effects": list(effects),
            "from_state": state,
        }

        def accepted(data):
            yield from accepted_differences(data, want, expected)
            yield from effect_differences(reply, self.notes[note], actor)

        self.expect(label, reply, 202, effects=effects, check=accepted)

    def ids_are(self, expected_names, count=None, ordered=False):
        """Return a check: the list holds exactly these notes, and `count` (default: as many)."""
        want = [self.notes[name] for name in expected_names]
        total = len(want) if count is None else count
        names = {note_id: name for name, note_id in self.notes.items()}

        def check(data):
            got = [n["id"] for n in data.get("notes", [])]
            if (got if ordered else sorted(got)) != (want if ordered else sorted(want)):
                yield f"notes {[names.get(i, i) for i in got]}, expected {list(expected_names)}"
            if data.get("count") != total:
                yield f"count {data.get('count')!r}, expected {total}"

        return check

    def allowed_are(self, actions: list[str]):
        """Return a check: the summary offers the caller exactly `actions`, in order."""

        def check(data):
            if data.get("allowed_actions") != actions:
                yield f"allowed_actions {data.get('allowed_actions')}, expected {actions}"

        return check


def error_differences(data, code):
    """Yield how an error body differs from the contract's error with `code` (None: no check)."""
    if code is None:
        return
    got = (data or {}).get("error", {}).get("code") if isinstance(data, dict) else None
    if got != code:
        yield f"error code {got!r}, expected {code!r}; body {data}"
    elif not (data["error"].get("message") or "").strip():
        yield f"error has no message; body {data}"


def accepted_differences(data, want: dict, expected_state):
    """Yield how a 202 body differs from `want`, expected_state's code and an ISO accepted_at."""
    for key, value in want.items():
        if data.get(key) != value:
            yield f"{key} {data.get(key)!r}, expected {value!r}"
    if (data.get("expected_state") or {}).get("code") != expected_state:
        yield f"expected_state {data.get('expected_state')}, expected code {expected_state!r}"
    try:
        datetime.fromisoformat(data.get("accepted_at") or "")
    except ValueError:
        yield f"accepted_at {data.get('accepted_at')!r} is not an ISO date-time"


def effect_differences(reply: Reply, note_id: str, actor: str):
    """Yield every effect beside the reply that is not for this note or not by this actor."""
    for effect in reply.effects:
        name = EffectType.Name(effect.type)
        payload = json.loads(effect.payload)
        if payload.get("data", {}).get("note") != note_id:
            yield f"{name} payload {payload} is not for this note"
        if effect.actor != actor:
            yield f"{name} actor {effect.actor!r}, not {actor!r}"
