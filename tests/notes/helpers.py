"""Shared bits of the notes tests: settings, URLs and plugin API bodies."""

import uuid

from django.contrib.auth.models import Group, Permission

from notes.groups import groups_ensure

CANVAS = "https://canvas.test"
API = f"{CANVAS}/plugin-io/api/note_sign_api/"
TOKEN_URL = f"{CANVAS}/auth/token/"
SETTINGS = {
    "CANVAS_BASE_URL": CANVAS,
    "CANVAS_CLIENT_ID": "canvas-note-portal-dev",
    "CANVAS_CLIENT_SECRET": "",
    "CANVAS_PLUGIN_NAME": "note_sign_api",
    "CANVAS_SCOPES": "offline_access",
}


def ensure_groups():
    """Recreate the default groups (a TransactionTestCase flush removes migration data)."""
    groups_ensure(group_model=Group, permission_model=Permission)


def summary(note_id=None, state="LKD", allowed=("sign", "lock_sign", "unlock"), **extra):
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


def accepted(note_id, action, from_state="LKD", effects=("SIGN_NOTE",)):
    return {
        "note_id": str(note_id),
        "action": action,
        "effects": list(effects),
        "from_state": from_state,
    }


def error(code, message="A sentence.", **extra):
    return {"error": {"code": code, "message": message}, **extra}


def token_body(access="at-new", refresh="rt-new"):
    return {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": 36000,
        "token_type": "Bearer",
        "scope": "offline_access",
    }
