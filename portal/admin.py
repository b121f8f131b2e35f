"""Admin: the sign-in security log and current sign-in throttles, read-only."""

from django.contrib import admin

from portal.forms import AdminSignInForm
from portal.models import SignInEvent, SignInThrottle

# The admin's own sign-in page shows the same throttling messages.
admin.site.login_form = AdminSignInForm
admin.site.site_header = "Canvas Note Portal administration"
admin.site.site_title = "Canvas Note Portal admin"
admin.site.index_title = "Accounts, Canvas links, audit and sign-in logs"


@admin.register(SignInEvent)
class SignInEventAdmin(admin.ModelAdmin):
    """Failed, refused and locked-out sign-ins: admins read them, nobody edits them."""

    list_display = ["at", "kind", "username", "address", "detail", "request_id"]
    list_filter = ["kind", "at"]
    search_fields = ["username", "address", "request_id"]
    date_hierarchy = "at"
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SignInThrottle)
class SignInThrottleAdmin(admin.ModelAdmin):
    """Current failure counts and lock-outs; deleting a row lifts its lock-out."""

    list_display = ["scope", "key", "failures", "last_failure_at", "locked_until"]
    list_filter = ["scope"]
    search_fields = ["key"]
    readonly_fields = ["scope", "key", "failures", "first_failure_at", "last_failure_at"]
    readonly_fields += ["locked_until"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
