"""Where a run stands: database reads only, and each item's result for a person.

Polling (the progress panel) reads these rows, never Canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.db.models import Count, Q, QuerySet

from notes.models import BulkItem, BulkRun, NoteActionAttempt

Outcome = NoteActionAttempt.Outcome


class Result(models.TextChoices):
    """An item's result, by its row and its attempt's; the label is what a person reads."""

    WAITING = "waiting", "Waiting"
    IN_FLIGHT = "in_flight", "In progress"
    CONFIRMED = "confirmed", "Signed"
    NOT_APPLIED = "not_applied", "Not applied"
    REFUSED = "refused", "Refused"
    UNKNOWN = "unknown", "Unknown"
    SKIPPED = "skipped", "Not started"


#: The result of an item whose attempt's outcome is final, by that outcome.
_FINAL_RESULTS = {
    Outcome.CONFIRMED: Result.CONFIRMED,
    # Recorded not applied, then Canvas showed it after all.
    Outcome.APPLIED_LATE: Result.CONFIRMED,
    Outcome.NOT_APPLIED: Result.NOT_APPLIED,
    Outcome.FAILED: Result.REFUSED,
}


def item_result(item: BulkItem) -> Result:
    """Return the item's result, from its attempt once it has one."""
    if item.status == BulkItem.Status.REFUSED:
        return Result.REFUSED
    if item.status == BulkItem.Status.SKIPPED:
        return Result.SKIPPED
    attempt = item.attempt
    if attempt is None:
        return Result.WAITING if item.status == BulkItem.Status.QUEUED else Result.IN_FLIGHT
    if attempt.in_flight:
        return Result.IN_FLIGHT
    return _FINAL_RESULTS.get(attempt.outcome, Result.UNKNOWN)


@dataclass(frozen=True)
class Progress:
    run: BulkRun
    items: list[tuple[BulkItem, str]]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def rows(self) -> list[tuple[BulkItem, str, str]]:
        """Return (item, result, what a person reads) for each item, in run order."""
        return [(item, result, Result(result).label) for item, result in self.items]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(Result, 0)
        for _, result in self.items:
            counts[result] += 1
        return counts

    @property
    def done(self) -> int:
        counts = self.counts
        return self.total - counts[Result.WAITING] - counts[Result.IN_FLIGHT]

    @property
    def finished(self) -> bool:
        return self.run.status in (BulkRun.Status.DONE, BulkRun.Status.CANCELLED) and (
            self.done == self.total
        )

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def run_progress(*, user: AbstractBaseUser, run_id: int) -> Progress:
    """Return a run of the user's and where each item stands (database reads only)."""
    run = BulkRun.objects.get(pk=run_id, user=user)
    items = list(run.items.select_related("attempt").order_by("position"))
    return Progress(run=run, items=[(item, item_result(item)) for item in items])


def run_list_for_user(*, user: AbstractBaseUser) -> QuerySet[BulkRun]:
    """Return the user's runs, newest first."""
    return BulkRun.objects.filter(user=user).order_by("-created_at", "-id")


def runs_with_counts_for_user(*, user: AbstractBaseUser) -> QuerySet[BulkRun]:
    """Return the user's runs, newest first, each with `total` and `done` (items final)."""
    final = (
        Q(items__status__in=[BulkItem.Status.REFUSED, BulkItem.Status.SKIPPED])
        | Q(items__attempt__resolved_at__isnull=False)
        | Q(items__attempt__outcome=Outcome.FAILED)
    )
    return run_list_for_user(user=user).annotate(
        total=Count("items"), done=Count("items", filter=final)
    )
