"""The client of Canvas's authorization server: authorize URL, token, revoke.

Every call goes through `integrations.canvas.http` (timeouts, no redirects,
no resends). Token responses are validated strictly: anything but a
complete, sane token set is an error, so nothing half-valid is ever stored.
Tokens, codes and verifiers are never logged, and the errors raised carry
none of them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlencode

import requests
from django.views.decorators.debug import sensitive_variables

from integrations.canvas import http
from integrations.canvas.exceptions import (
    AuthorizationServerUnavailable,
    InvalidGrant,
    RefreshOutcomeUnknown,
    TokenProblem,
    TokenRequestRejected,
    TokenResponseInvalid,
    upstream_code,
)
from integrations.canvas.settings import canvas_settings

logger = logging.getLogger(__name__)

MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
#: RFC 6750's b64token, at a sane length: nothing else is stored or sent as a header.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{1,4096}=*", re.ASCII)
MAX_TOKEN_LENGTH = 4096


def _is_token(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) <= MAX_TOKEN_LENGTH and bool(_TOKEN.fullmatch(value))
    )


@dataclass(frozen=True, repr=False)
class TokenSet:
    """A validated token response. `refresh_token` is None when none was sent."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str

    def __repr__(self) -> str:  # never show the tokens
        return f"<TokenSet expires_in={self.expires_in} scope={self.scope!r}>"


class AuthClient:
    """Client of `{CANVAS_BASE_URL}/auth/`."""

    def __init__(self, *, session: requests.Session | None = None) -> None:
        self.session = session

    def authorize_url(
        self, *, redirect_uri: str, state: str, code_challenge: str, launch: str
    ) -> str:
        """Return the authorization URL the browser is sent to."""
        params = {
            "response_type": "code",
            "client_id": canvas_settings.CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": " ".join(canvas_settings.SCOPES),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "launch": launch,
        }
        return f"{canvas_settings.auth_url}authorize/?{urlencode(params)}"

    @sensitive_variables()
    def token_exchange(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        """Exchange an authorization code (once; never retried) for a token set."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        return self._token_request(data, require_refresh_token=True)

    @sensitive_variables()
    def token_refresh(self, *, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new token set (never retried).

        The scope is sent too: Canvas documents that a refresh without it
        may fail with `invalid_scope`.
        """
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": " ".join(canvas_settings.SCOPES),
        }
        return self._token_request(data, require_refresh_token=False)

    @sensitive_variables()
    def token_revoke(self, *, token: str, token_type_hint: str = "refresh_token") -> None:  # noqa: S107
        """Revoke a token (RFC 7009); raise AuthorizationServerUnavailable on failure."""
        data = {"token": token, "token_type_hint": token_type_hint, **self._client_auth()}
        try:
            response = http.request(
                "POST", f"{canvas_settings.auth_url}revoke_token/", data=data, session=self.session
            )
        except http.TransportError:
            raise AuthorizationServerUnavailable(
                "Canvas could not be reached to revoke the token."
            ) from None
        response.close()
        if response.status_code != 200:
            raise AuthorizationServerUnavailable(
                f"Canvas answered {response.status_code} to the revocation."
            )

    # -- internals ----------------------------------------------------------
    def _client_auth(self) -> dict[str, str]:
        auth = {"client_id": canvas_settings.CLIENT_ID}
        if canvas_settings.CLIENT_SECRET:
            auth["client_secret"] = canvas_settings.CLIENT_SECRET
        return auth

    @sensitive_variables()
    def _token_request(self, data: dict[str, str], *, require_refresh_token: bool) -> TokenSet:
        grant = data["grant_type"]
        try:
            response = http.request(
                "POST",
                f"{canvas_settings.auth_url}token/",
                data={**data, **self._client_auth()},
                session=self.session,
            )
        except http.TransportError as exc:
            if exc.read_timeout:
                # The request was sent: Canvas may have done it. Never retry blindly.
                logger.warning("Canvas token endpoint: read timeout (%s)", grant)
                raise RefreshOutcomeUnknown() from None
            logger.warning("Canvas token endpoint unreachable (%s): %s", grant, exc.kind)
            raise AuthorizationServerUnavailable() from None
        try:
            return _token_response_parse(response, require_refresh_token=require_refresh_token)
        except TokenResponseInvalid:
            self._revoke_issued(response)
            raise
        finally:
            response.close()

    @sensitive_variables()
    def _revoke_issued(self, response: requests.Response) -> None:
        """Revoke a well-formed refresh token in a refused token response (best effort).

        Canvas issued it even though the portal will not store the answer;
        left alone it would stay valid forever.
        """
        try:
            refresh_token = response.json().get("refresh_token")
        except (ValueError, AttributeError):
            return
        if not _is_token(refresh_token):
            return
        try:
            self.token_revoke(token=refresh_token)
        except AuthorizationServerUnavailable:
            logger.warning("Canvas token revocation after a refused token response failed")


