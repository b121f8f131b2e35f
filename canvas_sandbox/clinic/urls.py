"""URLs of the sandbox's pages, plugin API and control API."""

from django.contrib.auth import views as auth_views
from django.urls import path, re_path
from note_sign_api import transitions

from canvas_sandbox.clinic import api, control, pages

_ACTIONS = "|".join(transitions.ACTIONS)

page_patterns = (
    [
        path("", pages.home, name="home"),
        path(
            "login/",
            auth_views.LoginView.as_view(template_name="sandbox/login.html"),
            name="login",
        ),
        # LogoutView answers only POST.
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        path("connected-apps/", pages.connected_apps, name="connected-apps"),
        path("healthz", pages.healthz, name="healthz"),
    ],
    "sandbox",
)

plugin_patterns = (
    [
        re_path(r"^me/?$", api.me, name="me"),
        re_path(r"^notes/?$", api.note_list, name="note-list"),
        re_path(r"^notes/counts/?$", api.note_counts, name="note-counts"),
        re_path(r"^notes/history/?$", api.notes_history, name="notes-history"),
        re_path(r"^notes/(?P<note_id>[^/]+)/?$", api.note_detail, name="note-detail"),
        re_path(r"^notes/(?P<note_id>[^/]+)/history/?$", api.note_history, name="note-history"),
        re_path(r"^notes/(?P<note_id>[^/]+)/content/?$", api.note_content, name="note-content"),
        re_path(
            rf"^notes/(?P<note_id>[^/]+)/(?P<action>{_ACTIONS})/?$",
            api.note_action,
            name="note-action",
        ),
        re_path(r"^app/?$", api.app, name="app"),
        re_path(r"^(?P<rest>.*)$", api.not_found),
    ],
    "plugin",
)

control_patterns = (
    [
        path("faults", control.faults, name="faults"),
        path("reset-faults", control.faults_reset, name="reset-faults"),
        path("stats", control.stats, name="stats"),
        path("reset-stats", control.stats_reset, name="reset-stats"),
        path("tokens", control.tokens, name="tokens"),
        path("revoke", control.revoke, name="revoke"),
        path("notes", control.notes, name="notes"),
        path("plugin-variables", control.plugin_variables, name="plugin-variables"),
        path("canvas-settings", control.canvas_settings, name="canvas-settings"),
        path("care-team", control.care_team, name="care-team"),
        path("notes/<str:note_id>", control.note_detail, name="note-detail"),
        path("notes/<str:note_id>/history", control.note_history, name="note-history"),
        path("notes/<str:note_id>/effects", control.note_effects, name="note-effects"),
        path("notes/<str:note_id>/veto", control.note_veto, name="note-veto"),
        path("notes/<str:note_id>/commands", control.note_commands, name="note-commands"),
        re_path(r"^(?P<rest>.*)$", control.not_found),
    ],
    "control",
)
