"""The one home of the tests' settings, URLs and Canvas answers (data: tests/factories.py)."""

import uuid
from urllib.parse import parse_qs

import responses
from cryptography.fernet import Fernet
from django.contrib.auth.models import Group, Permission
from django.test import override_settings

from notes.groups import groups_ensure

CANVAS = "https://canvas.test"
API = f"{CANVAS}/plugin-io/api/note_sign_api/"
TOKEN_URL = f"{CANVAS}/auth/token/"
REVOKE_URL = f"{CANVAS}/auth/revoke_token/"
ME_URL = f"{API}me"
CLIENT_ID = "portal-test-client"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()

#: A Canvas instance at https://canvas.test, for tests that mock it with `responses`.
SETTINGS = {
    "CANVAS_BASE_URL": CANVAS,
    "CANVAS_CLIENT_ID": CLIENT_ID,
    "CANVAS_CLIENT_SECRET": "",
    "CANVAS_PLUGIN_NAME": "note_sign_api",
    "CANVAS_SCOPES": "offline_access",
    "CANVAS_REDIRECT_URI": "",
    "CANVAS_REVOKE_ON_UNLINK": True,
}

#: SETTINGS plus a token key of the tests' own (the linking and token tests).
oauth_settings = override_settings(**SETTINGS, TOKEN_ENCRYPTION_KEYS=[KEY_A])


class CanvasMockMixin:
    """Mock Canvas at the HTTP boundary with `responses` as `self.rsps`.

    Every answer registered must be asked for: the mock is stopped (and
    asserts) before it is reset.
    """

    def setUp(self):
        super().setUp()
        self.rsps = responses.RequestsMock(assert_all_requests_are_fired=True)
        self.rsps.start()
        self.addCleanup(self.rsps.reset)
        self.addCleanup(self.rsps.stop)  # cleanups run last-in first-out


def ensure_groups():
    """Recreate the default groups (a TransactionTestCase flush removes migration data)."""
    groups_ensure(group_model=Group, permission_model=Permission)


def token_body(
    n: int = 1,
    *,
    access: str | None = None,
    refresh: str | None = None,
    expires_in=36000,
    scope="offline_access",
    **extra,
) -> dict:
    """Return a token endpoint answer; tokens `at-new-<n>` / `rt-new-<n>` unless given.

    A field set to None is left out.
    """
    body = {
        "access_token": access or f"at-new-{n}",
        "refresh_token": refresh or f"rt-new-{n}",
        "expires_in": expires_in,
        "token_type": "Bearer",
        "scope": scope,
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def form(call) -> dict[str, str]:
    """Return a recorded `responses` call's form body as a flat dict."""
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def summary(note_id=None, state="LKD", allowed=("sign", "lock_sign", "unlock"), **extra):
    """Return a plugin API note summary."""
    data = {
        "id": str(note_id or uuid.uuid4()),
        "title": "Office visit",
        "datetime_of_service": "2026-11-27T15:30:00Z",
        "state": {"code": state, "label": {"LKD": "Locked", "SGN": "Signed"}.get(state, state)},
        "note_type": {"name": "Office visit", "category": "encounter", "is_sig_required": True},
        "patient": {"id": "p1", "name": "Ada Lovelace"},
        "provider": {"id": "staff-provider", "name": "Dr. Provider"},
        "allowed_actions": list(allowed),
    }
    data.update(extra)
    return data


#: The state each action leads to (on an encounter note), for `accepted`.
EXPECTED = {
    "lock": ("LKD", "Locked"),
    "sign": ("SGN", "Signed"),
    "lock_sign": ("SGN", "Signed"),
    "unlock": ("ULK", "Unlocked"),
    "checkin": ("CVD", "Checked in"),
    "noshow": ("NSW", "No show"),
}


def accepted(note_id, action, from_state="LKD", effects=("SIGN_NOTE",)):
    """Return a plugin API 202 body (contract v2: accepted, with the expected state)."""
    code, label = EXPECTED[action]
    return {
        "note_id": str(note_id),
        "action": action,
        "effects": list(effects),
        "from_state": from_state,
        "expected_state": {"code": code, "label": label},
        "accepted_at": "2026-11-30T10:00:00+00:00",
    }


def error(code, message="A sentence.", **extra):
    """Return a plugin API error body."""
    return {"error": {"code": code, "message": message}, **extra}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_dump() -> str:
    """Return every row of every table as text, with session data decoded.

    What a secret or a note's content left in the database would show up in.
    """
    from django.contrib.sessions.models import Session
    from django.db import connection

    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    chunks.extend(repr(s.get_decoded()) for s in Session.objects.all())
    return "\n".join(chunks)


def cache_dump() -> str:
    """Return every value of every configured cache as text (they are unpickled first).

    Knows the backends CACHE_URL may name here (local memory, database); any
    other fails the test rather than pass it unread.
    """
    import base64
    import pickle

    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.locmem import LocMemCache
    from django.db import connections, router

    chunks = []
    for cache in caches.all(initialized_only=False):
        if isinstance(cache, LocMemCache):
            with cache._lock:
                stored = list(cache._cache.items())
            chunks.extend(f"{key!r}: {pickle.loads(value)!r}" for key, value in stored)
        elif isinstance(cache, DatabaseCache):
            db = router.db_for_read(cache.cache_model_class)
            table = connections[db].ops.quote_name(cache._table)
            with connections[db].cursor() as cursor:
                cursor.execute(f"SELECT cache_key, value FROM {table}")
                for key, value in cursor.fetchall():
                    chunks.append(f"{key!r}: {pickle.loads(base64.b64decode(value))!r}")
        else:
            raise AssertionError(f"cache_dump cannot read a {type(cache).__name__}: teach it")
    return "\n".join(chunks)


def installation_zone_warm() -> None:
    """Read the installation's zone now, as a serving process already has.

    A process reads it at most once a minute, not per request: tests that
    count one request's queries warm it first, whatever ran before them.
    """
    from canvas_oauth.zones import installation_zone_forget, installation_zone_refresh

    installation_zone_forget()
    installation_zone_refresh()
