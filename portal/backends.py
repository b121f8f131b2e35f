"""The authentication backend: Django's model backend behind sign-in throttling."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from portal import proxy, services


class ThrottledModelBackend(ModelBackend):
    """Check username and password like ModelBackend, unless throttled.

    Every sign-in form (the portal's and the admin's) goes through
    `authenticate(request, ...)`, so throttling lives here. The attempt is
    counted before the password is checked (see portal.services). A refused
    attempt raises PermissionDenied, which makes `authenticate()` return
    None without asking any other backend; the sign-in form reads
    `request.signin_refusal` to tell the person how long to wait.
    Calls without a request (`Client.login` in tests, scripts) are not
    throttled.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or username is None or password is None:
            return super().authenticate(request, username, password, **kwargs)
        address = getattr(request, "client_ip", None) or proxy.client_ip(request)
        attempt = services.signin_attempt_reserve(
            username=username, address=address, request_id=getattr(request, "request_id", "")
        )
        if isinstance(attempt, services.SignInRefusal):
            request.signin_refusal = attempt
            raise PermissionDenied("sign-in throttled")
        # Counted as a failure already: parallel attempts cannot all get here.
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            request.signin_refusal = services.signin_attempt_failed(attempt=attempt)
        else:
            services.signin_attempt_succeeded(attempt=attempt)
        return user

    def get_user(self, user_id):
        """Return the signed-in user with their Canvas link and profile, in one query.

        Almost every page and action needs both (the connection banner, the
        token for Canvas); `canvas_oauth.selectors.connection_get` uses the
        row loaded here instead of reading it again.
        """
        UserModel = get_user_model()
        try:
            user = UserModel._default_manager.select_related("canvas_connection", "profile").get(
                pk=user_id
            )
        except UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        """Return the user's permissions and their groups', read in one query.

        ModelBackend reads them in two (the user's, then the groups'); every
        note action checks a permission, so the second query is saved on
        each request. Cached on the user object like ModelBackend's, so one
        request reads them once; `get_user_permissions` and
        `get_group_permissions` (the admin) are ModelBackend's.
        """
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            perms = Permission.objects.all()
            if not user_obj.is_superuser:
                perms = perms.filter(Q(user=user_obj) | Q(group__user=user_obj))
            user_obj._perm_cache = {
                f"{app_label}.{codename}"
                for app_label, codename in perms.values_list(
                    "content_type__app_label", "codename"
                ).distinct()
            }
        return user_obj._perm_cache
