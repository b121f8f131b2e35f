"""canvas_oauth's own settings, read lazily so `override_settings` works.

Everything about reaching Canvas (URLs, client id, scopes, timeouts) is in
`integrations.canvas.settings`; only what the Django side of connecting
decides lives here.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

# A token is refreshed when it expires within this margin.
REFRESH_MARGIN = timedelta(minutes=5)
# A started connect flow (state + PKCE verifier) is valid this long.
FLOW_TTL = timedelta(minutes=10)
# At most this many connect flows are pending in one session (several tabs).
MAX_PENDING_FLOWS = 5
# A forced refresh is skipped when another worker refreshed this recently.
FORCED_REFRESH_DEDUP = timedelta(seconds=10)


def now() -> datetime:
    """Return the current time: the one clock seam of canvas_oauth (tests move it)."""
    return timezone.now()


def encryption_keys() -> list[str]:
    """Return TOKEN_ENCRYPTION_KEYS as a list (first encrypts, all decrypt)."""
    keys = getattr(settings, "TOKEN_ENCRYPTION_KEYS", [])
    if isinstance(keys, str):
        keys = keys.split(",")
    return [key.strip() for key in keys if key and key.strip()]
