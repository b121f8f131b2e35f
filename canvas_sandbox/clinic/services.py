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
from canvas_sandbox.clinic.exceptions import ActionRefused, ControlError
from canvas_sandbox.clinic.models import (
    FaultConfig,
    Note,
    NoteStateEvent,
    NoteType,
    Patient,
    PendingEffect,
    RequestCounter,
    Staff,
)
from canvas_sandbox.clinic.selectors import events_by_note, fault_config_get, note_facts, note_get

logger = logging.getLogger(__name__)

PUBLIC_CLIENT_ID = "canvas-note-portal-dev"
CONFIDENTIAL_CLIENT_ID = "canvas-note-portal-confidential"
CONFIDENTIAL_CLIENT_SECRET = "canvas-demo-secret"

#: The note kinds the control API can create, and the seeded note type of each.
#: is_sig_required is True (the SDK's NoteType default) unless the kind says otherwise.
NOTE_KINDS: dict[str, dict[str, Any]] = {
    "encounter": {"name": "Office visit", "category": "encounter", "is_sig_required": True},
    "encounter_nosig": {"name": "Phone call", "category": "encounter", "is_sig_required": False},
    "appointment": {
        "name": "Office visit appointment",
        "category": transitions.APPOINTMENT,
        "is_sig_required": True,
    },
    "inpatient": {
        "name": "Inpatient progress note",
        "category": transitions.INPATIENT,
        "is_sig_required": True,
    },
    "data": {"name": "Lab data import", "category": transitions.DATA, "is_sig_required": True},
    "letter": {"name": "Letter", "category": transitions.LETTER, "is_sig_required": True},
    "message": {
        "name": "Patient message",
        "category": transitions.MESSAGE,
        "is_sig_required": True,
    },
}


def _now() -> dt.datetime:
    """Return the current time (a seam for tests)."""
    return timezone.now()


