"""The audit log of note actions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from notes.actions import PERMISSIONS, Action


class AppendOnlyQuerySet(models.QuerySet):
    """A queryset that refuses to delete: the audit log only grows."""

    def delete(self):
        raise TypeError("The note action audit log is append-only; rows are never deleted.")

    delete.queryset_only = True


class NoteActionAttempt(models.Model):
    """One attempt by one portal user to perform one action on one Canvas note.

    Written as *pending* before Canvas is called and completed once, after
    the call: accepted (Canvas answered 202: it will apply the action, which
    is not yet proof that it did), failed, or unknown when no answer came back.
    Holds no note content and no token.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted by Canvas"
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

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "note action attempt"
        ordering = ["-started_at", "-id"]
        # Only "view" by default: nobody (superusers included) can be given
        # add/change/delete on the audit log.
        default_permissions = ("view",)
        permissions = PERMISSIONS
        indexes = [models.Index(fields=["user", "-started_at"], name="notes_attempt_user_time")]
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

    def delete(self, *args, **kwargs):
        raise TypeError("The note action audit log is append-only; rows are never deleted.")
