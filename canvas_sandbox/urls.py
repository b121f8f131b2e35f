"""The sandbox's URLs: DOT's OAuth endpoints at /auth/, the plugin API, control, pages."""

from django.conf import settings
from django.urls import include, path, re_path

from canvas_sandbox.clinic import api, pages
from canvas_sandbox.clinic.urls import control_patterns, page_patterns, plugin_patterns
from canvas_sandbox.oauth import (
    LaunchAuthorizationView,
    SerializedTokenView,
    SwitchableRevokeTokenView,
)

oauth_patterns = (
    [
        path("authorize/", LaunchAuthorizationView.as_view(), name="authorize"),
        path("token/", SerializedTokenView.as_view(), name="token"),
        path("revoke_token/", SwitchableRevokeTokenView.as_view(), name="revoke-token"),
    ],
    "oauth2_provider",
)

urlpatterns = [
    path("auth/", include(oauth_patterns)),
    # The plugin under the name it is installed as (SANDBOX_PLUGIN_NAME).
    path(f"plugin-io/api/{settings.SANDBOX_PLUGIN_NAME}/", include(plugin_patterns)),
    # Any other plugin name or path under /plugin-io/: the plugin runner's empty 404.
    re_path(r"^plugin-io/", api.not_found),
    path("sandbox/control/", include(control_patterns)),
    path("", include(page_patterns)),
    # Everything else: a friendly 404 page instead of DEBUG's URL listing.
    re_path(r"^(?P<rest>.*)$", pages.not_found),
]
