"""The audit log in the admin: read and export only."""

from __future__ import annotations

import csv
from datetime import datetime, tzinfo

from django.contrib import admin
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from notes.models import NoteActionAttempt

CSV_FIELDS = [
    "id",
    "started_at",
    "finished_at",
    "duration_ms",
    "username",
    "canvas_staff_id",
    "note_id",
    "action",
    "outcome",
    "upstream_status",
    "error_code",
    "expected_state",
    "accepted_at",
    "applied_at",
    "resolved_at",
    "late_found_at",
    "request_id",
    "client_ip",
]


class _Echo:
    """A file-like object whose write() hands the line back (for streaming CSV)."""

    def write(self, value: str) -> str:
        return value


#: The columns holding times: written in the current zone, which their header names.
TIME_FIELDS = frozenset(
    {"started_at", "finished_at", "accepted_at", "applied_at", "resolved_at", "late_found_at"}
)


def _cell(value, zone: tzinfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value, zone)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    # A spreadsheet runs a cell that starts with these as a formula (OWASP's
    # CSV injection list, a leading line feed included).
    if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        text = "'" + text
    return text


def attempts_csv_rows(queryset, *, zone: tzinfo):
    """Yield the CSV lines (header first) for these attempts, times in `zone`.

    The zone is passed in, not read while streaming: the lines are made after
    the request's middleware (which activates the user's zone) has returned.
    """
    writer = csv.writer(_Echo())
    name = getattr(zone, "key", str(zone))
    yield writer.writerow([f"{f} ({name})" if f in TIME_FIELDS else f for f in CSV_FIELDS])
    for attempt in queryset.order_by("started_at", "id").iterator(chunk_size=2000):
        yield writer.writerow([_cell(getattr(attempt, field), zone) for field in CSV_FIELDS])


@admin.register(NoteActionAttempt)
class NoteActionAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "username",
        "action",
        "outcome",
        "resolved_at",
        "upstream_status",
        "error_code",
        "note_id",
        "duration_ms",
    ]
    list_filter = ["action", "outcome", "started_at", "user"]
    search_fields = ["username", "=note_id", "=request_id", "=canvas_staff_id"]
    date_hierarchy = "started_at"
    list_select_related = False
    show_full_result_count = False
    actions = ["export_csv"]
    readonly_fields = [*CSV_FIELDS, "user", "note_state", "note_actions"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Export selected attempts as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset) -> StreamingHttpResponse:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(
            attempts_csv_rows(queryset, zone=timezone.get_current_timezone()),
            content_type="text/csv",
        )
        response["Content-Disposition"] = f'attachment; filename="note-actions-{stamp}.csv"'
        return response
