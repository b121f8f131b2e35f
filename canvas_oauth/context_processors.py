"""Template context: the signed-in user's Canvas connection."""

from django.http import HttpRequest

from canvas_oauth.selectors import connection_get


def canvas_connection(request: HttpRequest) -> dict:
    """Give templates `canvas_connection`: the user's row, or None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"canvas_connection": None}
    if not hasattr(request, "_canvas_connection"):
        request._canvas_connection = connection_get(user=user)
    return {"canvas_connection": request._canvas_connection}
