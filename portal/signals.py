"""Signal receivers: start the session clocks at sign-in."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from portal import middleware


@receiver(user_logged_in, dispatch_uid="portal.session_clock_start")
def session_clock_start(sender, request, user, **kwargs) -> None:
    """Record when this session signed in, for the idle and absolute timeouts."""
    if request is None or not hasattr(request, "session"):
        return
    now = middleware._now()
    request.session[middleware.SESSION_STARTED_KEY] = now
    request.session[middleware.SESSION_SEEN_KEY] = now
