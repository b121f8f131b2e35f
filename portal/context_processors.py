"""Template context the base template needs on every signed-in page."""

from django.http import HttpRequest

from portal import conf


def session_timeouts(request: HttpRequest) -> dict[str, int]:
    """Give templates the idle timeout, so the page can leave the screen when it passes."""
    return {"session_idle_timeout": conf.session_idle_timeout()}
