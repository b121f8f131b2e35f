"""The authentication backend: Django's model backend behind sign-in throttling."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import connections, router

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
            if user_obj.is_superuser:
                perms = Permission.objects.values_list("content_type__app_label", "codename")
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in perms}
            else:
                user_obj._perm_cache = _permissions_read(user_obj.pk)
        return user_obj._perm_cache


def _permissions_read(user_id: int) -> set[str]:
    """Return a user's own and their groups' permissions as `app_label.codename`.

    Plain SQL written once per process: building the same ORM query (four
    joins, an OR, DISTINCT) cost about a fifth of a note action's CPU.
    """
    using = router.db_for_read(Permission)
    with connections[using].cursor() as cursor:
        cursor.execute(_permissions_sql(using), [user_id, user_id])
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}


#: Tables named by the models (columns are auth.User's); the user id is a parameter.
_PERMISSIONS_TEMPLATE = (
    "SELECT DISTINCT ct.app_label, p.codename FROM {permission} p"
    " JOIN {content_type} ct ON ct.id = p.content_type_id"
    " WHERE p.id IN (SELECT permission_id FROM {user_permissions} WHERE user_id = %s"
    " UNION SELECT gp.permission_id FROM {group_permissions} gp"
    " JOIN {user_groups} ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s)"
)
_PERMISSIONS_SQL: dict[str, str] = {}


def _permissions_sql(using: str) -> str:
    """Return the permission query for a database alias, its tables named by the models."""
    if using not in _PERMISSIONS_SQL:
        quote = connections[using].ops.quote_name
        user_fields = get_user_model()._meta
        tables = {
            "permission": Permission._meta.db_table,
            "content_type": Permission._meta.get_field("content_type").related_model._meta.db_table,
            "user_permissions": user_fields.get_field(
                "user_permissions"
            ).remote_field.through._meta.db_table,
            "group_permissions": Group._meta.get_field(
                "permissions"
            ).remote_field.through._meta.db_table,
            "user_groups": user_fields.get_field("groups").remote_field.through._meta.db_table,
        }
        _PERMISSIONS_SQL[using] = _PERMISSIONS_TEMPLATE.format(
            **{name: quote(table) for name, table in tables.items()}
        )
    return _PERMISSIONS_SQL[using]
