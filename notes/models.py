"""The audit log of note actions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from notes.actions import ACTIONS, PERMISSIONS, Action, ActionSpec

#: Outcomes that are settled only once the note's history has been read.
UNRESOLVED_OUTCOMES = ("accepted", "unknown")


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset that refuses to delete: the audit log only grows."""

    def unresolved(self):
        """Return the attempts Canvas may have acted on that nobody has confirmed yet."""
        return self.filter(outcome__in=UNRESOLVED_OUTCOMES, resolved_at__isnull=True)

    def delete(self):
        raise TypeError("The note action audit log is append-only; rows are never deleted.")

    delete.queryset_only = True


class NoteActionAttempt(models.Model):
    """One attempt by one portal user to perform one action on one Canvas note.

    Written as *pending* before Canvas is called and completed once, after
    the call: accepted (Canvas answered 202: it will apply the action, which
    is not yet proof that it did), failed (refused before anything was
    sent or by Canvas), or unknown when no answer came back. An accepted or
    unknown attempt is then *confirmed* by reading the note's history in
    the background (notes.confirmation): confirmed when Canvas shows the
    change, not_applied when the deadline passed and it does not, or left
    unknown when Canvas could not be read. `resolved_at` marks that end.
    Holds no note content and no token.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted by Canvas"
        CONFIRMED = "confirmed", "Confirmed in Canvas"
        NOT_APPLIED = "not_applied", "Not applied by Canvas"
        #: Recorded not applied, then Canvas showed the change after all.
        APPLIED_LATE = "applied_late", "Applied late by Canvas"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown"

    Action = Action

    # SET_NULL and a copy of the username: deleting a user keeps their trail.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="note_action_attempts",
    )
    username = models.CharField(max_length=150)
    canvas_staff_id = models.CharField(max_length=64, blank=True)
    note_id = models.UUIDField(db_index=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    upstream_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # What Canvas said it accepted (the 202), and what reading it again showed.
    expected_state = models.CharField(max_length=8, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True, help_text="Canvas's clock.")
    applied_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the note's history shows the change (Canvas's clock).",
    )
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="When the portal settled the outcome by reading Canvas."
    )
    late_found_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the portal found a change recorded not applied applied after all.",
    )
    #: When the confirmation reads Canvas for it next (the worker's schedule).
    next_check_at = models.DateTimeField(null=True, blank=True)
    # The note's state and this user's allowed actions when it was resolved:
    # codes only, so the page can redraw the row without calling Canvas.
    note_state = models.CharField(max_length=8, blank=True)
    note_actions = models.CharField(max_length=128, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "note action attempt"
        ordering = ["-started_at", "-id"]
        # Only "view" by default: nobody (superusers included) can be given
        # add/change/delete on the audit log.
        default_permissions = ("view",)
        permissions = PERMISSIONS
        indexes = [
            models.Index(fields=["user", "-started_at"], name="notes_attempt_user_time"),
            # The attempts still being confirmed (the worker's and /healthz's).
            models.Index(
                fields=["finished_at"],
                condition=Q(outcome__in=["accepted", "unknown"], resolved_at__isnull=True),
                name="notes_attempt_unresolved",
            ),
        ]
        constraints = [
            # The double-submit guard: one attempt in flight per user, note
            # and action, enforced by the database (a partial unique index on
            # both PostgreSQL and SQLite), so two racing requests cannot both
            # reach Canvas.
            models.UniqueConstraint(
                fields=["user", "note_id", "action"],
                condition=Q(outcome="pending"),
                name="notes_one_pending_attempt",
            ),
            models.CheckConstraint(
                condition=Q(outcome="pending", finished_at__isnull=True)
                | (~Q(outcome="pending") & Q(finished_at__isnull=False)),
                name="notes_attempt_finished_iff_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.note_id} ({self.outcome})"

    @property
    def in_flight(self) -> bool:
        """Return whether Canvas may still be applying it (sent, not yet resolved)."""
        return self.outcome == self.Outcome.PENDING or (
            self.outcome in UNRESOLVED_OUTCOMES and self.resolved_at is None
        )

    @property
    def spec(self) -> ActionSpec:
        return ACTIONS[self.action]

    @property
    def note_action_list(self) -> list[str]:
        return [name for name in self.note_actions.split(",") if name]

    def delete(self, *args, **kwargs):
        raise TypeError("The note action audit log is append-only; rows are never deleted.")


class BulkRun(models.Model):
    """One person's request to act on many notes at once (close my day), run on the worker.

    Its items go through the same service as a single action (audit row,
    token, confirmation); the run only orders them, limits how many go to
    Canvas at once, and can be cancelled before an item starts.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"
        #: No worker started it within NOTES_BULK_START_WITHIN: nothing was sent.
        EXPIRED = "expired", "Expired"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="bulk_runs"
    )
    username = models.CharField(max_length=150)
    #: What the person chose, e.g. "Sign 12 notes" (no note content).
    label = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)
    #: Who asked: the request id and client address of the request that started it.
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    #: Last sign of life from the worker running it (a dead worker's run is resumed).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.username}: {self.label} ({self.status})"


class BulkItem(models.Model):
    """One note of a bulk run: its action, and the attempt that carried it out."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        REFUSED = "refused", "Refused"
        SKIPPED = "skipped", "Not started"

    run = models.ForeignKey(BulkRun, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    note_id = models.UUIDField()
    action = models.CharField(max_length=16, choices=Action.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    #: Set when the item is handed to the service; the attempt's outcome is the item's.
    attempt = models.OneToOneField(
        NoteActionAttempt, on_delete=models.PROTECT, null=True, blank=True, related_name="bulk_item"
    )
    sending_at = models.DateTimeField(null=True, blank=True)
    #: Why it was refused or not started, in words a person understands.
    message = models.CharField(max_length=300, blank=True)
    # To tell the items apart on the progress panel without note content:
    # the note type (Canvas configuration), its date of service, and what
    # the action is called for it (Lock & sign, Sign, Co-sign).
    note_type = models.CharField(max_length=100, blank=True)
    date_of_service = models.DateTimeField(null=True, blank=True)
    label = models.CharField(max_length=32)

    class Meta:
        ordering = ["run", "position"]
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["run", "note_id"], name="notes_bulk_one_item_per_note")
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.note_id} ({self.status})"
