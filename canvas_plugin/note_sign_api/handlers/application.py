"""The Canvas Application that opens the Note Portal, and the launcher page it opens.

Canvas shows the application in its app drawer; opening it launches
/plugin-io/api/note_sign_api/app in a new window. That page is served only to a
signed-in Canvas staff session and sends the user on to the portal configured in the
plugin variable `portal_url`, or says plainly that none is configured.
"""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlparse

from canvas_sdk.effects import Effect
from canvas_sdk.effects.launch_modal import LaunchModalEffect
from canvas_sdk.effects.simple_api import HTMLResponse, Response
from canvas_sdk.events import EventType
from canvas_sdk.handlers.application import Application
from canvas_sdk.handlers.simple_api import SimpleAPI, StaffSessionAuthMixin, api
from canvas_sdk.templates import render_to_string
from canvas_sdk.v1.data import Staff

from note_sign_api import queries
from note_sign_api.contract import forbidden, restrict_from, unauthenticated

LAUNCHER_PATH = "/plugin-io/api/note_sign_api/app"
PORTAL_URL_VARIABLE = "portal_url"
MAX_URL_LENGTH = 2000
#: The `canvas-logged-in-user-type` of a staff session (Canvas's header value).
STAFF_USER_TYPE = "Staff"


def portal_url_from(variables: dict) -> str | None:
    """Return the configured portal URL when it is an absolute http(s) URL, else None."""
    raw = (variables.get(PORTAL_URL_VARIABLE) or "").strip()
    if not raw or len(raw) > MAX_URL_LENGTH:
        return None
    if any(ord(character) < 33 or ord(character) == 127 for character in raw):
        return None
    try:
        parts = urlparse(raw)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or parts.username:
        return None
    return raw


class NoteSignApplication(Application):
    """Open the Note Portal launcher in a new window; badge it with the staff's to-sign count."""

    def compute_notification_badge(self) -> int | None:
        """Return how many notes wait for the staff member's signature (their to-sign queue).

        The same count as GET /notes/counts' `to_sign` (visibility and the signing
        restriction included); None (no badge) without an active staff member.
        """
        staff_id = (self.event.context.get("staff") or {}).get("id")
        if not staff_id:
            return None
        caller = Staff.objects.filter(id=str(staff_id), active=True).first()
        if caller is None:
            return None
        notes = queries.actionable_notes(
            queries.notes_queryset(caller, self.secrets, self.environment)
        )
        restrict = restrict_from(self.secrets)
        return notes.filter(queries.to_sign_filter(caller, restrict=restrict)).count()

    def on_open(self) -> Effect:
        """Launch the launcher page in a new browser window."""
        return LaunchModalEffect(
            url=LAUNCHER_PATH,
            target=LaunchModalEffect.TargetType.NEW_WINDOW,
            title="Note Portal",
        ).apply()


class PortalLauncher(StaffSessionAuthMixin, SimpleAPI):
    """Serve the launcher page to signed-in Canvas staff."""

    def compute(self) -> list[Effect]:
        """Refuse anyone but a staff session in the API's error shape, then defer to SimpleAPI."""
        if self.event.type in (EventType.SIMPLE_API_AUTHENTICATE, EventType.SIMPLE_API_REQUEST):
            headers = self.request.headers
            user_type = headers.get("canvas-logged-in-user-type")
            if not user_type or not headers.get("canvas-logged-in-user-id"):
                return [unauthenticated().apply()]
            if user_type != STAFF_USER_TYPE:
                return [forbidden().apply()]
        return super().compute()

    @api.get("/app")
    def launcher(self) -> list[Response | Effect]:
        """Render the launcher, pointing at `portal_url` when it is configured and valid."""
        raw = (self.secrets.get(PORTAL_URL_VARIABLE) or "").strip()
        portal_url = portal_url_from(self.secrets)
        page = render_to_string(
            "templates/launcher.html",
            {"portal_url": portal_url, "misconfigured": bool(raw) and portal_url is None},
        )
        return [
            HTMLResponse(
                page,
                status_code=HTTPStatus.OK,
                headers={
                    "Cache-Control": "no-store",
                    "Referrer-Policy": "no-referrer",
                    "X-Content-Type-Options": "nosniff",
                },
            )
        ]
