"""Fault injection and request counts, shared by every sandbox process through the database."""

from __future__ import annotations

import random
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from canvas_sandbox.clinic import conf
from canvas_sandbox.clinic.exceptions import ControlError
from canvas_sandbox.clinic.models import FaultConfig, RequestCounter

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

#: Numeric settings and their inclusive bounds.
_BOUNDS = {
    "error_rate": (0, 1, "error_rate must be between 0 and 1."),
    "effect_reject_rate": (0, 1, "effect_reject_rate must be between 0 and 1."),
    "effect_delay_ms": (0, 600_000, "effect_delay_ms must be between 0 and 600000."),
    "error_status": (400, 599, "error_status must be an HTTP error status (400-599)."),
    "latency_ms": (0, 120_000, "latency_ms must be between 0 and 120000."),
}


def fault_config_get() -> FaultConfig:
    """Return the shared fault settings (the environment's defaults until changed)."""
    config = FaultConfig.objects.filter(pk=1).first()
    if config is None:
        config = FaultConfig(pk=1, **conf.fault_defaults())
    return config


def fault_config_data(*, config: FaultConfig) -> dict[str, Any]:
    """Return the fault settings as the control API shows them."""
    return {
        "latency_ms": config.latency_ms,
        "error_rate": config.error_rate,
        "error_status": config.error_status,
        "token_endpoint_down": config.token_endpoint_down,
        "html_instead_of_json": config.html_instead_of_json,
        "seed": config.seed,
        "effect_reject_rate": config.effect_reject_rate,
        "effect_delay_ms": config.effect_delay_ms,
        "counter": config.counter,
    }


def _fault_values(values: dict[str, Any]) -> dict[str, Any]:
    """Return every fault setting from `values` (missing: defaults), or raise ControlError."""
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
    for name, (low, high, message) in _BOUNDS.items():
        if not low <= fields[name] <= high:
            raise ControlError(message)
    return fields


def faults_set(*, values: dict[str, Any]) -> FaultConfig:
    """Replace the shared fault settings; missing keys take 0/false/503/1.

    The request counter restarts, so the same seed repeats the same faults.
    """
    fields = _fault_values(values)
    FaultConfig.objects.update_or_create(pk=1, defaults={**fields, "counter": 0})
    return FaultConfig.objects.get(pk=1)


def faults_reset() -> FaultConfig:
    """Return the fault settings to the environment's defaults (SANDBOX_FAULT_*)."""
    defaults = conf.fault_defaults()
    FaultConfig.objects.update_or_create(pk=1, defaults={**defaults, "counter": 0})
    return FaultConfig.objects.get(pk=1)


def fault_error_decide(*, config: FaultConfig) -> bool:
    """Return whether this request gets an injected error."""
    return fault_draw(config=config, rate=config.error_rate)


def fault_draw(*, config: FaultConfig, rate: float) -> bool:
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


def stats_get() -> dict[str, Any]:
    """Return the request counts every sandbox process has recorded."""
    counts = dict(RequestCounter.objects.values_list("name", "value"))
    token_requests = {"authorization_code": 0, "refresh_token": 0}
    for name, value in counts.items():
        if name.startswith("token:"):
            token_requests[name.removeprefix("token:")] = value
    return {
        "token_requests": token_requests,
        "revocations": counts.get("revocations", 0),
        "plugin_requests": counts.get("plugin_requests", 0),
    }


def stats_reset() -> None:
    """Set every request counter back to zero."""
    RequestCounter.objects.all().delete()
