"""Writes: note actions, control-API changes, minted tokens, faults and counters."""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from note_sign_api import transitions
from oauth2_provider.models import (
    AbstractApplication,
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)
from oauthlib.common import generate_token

from canvas_sandbox.clinic import conf
from canvas_sandbox.clinic.exceptions import ActionNotAllowed, ActionRejected, ControlError
from canvas_sandbox.clinic.models import (
    FaultConfig,
    Note,
    NoteStateEvent,
    NoteType,
    Patient,
    RequestCounter,
    Staff,
)
from canvas_sandbox.clinic.selectors import note_get, note_summary

logger = logging.getLogger(__name__)

PUBLIC_CLIENT_ID = "canvas-note-portal-dev"
CONFIDENTIAL_CLIENT_ID = "canvas-note-portal-confidential"
CONFIDENTIAL_CLIENT_SECRET = "canvas-demo-secret"

#: The note kinds the control API can create, and the seeded note type of each.
NOTE_KINDS: dict[str, dict[str, Any]] = {
    "encounter": {"name": "Office visit", "category": "encounter", "is_sig_required": True},
    "encounter_nosig": {"name": "Phone call", "category": "encounter", "is_sig_required": False},
    "appointment": {
        "name": "Office visit appointment",
        "category": transitions.APPOINTMENT,
        "is_sig_required": False,
    },
    "letter": {"name": "Letter", "category": transitions.LETTER, "is_sig_required": False},
}


def _now() -> dt.datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def note_action_perform(
    *, note_id: str, action: str, actor: Staff, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Apply `action` to a note as Canvas would and return the contract's 202 body.

    The body also carries `note`, the note's summary after the action (an
    extension of the contract: it saves the caller a second request).

    The note row is locked while its state is checked and changed, so two
    concurrent actions cannot both start from the same state. Raise
    ActionNotAllowed (409) when the state forbids it, ActionRejected (422)
    when the note's type does.
    """
    with transaction.atomic():
        note = note_get(note_id=note_id)
        note = (
            Note.objects.select_for_update()
            .select_related("note_type", "patient", "provider")
            .get(pk=note.pk)
        )
        category = note.note_type.category
        from_state = note.state
        if not transitions.state_allows(action, from_state, category=category):
            logger.warning("Refused %s on note %s in state %s", action, note.pk, from_state)
            raise ActionNotAllowed(
                f"{transitions.ACTION_LABELS[action]} is not allowed on a note that is "
                f"{transitions.STATE_LABELS[from_state].lower()}.",
                state=from_state,
            )
        reason = transitions.requirement_error(
            action, category=category, is_sig_required=note.note_type.is_sig_required
        )
        if reason is not None:
            logger.warning("Rejected %s on note %s: %s", action, note.pk, reason)
            raise ActionRejected(reason)
        effects = transitions.effects_for(action, from_state)
        for effect in effects:
            NoteStateEvent.objects.create(
                note=note, state=transitions.EFFECT_RESULT[effect], action=action, actor=actor
            )
        note.state = transitions.state_after(action, from_state)
        note.save(update_fields=["state", "modified"])
    return {
        "note_id": str(note.pk),
        "action": action,
        "effects": effects,
        "from_state": from_state,
        "note": note_summary(note=note),
    }


def note_type_for_kind(*, kind: str) -> NoteType:
    """Return (creating if needed) the note type of a control-API note kind."""
    if kind not in NOTE_KINDS:
        raise ControlError(f"kind must be one of {', '.join(NOTE_KINDS)}.")
    spec = NOTE_KINDS[kind]
    note_type, _ = NoteType.objects.get_or_create(
        name=spec["name"],
        defaults={"category": spec["category"], "is_sig_required": spec["is_sig_required"]},
    )
    return note_type


def note_create(
    *,
    state: str,
    kind: str,
    provider: str = "provider",
    patient: str | None = None,
    date: str | None = None,
    title: str | None = None,
    now: dt.datetime | None = None,
) -> Note:
    """Create a note in `state` of `kind` for the staff user `provider` (control API).

    `patient` picks a patient by full name (created if unknown); by default a
    fixed "Test Patient". `date` is an ISO date or datetime of service
    (default now).
    """
    if state not in transitions.STATE_LABELS:
        raise ControlError(f"state must be one of {', '.join(transitions.STATES)}.")
    note_type = note_type_for_kind(kind=kind)
    staff = Staff.objects.filter(user__username=provider).first()
    if staff is None:
        raise ControlError("provider must be the username of a sandbox staff member.")
    when = now or _now()
    if date:
        try:
            parsed = dt.datetime.fromisoformat(date)
        except ValueError as exc:
            raise ControlError("date must be an ISO date or datetime.") from exc
        when = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        if len(date) == 10:
            when = when.replace(hour=9)
    first, _, last = (patient or "Test Patient").strip().partition(" ")
    with transaction.atomic():
        person = Patient.objects.filter(first_name=first, last_name=last).first()
        if person is None:
            person = Patient.objects.create(key=uuid.uuid4().hex, first_name=first, last_name=last)
        note = Note.objects.create(
            note_type=note_type,
            patient=person,
            provider=staff,
            title=title or note_type.name,
            datetime_of_service=when,
            state=state,
        )
        NoteStateEvent.objects.create(note=note, state=state, action="created")
    return note


def _public_application() -> AbstractApplication:
    return get_application_model().objects.get(client_id=PUBLIC_CLIENT_ID)


def tokens_issue(
    *, username: str, expires_in: int | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Mint a real DOT access/refresh token pair for `username` on the public client.

    `expires_in` overrides the configured lifetime (zero or negative gives an
    already expired access token, for tests).
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ControlError("username must name a sandbox user.")
    lifetime = conf.access_token_lifetime() if expires_in is None else int(expires_in)
    application = _public_application()
    access_raw, refresh_raw = generate_token(), generate_token()
    with transaction.atomic():
        access = get_access_token_model()(
            user=user,
            application=application,
            expires=(now or _now()) + dt.timedelta(seconds=lifetime),
            scope="offline_access",
        )
        set_token_value(access, access_raw)
        access.save()
        refresh = get_refresh_token_model()(
            user=user, application=application, access_token=access, token_family=uuid.uuid4()
        )
        set_token_value(refresh, refresh_raw)
        refresh.save()
    return {
        "access_token": access_raw,
        "refresh_token": refresh_raw,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": "offline_access",
    }


def tokens_revoke_for_user(*, username: str) -> int:
    """Revoke every access token, refresh token and code of `username`; return the count."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ControlError("username must name a sandbox user.")
    return tokens_revoke(user=user)


