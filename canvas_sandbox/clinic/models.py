"""What the sandbox knows about a Canvas instance: staff, patients, notes, commands, faults."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from canvas_sandbox.clinic.engine import STATE_LABELS, Category


class Staff(models.Model):
    """One Canvas staff member, signed in through a sandbox Django user."""

    ROLE_PROVIDER = "provider"
    ROLE_NURSE_PRACTITIONER = "nurse_practitioner"
    ROLE_FRONT_DESK = "frontdesk"
    ROLE_NURSE = "nurse"
    ROLE_CHOICES = [
        (ROLE_PROVIDER, "Provider"),
        (ROLE_NURSE_PRACTITIONER, "Nurse practitioner"),
        (ROLE_FRONT_DESK, "Front desk"),
        (ROLE_NURSE, "Nurse"),
    ]

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff"
    )
    key = models.CharField(max_length=32, unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=20, blank=True)
    role = models.CharField(max_length=20, choices=ROLE_CHOICES, default=ROLE_PROVIDER)
    #: The provider who supervises this staff member's notes (co-signs them), if any.
    supervisor = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="supervisees"
    )

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name_plural = "staff"

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """Return the name as the plugin gives it: first and last name, no prefix."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def display_name(self) -> str:
        """Return the name with its prefix, e.g. "Dr. Riley Chen" (the sandbox's pages)."""
        return " ".join(part for part in (self.prefix, self.first_name, self.last_name) if part)


class StaffRole(models.Model):
    """One role of a staff member (canvas_sdk StaffRole): its domain says clinical or not."""

    CLINICAL = "CLI"
    ADMINISTRATIVE = "ADM"
    HYBRID = "HYB"
    DOMAIN_CHOICES = [
        (CLINICAL, "Clinical"),
        (ADMINISTRATIVE, "Administrative"),
        (HYBRID, "Hybrid"),
    ]

    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=128)
    domain = models.CharField(max_length=3, choices=DOMAIN_CHOICES)

    def __str__(self) -> str:
        return f"{self.name} ({self.domain})"


class Patient(models.Model):
    """One patient of the simulated clinic."""

    key = models.CharField(max_length=32, unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    birth_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """Return the patient's full name."""
        return f"{self.first_name} {self.last_name}"


class CareTeamMembership(models.Model):
    """A staff member on a patient's care team (canvas_sdk CareTeamMembership)."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    STATUS_CHOICES = [(ACTIVE, "Active"), (INACTIVE, "Inactive")]

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team")
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="care_teams")
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=ACTIVE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "staff"], name="care_team_member_once")
        ]

    def __str__(self) -> str:
        return f"{self.staff_id} on {self.patient_id}'s care team ({self.status})"


class NoteType(models.Model):
    """One kind of note; `is_sig_required` defaults to True, as the SDK's NoteType does."""

    CATEGORY_CHOICES = [(category.value, category.title()) for category in Category]

    name = models.CharField(max_length=100, unique=True)
    category = models.CharField(max_length=20, choices=CATEGORY_CHOICES)
    is_sig_required = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Note(models.Model):
    """One Canvas note, in one state, for one patient, by one provider."""

    STATE_CHOICES = [(state.value, label) for state, label in STATE_LABELS.items()]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    note_type = models.ForeignKey(NoteType, on_delete=models.PROTECT, related_name="notes")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="notes")
    provider = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="notes")
    supervising_provider = models.ForeignKey(
        Staff, on_delete=models.PROTECT, null=True, blank=True, related_name="supervised_notes"
    )
    title = models.CharField(max_length=200)
    datetime_of_service = models.DateTimeField()
    state = models.CharField(max_length=3, choices=STATE_CHOICES, default="NEW")
    #: A fault: lock and sign effects are refused when Canvas applies them (like
    #: another plugin's NOTE_STATE_CHANGE_EVENT_PRE_CREATE validator).
    veto = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-datetime_of_service", "id"]
        indexes = [models.Index(fields=["-datetime_of_service", "id"])]

    def __str__(self) -> str:
        # A note's title and content stay out of logs; the id is enough.
        return f"Note {self.id}"


class NoteStateEvent(models.Model):
    """One state a note entered (its state history), who moved it and when it landed."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="state_events")
    state = models.CharField(max_length=3, choices=Note.STATE_CHOICES)
    action = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True)
    #: When the state change landed: an applied effect's due time, not when a
    #: request happened to apply it.
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.note_id} -> {self.state}"


class Command(models.Model):
    """One command of a note's content (Canvas's Command): its kind, its fields, its state."""

    STAGED = "staged"
    COMMITTED = "committed"
    ENTERED_IN_ERROR = "entered_in_error"
    STATE_CHOICES = [(s, s.replace("_", " ")) for s in (STAGED, COMMITTED, ENTERED_IN_ERROR)]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="commands")
    schema_key = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=STATE_CHOICES, default=COMMITTED)
    originator = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["note", "created"])]

    def __str__(self) -> str:
        # Content is patient data: the kind and id only.
        return f"{self.schema_key} {self.id}"


class PendingEffect(models.Model):
    """One effect of an accepted action, applied to its note when due (as Canvas does later).

    `fate` is decided at acceptance ("reject": the effect_reject_rate fault,
    it silently never lands); `status` says what happened when it was due.
    """

    PENDING = "pending"
    APPLIED = "applied"
    REFUSED = "refused"  # the documented transition rules refused it at that moment
    VETOED = "vetoed"  # the note's veto (a pre-create validator) refused it
    REJECTED = "rejected"  # the effect_reject_rate fault: silently dropped
    STATUS_CHOICES = [(s, s) for s in (PENDING, APPLIED, REFUSED, VETOED, REJECTED)]

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="pending_effects")
    effect = models.CharField(max_length=20)
    action = models.CharField(max_length=20)
    actor = models.ForeignKey(Staff, on_delete=models.SET_NULL, null=True, blank=True)
    accepted_at = models.DateTimeField()
    due_at = models.DateTimeField()
    fate = models.CharField(max_length=10, blank=True)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=PENDING)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.effect} on {self.note_id} ({self.status})"


class FaultConfig(models.Model):
    """The one row of fault-injection settings, shared by every sandbox process.

    `counter` numbers the requests that needed a random decision, so a seed
    and a request order always give the same faults.
    """

    latency_ms = models.PositiveIntegerField(default=0)
    error_rate = models.FloatField(default=0.0)
    error_status = models.PositiveSmallIntegerField(default=503)
    token_endpoint_down = models.BooleanField(default=False)
    html_instead_of_json = models.BooleanField(default=False)
    seed = models.IntegerField(default=1)
    #: This share of accepted actions never lands (their effects are dropped silently).
    effect_reject_rate = models.FloatField(default=0.0)
    #: How long after the 202 an action's effects land (SANDBOX_EFFECT_DELAY_MS).
    effect_delay_ms = models.PositiveIntegerField(default=0)
    counter = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return "Fault injection settings"


class RequestCounter(models.Model):
    """One named request count (e.g. "token:refresh_token"), updated atomically."""

    name = models.CharField(max_length=64, unique=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class PluginVariable(models.Model):
    """A plugin variable set through the control API (else SANDBOX_PLUGIN_VARIABLES says)."""

    name = models.CharField(max_length=64, unique=True)
    value = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class CanvasSetting(models.Model):
    """An instance setting of the sandbox's Canvas, set through the control API.

    Not a plugin variable: Canvas applies it to effects whatever the plugin said.
    """

    name = models.CharField(max_length=64, unique=True)
    value = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"