def note_action_accept(
    *, note_id: str, action: str, actor: Staff, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Accept `action` on a note as the plugin would and return the contract's 202 body.

    Nothing changes yet: the action's effects are stored as pending and land
    when due (effect_delay_ms after now), applied then with the documented
    rules (effects_apply_due), as Canvas applies a plugin's effects after
    the answer. The note row is locked while it is checked, so the check
    sees every effect that was due. Raise ActionRefused for the contract's
    note-level refusals (403 not_note_provider, 422, 409), in its order.
    """
    with transaction.atomic():
        note = note_get(note_id=note_id)
        note = (
            # of=self: PostgreSQL cannot lock the nullable side of an outer join.
            Note.objects.select_for_update(of=("self",))
            .select_related("note_type", "patient", "provider", "supervising_provider")
            .get(pk=note.pk)
        )
        accepted_at = now or _now()
        # What fell due since the request began lands first: the check sees it.
        _note_apply_due(note=note, now=accepted_at)
        events = events_by_note(note_ids=[note.pk]).get(str(note.pk), [])
        facts = note_facts(note=note, events=events)
        refused = transitions.refusal(
            action, facts, caller_id=actor.key, signing_policy=conf.signing_policy()
        )
        if refused is not None:
            logger.info("Refused %s on note %s: %s", action, note.pk, refused.code)
            raise ActionRefused(refused)
        from_state = note.state
        effects = transitions.effects_for(action, from_state)
        expected = transitions.expected_states(
            action,
            from_state,
            category=facts.category,
            is_sig_required=facts.is_sig_required,
        )[-1]
        config = fault_config_get()
        # Canvas applies effects after the answer: never at the very instant
        # of acceptance, so history `at` is always after `accepted_at`.
        due_at = accepted_at + max(
            dt.timedelta(milliseconds=config.effect_delay_ms), dt.timedelta(microseconds=1)
        )
        fate = "reject" if _draw(config=config, rate=config.effect_reject_rate) else ""
        PendingEffect.objects.bulk_create(
            PendingEffect(
                note=note,
                effect=effect,
                action=action,
                actor=actor,
                accepted_at=accepted_at,
                due_at=due_at,
                fate=fate,
            )
            for effect in effects
        )
    return {
        "note_id": str(note.pk),
        "action": action,
        "effects": effects,
        "from_state": from_state,
        "expected_state": {"code": expected, "label": transitions.STATE_LABELS[expected]},
        "accepted_at": accepted_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
    }


def effects_apply_due(*, now: dt.datetime | None = None) -> int:
    """Apply every pending effect that is due, note by note; return how many landed.

    Called lazily at the start of every plugin and control request, so any
    process (gunicorn workers on PostgreSQL included) applies what is due
    before it reads or checks. Per note, the note row is locked first
    (SELECT ... FOR UPDATE, notes in id order) and the due effects are read
    again under the lock, so each effect is applied exactly once, in order,
    and a reader that waited for the lock sees the result. Each effect goes
    through transitions.effect_result against the note's state at that
    moment: an invalid transition, the note's veto (lock and sign) or the
    reject fault leaves the note alone, silently, as Canvas does.
    """
    now = now or _now()
    due = PendingEffect.objects.filter(status=PendingEffect.PENDING, due_at__lte=now)
    note_ids = sorted(set(due.values_list("note_id", flat=True)), key=str)
    landed = 0
    for note_id in note_ids:
        with transaction.atomic():
            note = (
                Note.objects.select_for_update()
                .select_related("note_type")
                .filter(pk=note_id)
                .first()
            )
            if note is not None:
                landed += _note_apply_due(note=note, now=now)
    return landed


def _note_apply_due(*, note: Note, now: dt.datetime) -> int:
    """Apply the due effects of one note, whose row the caller holds locked."""
    landed = 0
    due = PendingEffect.objects.filter(
        note_id=note.pk, status=PendingEffect.PENDING, due_at__lte=now
    ).order_by("due_at", "id")
    for effect in due:
        effect.status = _effect_apply(note=note, effect=effect)
        effect.applied_at = now
        effect.save(update_fields=["status", "applied_at"])
        landed += effect.status == PendingEffect.APPLIED
    return landed


def _effect_apply(*, note: Note, effect: PendingEffect) -> str:
    """Apply one due effect to a locked note; return the effect's new status."""
    if effect.fate == "reject":
        return PendingEffect.REJECTED
    if note.veto and effect.effect in (transitions.LOCK_NOTE, transitions.SIGN_NOTE):
        return PendingEffect.VETOED
    try:
        state = transitions.effect_result(
            effect.effect,
            note.state,
            category=note.note_type.category,
            is_sig_required=note.note_type.is_sig_required,
        )
    except transitions.InvalidTransition:
        logger.info("Canvas refused %s on note %s in %s", effect.effect, note.pk, note.state)
        return PendingEffect.REFUSED
    note.state = state
    note.save(update_fields=["state", "modified"])
    NoteStateEvent.objects.create(
        note=note,
        state=state,
        action=effect.action,
        actor_id=effect.actor_id,
        created=effect.due_at,
    )
    return PendingEffect.APPLIED


def note_veto_set(*, note_id: str, veto: bool) -> Note:
    """Turn a note's veto on or off (lock and sign effects refused when applied)."""
    note = note_get(note_id=note_id)
    note.veto = veto
    note.save(update_fields=["veto", "modified"])
    return note


def note_type_for_kind(*, kind: str) -> NoteType:
    """Return (creating or updating if needed) the note type of a control-API note kind."""
    if kind not in NOTE_KINDS:
        raise ControlError(f"kind must be one of {', '.join(NOTE_KINDS)}.")
    spec = NOTE_KINDS[kind]
    note_type, _ = NoteType.objects.update_or_create(
        name=spec["name"],
        defaults={"category": spec["category"], "is_sig_required": spec["is_sig_required"]},
    )
    return note_type


def note_type_for(*, category: str, is_sig_required: bool) -> NoteType:
    """Return (creating if needed) a note type of any category and signature rule."""
    if category not in transitions.CATEGORIES:
        raise ControlError(f"category must be one of {', '.join(transitions.CATEGORIES)}.")
    name = f"{category.title()} note" + ("" if is_sig_required else " (no signature)")
    note_type, _ = NoteType.objects.update_or_create(
        name=name, defaults={"category": category, "is_sig_required": is_sig_required}
    )
    return note_type


def note_create(
    *,
    state: str,
    kind: str | None = None,
    category: str | None = None,
    is_sig_required: bool = True,
    provider: str = "provider",
    supervising_provider: str | None = None,
    patient: str | None = None,
    date: str | None = None,
    title: str | None = None,
    veto: bool = False,
    now: dt.datetime | None = None,
) -> Note:
    """Create a note in `state` of `kind` for the staff user `provider` (control API).

    Instead of `kind`, `category` and `is_sig_required` pick a note type of
    any category.

    `supervising_provider` is a username, "" for none; by default the
    provider's supervisor. `patient` picks a patient by full name (created
    if unknown); by default a fixed "Test Patient". `date` is an ISO date or
    datetime of service (default now).
    """
    if state not in transitions.STATE_LABELS:
        raise ControlError(f"state must be one of {', '.join(transitions.STATES)}.")
    if kind is None and category is not None:
        note_type = note_type_for(category=category, is_sig_required=is_sig_required)
    else:
        note_type = note_type_for_kind(kind=kind or "")
    staff = Staff.objects.filter(user__username=provider).first()
    if staff is None:
        raise ControlError("provider must be the username of a sandbox staff member.")
    if supervising_provider is None:
        supervisor = staff.supervisor
    elif supervising_provider:
        supervisor = Staff.objects.filter(user__username=supervising_provider).first()
        if supervisor is None:
            raise ControlError(
                "supervising_provider must be the username of a sandbox staff member."
            )
    else:
        supervisor = None
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
            supervising_provider=supervisor,
            title=title or note_type.name,
            datetime_of_service=when,
            state=state,
            veto=veto,
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
    "effect_reject_rate": (float, 0.0),
    "effect_delay_ms": (int, None),  # missing: the environment's SANDBOX_EFFECT_DELAY_MS
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
        if default is None:
            default = conf.fault_defaults()[name]
        value = values.get(name, default)
        if kind is bool:
            if not isinstance(value, bool):
                raise ControlError(f"{name} must be true or false.")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ControlError(f"{name} must be a number.")
        fields[name] = kind(value)
    for rate in ("error_rate", "effect_reject_rate"):
        if not 0 <= fields[rate] <= 1:
            raise ControlError(f"{rate} must be between 0 and 1.")
    if not 0 <= fields["effect_delay_ms"] <= 600_000:
        raise ControlError("effect_delay_ms must be between 0 and 600000.")
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
    """Return whether this request gets an injected error."""
    return _draw(config=config, rate=config.error_rate)


def _draw(*, config: FaultConfig, rate: float) -> bool:
    """Return True for a `rate` share of decisions (errors, rejected effects).

    Each decision takes the next number of the shared request counter (an
    atomic update, so processes never reuse one) and draws from a generator
    seeded with the fault seed and that number: a run repeats exactly.
    """
    if rate <= 0:
        return False
    if rate >= 1:
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
    return random.Random(f"{config.seed}:{row.counter}").random() < rate  # noqa: S311


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