def _token_response_parse(response: requests.Response, *, require_refresh_token: bool) -> TokenSet:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if status >= 500 or status == 429:
        logger.warning("Canvas token endpoint answered %s", status)
        raise AuthorizationServerUnavailable(status=status)
    if status != 200:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, str) or not error:
            logger.warning("Canvas token endpoint answered %s without an OAuth error", status)
            raise AuthorizationServerUnavailable(
                f"Canvas answered {status} to the token request.", status=status
            )
        # Only a plain OAuth error code reaches logs and pages.
        error = upstream_code(error)
        logger.warning("Canvas token endpoint answered %s %s", status, error)
        if error == "invalid_grant":
            raise InvalidGrant(status=status)
        raise TokenRequestRejected(
            f"Canvas refused the token request ({error}).", code=error, status=status
        )
    if not isinstance(body, dict):
        logger.warning("Canvas token endpoint answered 200 with a body that is not JSON")
        raise TokenResponseInvalid(TokenProblem.NOT_JSON)
    return _token_set_validate(body, require_refresh_token=require_refresh_token)


def _invalid(problem: TokenProblem, detail: str = "") -> TokenResponseInvalid:
    logger.warning("Canvas token response refused: %s%s", problem.value, detail)
    return TokenResponseInvalid(problem, detail=detail)


def _scope_granted(scope: object) -> set[str]:
    """Return the granted scopes, refusing a malformed or narrowed grant."""
    wanted = set(canvas_settings.SCOPES)
    if scope is None:
        granted = wanted  # RFC 6749 5.1: omitted means as requested
    elif isinstance(scope, str):
        granted = set(scope.split())
    else:
        raise _invalid(TokenProblem.SCOPE_MALFORMED)
    missing = wanted - granted
    if missing:
        raise _invalid(TokenProblem.SCOPE_NARROWED, f" (missing {' '.join(sorted(missing))})")
    return granted


def _token_set_validate(body: dict, *, require_refresh_token: bool) -> TokenSet:
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token.strip():
        raise _invalid(TokenProblem.NO_ACCESS_TOKEN)
    if not _is_token(access_token):
        raise _invalid(TokenProblem.MALFORMED_ACCESS_TOKEN)
    refresh_token = body.get("refresh_token")
    if refresh_token is not None and not _is_token(refresh_token):
        raise _invalid(TokenProblem.MALFORMED_REFRESH_TOKEN)
    if require_refresh_token and refresh_token is None:
        raise _invalid(TokenProblem.NO_REFRESH_TOKEN)
    token_type = body.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise _invalid(TokenProblem.NOT_BEARER)
    expires_in = body.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise _invalid(TokenProblem.EXPIRES_IN_MISSING)
    if expires_in <= 0 or expires_in > MAX_EXPIRES_IN:
        raise _invalid(TokenProblem.EXPIRES_IN_OUT_OF_RANGE)
    granted = _scope_granted(body.get("scope"))
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=expires_in,
        scope=" ".join(sorted(granted)),
    )


@cache
def auth_client() -> AuthClient:
    """Return the process-wide client (it holds no state; the session is http's)."""
    return AuthClient()
