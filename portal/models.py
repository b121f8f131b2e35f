"""Sign-in throttling state and the sign-in security log."""

from django.conf import settings
from django.db import models


class SignInThrottle(models.Model):
    """One row: recent failed sign-ins for one username or from one client address."""

    class Scope(models.TextChoices):
        USERNAME = "username", "Username"
        ADDRESS = "address", "Client address"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    # Usernames are stored lower-cased so "Provider" and "provider" share a counter.
    key = models.CharField(max_length=150)
    failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField()
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "sign-in throttle"
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="portal_signinthrottle_unique")
        ]
        ordering = ["-last_failure_at"]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.key}: {self.failures} failure(s)"


class SignInEvent(models.Model):
    """One row: a failed, refused or locked-out sign-in attempt (append-only)."""

    class Kind(models.TextChoices):
        FAILURE = "failure", "Failed sign-in"
        LOCKOUT = "lockout", "Locked out"
        REFUSED = "refused", "Refused while throttled"

    at = models.DateTimeField("time", db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The username as typed (never the password); it may not exist.
    username = models.CharField(max_length=150, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "sign-in event"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.username!r} at {self.at:%Y-%m-%d %H:%M:%S}"


class UserProfile(models.Model):
    """One user's own preferences (today: the time zone their pages use)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    # Empty: the clinic's (CLINIC_TIME_ZONE). An IANA name otherwise.
    time_zone = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "user profile"

    def __str__(self) -> str:
        return f"Profile of {self.user}"
