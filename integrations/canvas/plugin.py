"""The client of the note_sign_api plugin API (contract: docs/plugin-api.md).

Every call goes through `integrations.canvas.http` and returns parsed,
shape-checked data (`integrations.canvas.notes`) or raises an
`integrations.canvas.exceptions` error (`integrations.canvas.responses`).
The access token is sent in the Authorization header only and never logged.
The plugin decides what is allowed; this module only speaks its protocol.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import quote

import requests

from integrations.canvas import http
from integrations.canvas.content import content_parse
from integrations.canvas.exceptions import CanvasUnavailable, OutcomeUnknown
from integrations.canvas.notes import (  # noqa: F401 (the apps import them from here)
    COUNT_KEYS,
    STATE_LABELS,
    UNREADABLE,
    NoteState,
    action_reply_parse,
    counts_parse,
    history_parse,
    me_parse,
    note_id_parse,
    note_page_parse,
    notes_history_parse,
    state_not_allowed_message,
    summary_parse,
)
from integrations.canvas.responses import json_parse, raise_for_status
from integrations.canvas.settings import canvas_settings

logger = logging.getLogger(__name__)

_ACTION_RE = re.compile(r"[a-z_]{1,32}", re.ASCII)
#: The most notes one `GET /notes/history` may ask for (contract v3).
NOTES_HISTORY_MAX_IDS = 100


class PluginClient:
    """Call the note_sign_api plugin of the configured Canvas instance."""

    def __init__(self, *, session: requests.Session | None = None) -> None:
        self.session = session

    # -- endpoints --------------------------------------------------------

    def me(self, *, access_token: str) -> dict[str, Any]:
        """Return `{"user_id", "staff": {"id", "name"}}` for the token's user."""
        return me_parse(self._request("GET", "me", access_token=access_token))

    def note_list(
        self,
        *,
        access_token: str,
        queue: str | None = None,
        state: list[str] | None = None,
        provider: str | None = None,
        patient: str | None = None,
        date: date | str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        """Return `{"notes": [summary, ...], "next_cursor": str | None, "count": int | None}`.

        `count` is the total matching (contract v2), None from a plugin that
        does not send it. `date_from`/`date_to` (aware) ask for a date of
        service in [from, to): a clinic's own day, whatever its zone.
        `order` is `"oldest"` (date of service oldest first) or `"newest"`
        (the plugin's default); a cursor is only good with the order it came
        from (another answers 400 `invalid_cursor`).
        """
        params = _note_list_params(
            queue=queue,
            state=state,
            provider=provider,
            patient=patient,
            date=date,
            date_from=date_from,
            date_to=date_to,
            limit=limit,
            cursor=cursor,
            order=order,
        )
        data = self._request("GET", "notes", access_token=access_token, params=params)
        return note_page_parse(data)

    def note_counts(
        self,
        *,
        access_token: str,
        overdue_before: datetime | None,
        day_start: datetime | None,
        day_end: datetime | None,
    ) -> dict[str, int]:
        """Return the caller's worklist counts: `{"to_sign", "overdue", "open", "today"}`.

        `to_sign`: the `to_sign` queue; `overdue`: those of them with a date
        of service before `overdue_before`; `open`: the caller's own NEW and
        ULK notes; `today`: notes of any state with a date of service in
        [`day_start`, `day_end`). The bounds are aware datetimes; Canvas
        answers 0 for a count whose bound is missing (None is not sent).
        """
        bounds = {
            "overdue_before": overdue_before,
            "day_start": day_start,
            "day_end": day_end,
        }
        params = {name: when.isoformat() for name, when in bounds.items() if when is not None}
        data = self._request(
            "GET", "notes/counts", access_token=access_token, params=params or None
        )
        return counts_parse(data)

    def note_get(self, *, access_token: str, note_id: Any) -> dict[str, Any]:
        """Return one note's summary."""
        path = f"notes/{note_id_parse(value=note_id)}"
        return summary_parse(self._request("GET", path, access_token=access_token))

    def note_history(
        self, *, access_token: str, note_id: Any, since: datetime | None = None
    ) -> dict[str, Any]:
        """Return `{"history": [{"state", "at", "by"}, ...], "as_of"}`, oldest first."""
        path = f"notes/{note_id_parse(value=note_id)}/history"
        params = {"since": since.isoformat()} if since is not None else None
        data = self._request("GET", path, access_token=access_token, params=params)
        return history_parse(data)

    def notes_history(
        self, *, access_token: str, ids: list[Any], since: datetime | None = None
    ) -> dict[str, Any]:
        """Return many notes' state, allowed actions and history in one call (contract v3).

        `{"notes": {"<id>": {"state", "allowed_actions", "history"}}, "as_of"}`;
        at most `NOTES_HISTORY_MAX_IDS` ids (ValueError beyond); a note the
        caller may not see, or that does not exist, is absent.
        """
        note_ids = list(dict.fromkeys(str(note_id_parse(value=note_id)) for note_id in ids))
        if len(note_ids) > NOTES_HISTORY_MAX_IDS:
            raise ValueError(f"at most {NOTES_HISTORY_MAX_IDS} notes per call")
        params = {"ids": ",".join(note_ids)}
        if since is not None:
            params["since"] = since.isoformat()
        data = self._request("GET", "notes/history", access_token=access_token, params=params)
        return notes_history_parse(data)

    def note_content(self, *, access_token: str, note_id: Any) -> dict[str, Any]:
        """Return the note's content: `{"note_id", "commands": [...], "staged"}` (contract v3).

        Patient data: parsed and returned, never logged (the request's log line
        names the path only).
        """
        path = f"notes/{note_id_parse(value=note_id)}/content"
        return content_parse(self._request("GET", path, access_token=access_token))

    def note_action(self, *, access_token: str, note_id: Any, action: str) -> dict[str, Any]:
        """Ask Canvas to perform `action`; return what it accepted.

        `{"note_id", "action", "effects", "from_state", "expected_state":
        {"code", "label"} | None, "accepted_at": datetime | None}`. A 202
        means accepted, not done: Canvas applies the effects after answering
        and may refuse them. Never resent: a read timeout raises OutcomeUnknown.
        """
        if not isinstance(action, str) or not _ACTION_RE.fullmatch(action):
            raise ValueError(f"not an action name: {action!r}")
        note_uuid = note_id_parse(value=note_id)
        path = f"notes/{note_uuid}/{quote(action, safe='')}"
        data = self._request("POST", path, access_token=access_token)
        if not isinstance(data, dict):
            raise OutcomeUnknown(UNREADABLE)
        return action_reply_parse(data, note_id=note_uuid, action=action)

    # -- plumbing ---------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        access_token: str,
        params: dict[str, str] | None = None,
    ) -> Any:
        started = time.monotonic()
        try:
            response = http.request(
                method,
                canvas_settings.plugin_api_url + path,
                params=params,
                auth=http.BearerAuth(access_token),
                session=self.session,
            )
        except http.TransportError as exc:
            logger.warning("Canvas %s /%s: %s", method, path, exc.kind)
            if method == "POST" and exc.sent:
                raise OutcomeUnknown() from None
            raise CanvasUnavailable() from None
        elapsed_ms = int((time.monotonic() - started) * 1000)
        level = logging.INFO if response.status_code < 400 else logging.WARNING
        logger.log(
            level, "Canvas %s /%s -> %s in %d ms", method, path, response.status_code, elapsed_ms
        )
        try:
            raise_for_status(response, is_action=method == "POST")  # 3xx included
            return json_parse(response)
        finally:
            response.close()


def _note_list_params(
    *,
    queue: str | None,
    state: list[str] | None,
    provider: str | None,
    patient: str | None,
    date: date | str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    limit: int,
    cursor: str | None,
    order: str | None,
) -> dict[str, str]:
    """Return the query of `GET /notes`: only the filters that were given."""
    given = {
        "limit": str(int(limit)),
        "queue": queue,
        "state": ",".join(state) if state else None,
        "provider": provider,
        "patient": patient,
        "date": date if isinstance(date, str) or not date else date.isoformat(),
        "from": date_from.isoformat() if date_from is not None else None,
        "to": date_to.isoformat() if date_to is not None else None,
        "cursor": cursor,
        "order": order,
    }
    return {name: value for name, value in given.items() if value}


@cache
def plugin_client() -> PluginClient:
    """Return the process-wide client (it holds no state; the session is http's)."""
    return PluginClient()
