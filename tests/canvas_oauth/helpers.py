"""Shared settings and helpers for the canvas_oauth tests."""

from urllib.parse import parse_qs

from cryptography.fernet import Fernet
from django.test import override_settings

BASE = "https://canvas.test"
TOKEN_URL = f"{BASE}/auth/token/"
REVOKE_URL = f"{BASE}/auth/revoke_token/"
ME_URL = f"{BASE}/plugin-io/api/note_sign_api/me"
CLIENT_ID = "portal-test-client"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()

canvas_settings = override_settings(
    CANVAS_BASE_URL=BASE,
    CANVAS_CLIENT_ID=CLIENT_ID,
    CANVAS_CLIENT_SECRET="",
    CANVAS_SCOPES="offline_access",
    CANVAS_PLUGIN_NAME="note_sign_api",
    CANVAS_REDIRECT_URI="",
    CANVAS_REVOKE_ON_UNLINK=True,
    TOKEN_ENCRYPTION_KEYS=[KEY_A],
)


def token_body(n: int = 1, *, expires_in=36000, scope="offline_access", **extra) -> dict:
    """Return a token endpoint answer with tokens `at-new-<n>` / `rt-new-<n>`."""
    body = {
        "access_token": f"at-new-{n}",
        "refresh_token": f"rt-new-{n}",
        "expires_in": expires_in,
        "token_type": "Bearer",
        "scope": scope,
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def form(call) -> dict[str, str]:
    """Return a recorded `responses` call's form body as a flat dict."""
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}
