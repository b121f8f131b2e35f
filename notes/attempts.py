"""Sending an action: the only writer of pending and sent attempts (the audit row's first life).

An attempt is written *pending* before the one Canvas call and completed
once after it (accepted, unknown, or refused); its final outcome is
notes.confirmation's to write. Must not run inside a transaction: the audit
row and a token refresh commit on their own.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from canvas_oauth.exceptions import TokenDecryptionFailed
from canvas_oauth.selectors import connection_get
from canvas_oauth.tokens import canvas_call
from integrations.canvas.exceptions import CanvasError, OutcomeUnknown
from integrations.canvas.plugin import note_id_parse, plugin_client
from notes import conf
from notes.actions import ACTIONS, ActionSpec
from notes.confirmation import attempt_confirmation_enqueue
from notes.exceptions import ActionNotPermitted, AlreadyInProgress, InvalidAction
from notes.models import NoteActionAttempt
from notes.replies import REREAD_AFTER, ActionReply, refusal_reply, requested_reply
from notes.tasks import BULK_QUEUE
from notes.worklist import note_get_for_user
from observability import metrics

logger = logging.getLogger(__name__)

Outcome = NoteActionAttempt.Outcome


def _now() -> datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


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


def _committed_write() -> AbstractContextManager[Any]:
    """Return where a write commits at once: `atomic(durable=True)`, minus its round trips.

    In autocommit mode (no transaction open) a single statement commits
    itself, so no BEGIN and COMMIT are sent. Inside a transaction the
    durable block stands: Django refuses it there (RuntimeError), except in
    a TestCase's own, where it is a savepoint.
    """
    connection = transaction.get_connection(router.db_for_write(NoteActionAttempt))
    return transaction.atomic(durable=True) if connection.in_atomic_block else nullcontext()


def _attempt_start(*, fields: dict[str, Any], now: datetime) -> NoteActionAttempt:
    """Commit a pending attempt, or a failed one (and raise) if an identical one is in flight.

    The partial unique index allows one pending row per user, note and
    action, so two racing requests cannot both reach Canvas. Each write is
    committed at once: the row is in the database before Canvas is called.
    """
    try:
        with _committed_write():
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
        # The confirmation's first read: at once, or at the deadline as a backstop.
        "next_check_at": finished if confirm_now else finished + conf.confirm_window(),
    }
    if accepted is not None:
        expected = accepted.get("expected_state") or {}
        fields["expected_state"] = (expected.get("code") or "")[:8]
        fields["accepted_at"] = accepted.get("accepted_at")
    NoteActionAttempt.objects.filter(pk=attempt.pk, outcome=Outcome.PENDING).update(**fields)
    metrics.action_observe(action=attempt.action, outcome=outcome)
    for name, value in fields.items():
        setattr(attempt, name, value)
    if attempt.in_flight:
        # A bulk run reads its own notes; its backstop at the deadline waits on
        # the run's lane, so it never delays another person's clicks.
        attempt_confirmation_enqueue(
            attempt_id=attempt.pk,
            run_after=None if confirm_now else fields["next_check_at"],
            user_id=attempt.user_id,
            request_id=attempt.request_id,
            queue_name="" if confirm_now else BULK_QUEUE,
        )


def _action_spec_permitted(*, user: AbstractBaseUser, action: Any) -> ActionSpec:
    """Return the action's spec; raise InvalidAction or ActionNotPermitted (nothing written)."""
    spec = ACTIONS.get(action) if isinstance(action, str) else None
    if spec is None:
        raise InvalidAction()
    if not user.has_perm(spec.perm):
        logger.warning("Refused note action %s by user %s: not permitted", action, user.pk)
        raise ActionNotPermitted()
    return spec


def _action_send(
    attempt: NoteActionAttempt, *, user: AbstractBaseUser, connection: Any, confirm_now: bool
) -> None:
    """Make the one Canvas call for a pending attempt and complete its row, whatever happens."""
    sent: list[str] = []  # the tokens the action was sent with

    def send(token: str) -> dict[str, Any]:
        sent.append(token)
        return plugin_client().note_action(
            access_token=token, note_id=attempt.note_id, action=attempt.action
        )

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
            confirm_now=confirm_now,
        )
        logger.info(
            "Note action %s on %s by user %s: %s %s",
            attempt.action,
            attempt.note_id,
            user.pk,
            outcome,
            code,
        )


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
    answering, so the attempt is in flight until notes.confirmation makes
    its outcome final. Raises a CanvasError for a refusal (nothing happened).
    A caller that reads the attempt back itself (a bulk run) passes
    `confirm_in_background=False`: the task then runs only at the deadline.
    """
    spec = _action_spec_permitted(user=user, action=action)
    note_uuid = note_id_parse(value=note_id)
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
    _action_send(attempt, user=user, connection=connection, confirm_now=confirm_in_background)
    # Accepted (or unknown) is not applied: the confirmation reads Canvas
    # again, in the background, and makes the outcome final.
    return attempt


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
    try:
        attempt = note_action_perform(
            user=user, note_id=note_id, action=action, request_id=request_id, client_ip=client_ip
        )
    except TokenDecryptionFailed:
        raise
    except CanvasError as exc:
        note = None
        if isinstance(exc, REREAD_AFTER):
            try:
                note = note_get_for_user(user=user, note_id=note_id)
            except CanvasError:
                note = None
        return refusal_reply(exc, action=action, note=note)
    return requested_reply(attempt)
