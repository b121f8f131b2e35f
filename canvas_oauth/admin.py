"""Admin: Canvas connections (read-only + actions) and their append-only event log.

No token and no ciphertext is ever shown: the encrypted fields are excluded
from every form, list and detail page.
"""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from canvas_oauth.models import CanvasConnection, ConnectionEvent
from canvas_oauth.operations import connection_disconnect, connection_require_reconnect
from canvas_oauth.selectors import installation_zone_mismatch
from canvas_oauth.tokens import connection_refresh
from integrations.canvas.exceptions import CanvasError

SECRET_FIELDS = ("access_token_encrypted", "refresh_token_encrypted")


@admin.register(CanvasConnection)
class CanvasConnectionAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "canvas_staff_name",
        "status",
        "access_expires_at",
        "last_refreshed_at",
        "refresh_count",
        "last_error_code",
    )
    list_filter = ("status",)
    search_fields = (
        "user__username",
        "user__first_name",
        "user__last_name",
        "canvas_staff_name",
    )
    list_select_related = ("user",)
    exclude = SECRET_FIELDS
    fields = (
        "user",
        "status",
        "canvas_user_id",
        "canvas_staff_id",
        "canvas_staff_name",
        "scope",
        "connected_at",
        "access_expires_at",
        "last_refreshed_at",
        "refresh_count",
        "last_error_code",
        "last_error_message",
        "installation_time_zone",
        "updated_at",
    )
    readonly_fields = fields
    actions = ("refresh_now", "revoke_and_disconnect", "require_reconnect")
    ordering = ("user__username",)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """The list, with a warning when CLINIC_TIME_ZONE differs from Canvas's zone."""
        mismatch = installation_zone_mismatch()
        if mismatch is not None:
            configured, seen = mismatch
            messages.warning(
                request,
                f"CLINIC_TIME_ZONE is {configured} but the Canvas installation is on {seen} "
                f"(as the latest connection saw it): set CLINIC_TIME_ZONE={seen}, "
                "or unset it to follow Canvas.",
            )
        return super().changelist_view(request, extra_context)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        """Refuse filters on the ciphertexts (`?refresh_token_encrypted__startswith=` would
        leak them a character at a time)."""
        if lookup.split("__")[0] in SECRET_FIELDS:
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # nothing is editable; the actions below change state

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # disconnect instead: it revokes at Canvas and logs an event

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Return whether the admin may run the actions (change permission on the model)."""
        return request.user.has_perm("canvas_oauth.change_canvasconnection")

    @admin.action(description="Refresh now", permissions=["manage"])
    def refresh_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            lambda c: connection_refresh(
                user=c.user, force=True, actor=request.user, via_admin=True
            ),
            "refreshed",
        )

    @admin.action(description="Revoke at Canvas and disconnect", permissions=["manage"])
    def revoke_and_disconnect(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            lambda c: connection_disconnect(user=c.user, actor=request.user, via_admin=True),
            "disconnected",
        )

    @admin.action(description="Require reconnect", permissions=["manage"])
    def require_reconnect(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(
            request,
            queryset,
            lambda c: connection_require_reconnect(user=c.user, actor=request.user, via_admin=True),
            "marked for reconnect",
        )

    def _each(self, request, queryset, operation, verb: str) -> None:
        done, failed = 0, []
        for connection in queryset.select_related("user"):
            try:
                operation(connection)
            except CanvasError as exc:
                failed.append(f"{connection.user}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} connection(s) {verb}.", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)


@admin.register(ConnectionEvent)
class ConnectionEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "username", "kind", "actor_username", "via_admin", "detail")
    list_filter = ("kind", "via_admin")
    search_fields = ("username", "actor_username", "canvas_staff_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "user",
        "username",
        "actor",
        "actor_username",
        "kind",
        "via_admin",
        "canvas_staff_id",
        "detail",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # append-only, even for superusers


User = get_user_model()


@admin.action(description="Deactivate and disconnect them from Canvas", permissions=["change"])
def deactivate_and_disconnect(modeladmin, request: HttpRequest, queryset: QuerySet) -> None:
    """Deactivate the selected users; their Canvas connections end on save."""
    done = 0
    for user in queryset.filter(is_active=True).exclude(pk=request.user.pk):
        user.is_active = False
        user.save(update_fields=["is_active"])  # canvas_oauth.signals disconnects after commit
        done += 1
    modeladmin.message_user(
        request,
        f"{done} user(s) deactivated; they are disconnected from Canvas "
        "(their tokens are deleted and revoked at Canvas).",
        messages.SUCCESS,
    )


# Django's user admin, plus the action above.
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    actions = [*UserAdmin.actions, deactivate_and_disconnect]
    # Plain labelled multi-selects: Django's two-box filter widget sets ARIA
    # attributes axe reports as prohibited (serious).
    filter_horizontal = ()
    # Nobody edits these; as inputs, the time half of each had no label.
    readonly_fields = ("last_login", "date_joined")
