"""Settings of the notes app, read lazily so `override_settings` works.

Everything about reaching Canvas is in `integrations.canvas.settings`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from integrations.canvas.settings import canvas_settings


def pending_window() -> timedelta:
    """Return how long a pending attempt blocks an identical one (double submit guard).

    Longer than one call can take (connect + read timeout, twice for the
    401 retry, plus a token refresh), so a live attempt always blocks.
    """
    seconds = getattr(settings, "NOTES_PENDING_WINDOW_SECONDS", None)
    if seconds is None:
        connect, read = canvas_settings.timeouts
        seconds = 3 * (connect + read) + 10
    return timedelta(seconds=float(seconds))


def page_size() -> int:
    """Return how many notes one worklist page shows."""
    return int(getattr(settings, "NOTES_PAGE_SIZE", 25))


def confirm_window() -> timedelta:
    """Return how long after Canvas accepts an action its history is read for the change.

    Past it, an action Canvas does not show is recorded as not applied.
    """
    return timedelta(seconds=float(getattr(settings, "NOTES_CONFIRM_SECONDS", 30)))


def confirm_concurrency() -> int:
    """Return how many users' confirmation reads one task run makes at once (at least 1)."""
    return max(1, int(getattr(settings, "NOTES_CONFIRM_CONCURRENCY", 8)))


def bulk_concurrency() -> int:
    """Return how many Canvas calls one bulk run makes at once."""
    return int(getattr(settings, "NOTES_BULK_CONCURRENCY", 4))


def overdue_days() -> int:
    """Return after how many days an unsigned note is overdue."""
    return int(getattr(settings, "NOTES_OVERDUE_DAYS", 3))


def bulk_start_within() -> timedelta:
    """Return how long a bulk run may wait for a worker before it expires unstarted."""
    return timedelta(seconds=float(getattr(settings, "NOTES_BULK_START_WITHIN", 600)))


def bulk_plans_per_minute() -> int:
    """Return how many bulk plans (each a read of the whole queue) a user may ask for a minute."""
    return int(getattr(settings, "NOTES_BULK_PLANS_PER_MINUTE", 10))


def bulk_skip_staged() -> bool:
    """Return whether bulk runs leave out notes with commands not committed (default true)."""
    return bool(getattr(settings, "NOTES_BULK_SKIP_STAGED", True))