def tokens_revoke(*, user: AbstractBaseUser, application: AbstractApplication | None = None) -> int:
    """Revoke `user`'s tokens (for one application, or all); return how many went."""
    refresh_tokens = get_refresh_token_model().objects.filter(user=user, revoked__isnull=True)
    access_tokens = get_access_token_model().objects.filter(user=user)
    grants = get_grant_model().objects.filter(user=user)
    if application is not None:
        refresh_tokens = refresh_tokens.filter(application=application)
        access_tokens = access_tokens.filter(application=application)
        grants = grants.filter(application=application)
    count = 0
    with transaction.atomic():
        for refresh in refresh_tokens:
            refresh.revoke()
            count += 1
        count += access_tokens.count()
        access_tokens.delete()
        grants.delete()
    return count


FAULT_FIELDS = {
    "latency_ms": (int, 0),
    "error_rate": (float, 0.0),
    "error_status": (int, 503),
    "token_endpoint_down": (bool, False),
    "html_instead_of_json": (bool, False),
    "seed": (int, 1),
}


def faults_set(*, values: dict[str, Any]) -> FaultConfig:
    """Replace the shared fault settings; missing keys take 0/false/503/1.

    The request counter restarts, so the same seed repeats the same faults.
    """
    unknown = set(values) - set(FAULT_FIELDS)
    if unknown:
        raise ControlError(f"Unknown fault settings: {', '.join(sorted(unknown))}.")
    fields: dict[str, Any] = {}
    for name, (kind, default) in FAULT_FIELDS.items():
        value = values.get(name, default)
        if kind is bool:
            if not isinstance(value, bool):
                raise ControlError(f"{name} must be true or false.")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ControlError(f"{name} must be a number.")
        fields[name] = kind(value)
    if not 0 <= fields["error_rate"] <= 1:
        raise ControlError("error_rate must be between 0 and 1.")
    if not 400 <= fields["error_status"] <= 599:
        raise ControlError("error_status must be an HTTP error status (400-599).")
    if not 0 <= fields["latency_ms"] <= 120_000:
        raise ControlError("latency_ms must be between 0 and 120000.")
    FaultConfig.objects.update_or_create(pk=1, defaults={**fields, "counter": 0})
    return FaultConfig.objects.get(pk=1)


def faults_reset() -> FaultConfig:
    """Return the fault settings to the environment's defaults (SANDBOX_FAULT_*)."""
    defaults = conf.fault_defaults()
    FaultConfig.objects.update_or_create(pk=1, defaults={**defaults, "counter": 0})
    return FaultConfig.objects.get(pk=1)


def fault_error_decide(*, config: FaultConfig) -> bool:
    """Return whether this request gets an injected error.

    Each decision takes the next number of the shared request counter (an
    atomic update, so processes never reuse one) and draws from a generator
    seeded with the fault seed and that number: a run repeats exactly.
    """
    if config.error_rate <= 0:
        return False
    if config.error_rate >= 1:
        return True
    with transaction.atomic():
        if not FaultConfig.objects.filter(pk=1).exists():
            try:
                with transaction.atomic():
                    FaultConfig.objects.create(pk=1, **conf.fault_defaults())
            except IntegrityError:
                pass
        row = FaultConfig.objects.select_for_update().get(pk=1)
        row.counter = F("counter") + 1
        row.save(update_fields=["counter"])
        row.refresh_from_db(fields=["counter"])
    return random.Random(f"{config.seed}:{row.counter}").random() < config.error_rate  # noqa: S311


def counter_increment(*, name: str) -> None:
    """Add one to a named request counter, atomically across processes."""
    if RequestCounter.objects.filter(name=name).update(value=F("value") + 1):
        return
    try:
        with transaction.atomic():
            RequestCounter.objects.create(name=name, value=1)
    except IntegrityError:
        RequestCounter.objects.filter(name=name).update(value=F("value") + 1)


def stats_reset() -> None:
    """Set every request counter back to zero."""
    RequestCounter.objects.all().delete()
