"""The Canvas connection of each local user and its append-only event log."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ConnectionStatus(models.TextChoices):
    """Where a user's Canvas connection stands (`CanvasConnection.Status`)."""

    ACTIVE = "active", "Active"
    RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"
    # A person ended it; whether Canvas revoked the token is a separate event.
    DISCONNECTED = "disconnected", "Disconnected"


class CanvasConnection(models.Model):
    """One local user's connection to one Canvas staff identity, with its tokens encrypted.

    A row with status `disconnected` is kept for history: its tokens are
    gone and its Canvas identity may be connected to another user.
    """

    Status = ConnectionStatus

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="canvas_connection"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    canvas_user_id = models.CharField("Canvas user id", max_length=64)
    canvas_staff_id = models.CharField("Canvas staff id", max_length=64)
    canvas_staff_name = models.CharField("Canvas staff", max_length=200)
    # Fernet ciphertexts bound to this row (see canvas_oauth.crypto); never shown.
    access_token_encrypted = models.TextField(blank=True, editable=False)
    refresh_token_encrypted = models.TextField(blank=True, editable=False)
    access_expires_at = models.DateTimeField("access token expires", null=True, blank=True)
    scope = models.CharField(max_length=200, blank=True)
    connected_at = models.DateTimeField()
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    refresh_count = models.PositiveIntegerField(default=0)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.CharField(max_length=300, blank=True)
    #: The Canvas installation's zone as GET /me said when the user connected ("" unknown).
    installation_time_zone = models.CharField(
        "Canvas installation time zone", max_length=64, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Canvas connection"
        constraints = [
            # One Canvas identity is connected to one local user at most.
            models.UniqueConstraint(
                fields=["canvas_user_id"],
                condition=~Q(status=ConnectionStatus.DISCONNECTED),
                name="canvas_oauth_one_user_per_canvas_user",
                violation_error_message=(
                    "This Canvas user is already connected to another account."
                ),
            ),
            models.UniqueConstraint(
                fields=["canvas_staff_id"],
                condition=~Q(status=ConnectionStatus.DISCONNECTED),
                name="canvas_oauth_one_user_per_canvas_staff",
                violation_error_message=(
                    "This Canvas staff is already connected to another account."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status__in=ConnectionStatus.values),
                name="canvas_oauth_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ↔ {self.canvas_staff_name} ({self.get_status_display()})"

    def __repr__(self) -> str:
        return f"<CanvasConnection user_id={self.user_id} status={self.status}>"

    @property
    def is_active(self) -> bool:
        """Return whether the connection is in use (Canvas accepted it last time)."""
        return self.status == self.Status.ACTIVE

    @property
    def needs_reconnect(self) -> bool:
        """Return whether the user must reconnect to Canvas."""
        return self.status == self.Status.RECONNECT_NEEDED

    @property
    def is_disconnected(self) -> bool:
        """Return whether the row only remains for history (tokens deleted)."""
        return self.status == self.Status.DISCONNECTED


class ConnectionEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Connection events are append-only.")

    def delete(self):
        raise TypeError("Connection events are append-only.")


class ConnectionEvent(models.Model):
    """One thing that happened to a user's Canvas connection (append-only, no secrets)."""

    class Kind(models.TextChoices):
        CONNECT = "connect", "Connected"
        CONNECT_FAILED = "connect_failed", "Connect failed"
        REFRESH = "refresh", "Token refreshed"
        REFRESH_FAILED = "refresh_failed", "Refresh failed"
        DISCONNECT = "disconnect", "Disconnected"
        # Each disconnect is followed by one of these two: what Canvas answered.
        TOKEN_REVOKED_AT_CANVAS = "token_revoked_at_canvas", "Token revoked at Canvas"
        REVOCATION_NOT_CONFIRMED = "revocation_not_confirmed", "Revocation not confirmed"
        RECONNECT_REQUIRED = "reconnect_required", "Reconnect required"
        KEY_ROTATION = "key_rotation", "Tokens re-encrypted"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="canvas_connection_events",
    )
    # Kept when the user is deleted, so the log still says whose connection it was.
    username = models.CharField(max_length=150)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who did it: the user, an administrator, or empty for the system.",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    via_admin = models.BooleanField(default=False)
    canvas_staff_id = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(db_index=True)

    objects = ConnectionEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "Canvas connection event"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username}: {self.get_kind_display()}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Connection events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Connection events are append-only.")
