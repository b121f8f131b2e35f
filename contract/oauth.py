"""OAuth checks that need no person: refresh without `scope`, and whether revocation exists."""

from __future__ import annotations

import secrets

from contract.context import Run, shown
from contract.report import Case, failed, passed, unobservable

TOKEN_PATH = "/auth/token/"
REVOKE_PATH = "/auth/revoke_token/"


def _oauth_error(body: object) -> str | None:
    value = body.get("error") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def case_refresh_scope(run: Run) -> Case:
    """A refresh_token grant without `scope`: invalid_scope shows Canvas's scope rule."""
    name = "oauth.refresh_scope"
    answer = run.client.oauth(
        TOKEN_PATH,
        data={
            "grant_type": "refresh_token",
            "refresh_token": "contract-" + secrets.token_hex(16),
            "client_id": run.target.client_id,
        },
    )
    error = _oauth_error(answer.body)
    if error == "invalid_scope":
        return passed(name, "invalid_scope: a refresh must send `scope` (the portal sends it)")
    if error in ("invalid_grant", "invalid_client", "invalid_request"):
        return unobservable(
            name,
            f"{answer.status} {error}: the instance checked the "
            f"{'client' if error == 'invalid_client' else 'refresh token'} before the scope, so "
            "whether it requires `scope` is not observable without a real refresh token "
            "(the portal always sends CANVAS_SCOPES)",
        )
    return failed(name, f"the token endpoint answered {shown(answer)} {error or ''}".strip())


def case_revocation(run: Run) -> Case:
    """POST /auth/revoke_token/ with an invalid token: 200 (RFC 7009) means it exists; 404 not."""
    name = "oauth.revocation"
    answer = run.client.oauth(
        REVOKE_PATH,
        data={"token": "contract-" + secrets.token_hex(16), "client_id": run.target.client_id},
    )
    revoke = run.target.portal.revoke_on_unlink
    if answer.status == 404:
        if not revoke:
            return passed(name, "404: no revocation endpoint; CANVAS_REVOKE_ON_UNLINK is false")
        return failed(
            name,
            "404: the instance has no revocation endpoint, so Disconnect cannot revoke at "
            "Canvas; users remove the portal's access in Canvas themselves",
            "CANVAS_REVOKE_ON_UNLINK=false",
            exists=False,
        )
    if answer.status in (200, 400, 401):
        detail = _oauth_error(answer.body) or "accepted"
        state = "on" if revoke else "off (could be true)"
        return passed(
            name,
            f"{answer.status} {detail}: the endpoint exists; revocation is {state}",
            exists=True,
        )
    return unobservable(name, f"the revocation endpoint answered {shown(answer)}")


OAUTH_CASES = (case_refresh_scope, case_revocation)
