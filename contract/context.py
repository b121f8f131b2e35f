"""What the cases share in one run: the client, the target and what earlier cases learned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contract.config import Target
from contract.http import Answer, Client

SUMMARY_KEYS = frozenset(
    {"id", "datetime_of_service", "state", "note_type", "patient", "provider", "allowed_actions"}
)
#: Pages the visibility and signing cases read at most per staff member.
MAX_PAGES = 3


@dataclass
class Run:
    """One run's client and target, and the staff ids and notes found on the way."""

    client: Client
    target: Target
    staff_id: str | None = None
    staff_id_2: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)

    def get(self, path: str, *, second: bool = False, **params: Any) -> Answer:
        """GET a plugin path as the first (or second) staff member."""
        token = self.target.token_2 if second else self.target.token
        return self.client.api("GET", path, token=token, params=params or None)

    def post(self, path: str) -> Answer:
        """POST a plugin path (an action) as the first staff member."""
        return self.client.api("POST", path, token=self.target.token)

    def notes_all(self, *, second: bool = False, **params: Any) -> list[dict[str, Any]]:
        """Return up to MAX_PAGES pages of 100 summaries the staff member sees."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _page in range(MAX_PAGES):
            query = {"limit": 100, **params, **({"cursor": cursor} if cursor else {})}
            answer = self.get("/notes", second=second, **query)
            if answer.status != 200 or not isinstance(answer.body, dict):
                break
            found.extend(answer.body.get("notes") or [])
            cursor = answer.body.get("next_cursor")
            if not cursor:
                break
        return found


def summary_missing(note: Any) -> list[str]:
    """Return the summary keys a note lacks (sorted), or ["<not an object>"]."""
    if not isinstance(note, dict):
        return ["<not an object>"]
    return sorted(SUMMARY_KEYS - note.keys())


def shown(answer: Answer) -> str:
    """Describe an answer by status and error code only (never its body's content)."""
    if answer.status == 0:
        return "no answer (connection failed or timed out)"
    code = answer.error_code
    return f"{answer.status}" + (f" {code}" if code else "")
