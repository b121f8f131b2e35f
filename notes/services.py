"""Writes: performing an action on a Canvas note, recorded in the audit log."""

from __future__ import annotations

import ipaddress
import logging
import re
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from canvas_oauth.exceptions import CanvasOAuthError
from canvas_oauth.selectors import connection_get
from canvas_oauth.services import access_token_get
from notes import conf
from notes.client import get_client
from notes.constants import ACTION_PERMISSIONS, ACTIONS
from notes.exceptions import (
    ActionNotPermitted,
    AlreadyInProgress,
    InvalidAction,
    NotesError,
    OutcomeUnknown,
    Unauthenticated,
)
from notes.models import NoteActionAttempt
from notes.selectors import note_id_parse, note_with_actions

logger = logging.getLogger(__name__)

Outcome = NoteActionAttempt.Outcome


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def _error_code(exc: BaseException) -> str:
    code = getattr(exc, "code", "")
    if isinstance(code, str) and code and code != "error":
        return code[:64]
    # CamelCase class name -> snake_case, e.g. NotLinked -> not_linked.
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()[:64]


def _client_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _attempt_start(
    *,
    user: AbstractBaseUser,
    note_id,
    action: str,
    request_id: str,
    client_ip: str | None,
    now: datetime,
) -> NoteActionAttempt:
    """Commit a pending attempt, or a failed one (and raise) if an identical one is in flight."""
    link = connection_get(user=user)
    fields = {
        "user": user,
        "username": user.get_username(),
        "canvas_staff_id": (getattr(link, "canvas_staff_id", "") or "")[:64],
        "note_id": note_id,
        "action": action,
        "request_id": (request_id or "")[:64],
        "client_ip": _client_ip(client_ip),
        "started_at": now,
    }
    duplicate = False
    # durable=True: the row must be committed before Canvas is called, so
    # this refuses to run inside a caller's transaction (RuntimeError).
    with transaction.atomic(durable=True):
        # A pending row older than the window belongs to a request that died
        # without finishing (a killed worker): it no longer blocks.
        NoteActionAttempt.objects.filter(
            user=user,
            note_id=note_id,
            action=action,
            outcome=Outcome.PENDING,
            started_at__lt=now - conf.pending_window(),
        ).update(outcome=Outcome.UNKNOWN, error_code="abandoned", finished_at=now)
        try:
            with transaction.atomic():
                attempt = NoteActionAttempt.objects.create(outcome=Outcome.PENDING, **fields)
        except IntegrityError:
            # The partial unique index saw a pending twin: record this attempt
            # as refused without calling Canvas.
            duplicate = True
            attempt = NoteActionAttempt.objects.create(
                outcome=Outcome.FAILED,
                error_code=AlreadyInProgress.code,
                finished_at=now,
                duration_ms=0,
                **fields,
            )
    if duplicate:
        logger.info("Note action %s on %s by user %s: in progress", action, note_id, user.pk)
        raise AlreadyInProgress()
    return attempt


def _attempt_finish(
    attempt: NoteActionAttempt, *, outcome: str, status: int | None, error_code: str
) -> None:
    """Complete the pending attempt once (a single autocommitted UPDATE)."""
    finished = _now()
    duration = max(0, int((finished - attempt.started_at).total_seconds() * 1000))
    try:
        NoteActionAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.PENDING).update(
            outcome=outcome,
            upstream_status=status,
            error_code=error_code[:64],
            finished_at=finished,
            duration_ms=duration,
        )
    except Exception:  # never hide the original outcome behind a logging failure
        logger.exception("Could not complete note action attempt %s", attempt.pk)
        raise
    attempt.outcome, attempt.upstream_status, attempt.error_code = outcome, status, error_code
    attempt.finished_at, attempt.duration_ms = finished, duration


def note_action_perform(
    *,
    user: AbstractBaseUser,
    note_id: Any,
    action: str,
    request_id: str = "",
    client_ip: str | None = None,
) -> dict[str, Any]:
    """Perform `action` on a Canvas note for `user` and return the note's fresh summary.

    Validates the action, the note id and the user's permission before
    anything else; commits a pending audit row; calls Canvas with the
    user's token (a 401 refreshes the token once and retries once; a read
    timeout is never retried); completes the audit row. The summary is the
    one the action's answer carries; only a plugin that sends none costs a
    second call to read the note again. When the action succeeded but that
    read fails, the returned dict is `{"id": ..., "stale": True}`.

    Must not run inside a transaction (RuntimeError before any call): the
    audit row and the token refresh commit on their own. Raises NotesError
    subclasses and canvas_oauth's CanvasOAuthError subclasses.
    """
    if not isinstance(action, str) or action not in ACTIONS:
        raise InvalidAction()
    note_uuid = note_id_parse(value=note_id)
    if not user.has_perm(f"notes.{ACTION_PERMISSIONS[action]}"):
        logger.warning("Refused note action %s by user %s: not permitted", action, user.pk)
        raise ActionNotPermitted()

    attempt = _attempt_start(
        user=user,
        note_id=note_uuid,
        action=action,
        request_id=request_id,
        client_ip=client_ip,
        now=_now(),
    )
    client = get_client()
    # Until an outcome is known the row says "unknown": an exception we did
    # not expect (or a killed request) never leaves it pending or "failed"
    # when Canvas may have acted.
    outcome, status, code = Outcome.UNKNOWN, None, "internal_error"
    sent = False
    try:
        token = access_token_get(user=user)
        try:
            sent = True
            result = client.note_action(access_token=token, note_id=str(note_uuid), action=action)
        except Unauthenticated:
            # A 401 means Canvas did nothing: refresh once, retry once.
            sent = False
            token = access_token_get(user=user, force_refresh=True, rejected_token=token)
            sent = True
            result = client.note_action(access_token=token, note_id=str(note_uuid), action=action)
        outcome, status, code = Outcome.SUCCEEDED, 202, ""
    except OutcomeUnknown as exc:
        outcome, status, code = Outcome.UNKNOWN, getattr(exc, "status", None), _error_code(exc)
        raise
    except (NotesError, CanvasOAuthError) as exc:
        # Includes a refresh whose outcome is unknown: the action itself was not sent.
        outcome, status, code = Outcome.FAILED, getattr(exc, "status", None), _error_code(exc)
        raise
    except BaseException:
        outcome = Outcome.UNKNOWN if sent else Outcome.FAILED
        raise
    finally:
        _attempt_finish(attempt, outcome=outcome, status=status, error_code=code)
        logger.info(
            "Note action %s on %s by user %s: %s %s",
            action,
            note_uuid,
            user.pk,
            outcome,
            code,
        )

    note = result.get("note")
    if note is not None and note["id"] == str(note_uuid):
        return note_with_actions(user=user, note=note)
    try:
        note = client.note_get(access_token=token, note_id=str(note_uuid))
    except NotesError as exc:
        logger.warning("Note %s: action done, fresh read failed (%s)", note_uuid, exc.code)
        return {"id": str(note_uuid), "stale": True, "actions": []}
    return note_with_actions(user=user, note=note)
