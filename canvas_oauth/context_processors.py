"""Template context: the signed-in user's Canvas connection."""

from collections.abc import Callable

from django.http import HttpRequest

from canvas_oauth.models import CanvasConnection
from canvas_oauth.selectors import connection_get


def canvas_connection(request: HttpRequest) -> dict[str, Callable[[], CanvasConnection | None]]:
    """Give templates `canvas_connection`: the user's row, or None.

    A callable, which templates call on use: a page or fragment that never
    shows the connection (most htmx answers) costs no query, and one that
    does reads it once.
    """

    def get() -> CanvasConnection | None:
        if not hasattr(request, "_canvas_connection"):
            request._canvas_connection = connection_get(user=getattr(request, "user", None))
        return request._canvas_connection

    return {"canvas_connection": get}
