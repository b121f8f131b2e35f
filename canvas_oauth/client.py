"""The only code that talks to Canvas's authorization server (/auth/*).

One class over a `requests.Session`; every call has a (connect, read)
timeout, none is retried, and `requests` exceptions never leave this module
(errors are raised `from None`: a requests exception holds the request, whose
body carries the code, verifier or refresh token).
Token responses are validated strictly: anything but a complete, sane token
set is an error, so nothing half-valid is ever stored.
"""

import logging
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from canvas_oauth import conf
from canvas_oauth.exceptions import (
    AuthorizationServerUnavailable,
    InvalidGrant,
    RefreshOutcomeUnknown,
    TokenRequestRejected,
    TokenResponseInvalid,
)

logger = logging.getLogger(__name__)

MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, repr=False)
class TokenSet:
    """A validated token response. `refresh_token` is None when none was sent."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str

    def __repr__(self) -> str:  # never show the tokens
        return f"<TokenSet expires_in={self.expires_in} scope={self.scope!r}>"


class CanvasAuthClient:
    """Client of `{CANVAS_BASE_URL}/auth/`: authorize URL, token, revoke."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self.session = session or requests.Session()

    # -- URLs ---------------------------------------------------------------
    def authorize_url(
        self, *, redirect_uri: str, state: str, code_challenge: str, launch: str
    ) -> str:
        """Return the authorization URL the browser is sent to."""
        params = {
            "response_type": "code",
            "client_id": conf.client_id(),
            "redirect_uri": redirect_uri,
            "scope": " ".join(conf.scopes()),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "launch": launch,
        }
        return f"{conf.base_url()}/auth/authorize/?{urlencode(params)}"

    # -- token endpoint -----------------------------------------------------
    def token_exchange(self, *, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        """Exchange an authorization code (once; never retried) for a token set."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        return self._token_request(data, require_refresh_token=True)

    def token_refresh(self, *, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new token set (never retried)."""
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._token_request(data, require_refresh_token=False)

    def token_revoke(self, *, token: str, token_type_hint: str = "refresh_token") -> None:  # noqa: S107
        """Revoke a token (RFC 7009); raise AuthorizationServerUnavailable on failure."""
        data = {"token": token, "token_type_hint": token_type_hint, **self._client_auth()}
        try:
            response = self.session.post(
                f"{conf.base_url()}/auth/revoke_token/", data=data, timeout=conf.timeouts()
            )
        except requests.RequestException:
            raise AuthorizationServerUnavailable(
                "Canvas could not be reached to revoke the token."
            ) from None
        if response.status_code != 200:
            raise AuthorizationServerUnavailable(
                f"Canvas answered {response.status_code} to the revocation."
            )

    # -- internals ----------------------------------------------------------
    def _client_auth(self) -> dict[str, str]:
        auth = {"client_id": conf.client_id()}
        secret = conf.client_secret()
        if secret:
            auth["client_secret"] = secret
        return auth

    def _token_request(self, data: dict[str, str], *, require_refresh_token: bool) -> TokenSet:
        data = {**data, **self._client_auth()}
        url = f"{conf.base_url()}/auth/token/"
        try:
            response = self.session.post(
                url,
                data=data,
                timeout=conf.timeouts(),
                headers={"Accept": "application/json"},
                allow_redirects=False,
            )
        except requests.ReadTimeout:
            # The request was sent: Canvas may have done it. Never retry blindly.
            logger.warning("Canvas token endpoint: read timeout (%s)", data["grant_type"])
            raise RefreshOutcomeUnknown() from None
        except requests.RequestException as exc:
            logger.warning(
                "Canvas token endpoint unreachable (%s): %s",
                data["grant_type"],
                type(exc).__name__,
            )
            raise AuthorizationServerUnavailable() from None
        return self._token_response_parse(response, require_refresh_token=require_refresh_token)

    def _token_response_parse(
        self, response: requests.Response, *, require_refresh_token: bool
    ) -> TokenSet:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if status >= 500 or status in (429,):
            logger.warning("Canvas token endpoint answered %s", status)
            raise AuthorizationServerUnavailable()
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, str) or not error:
                logger.warning("Canvas token endpoint answered %s without an OAuth error", status)
                raise AuthorizationServerUnavailable(
                    f"Canvas answered {status} to the token request."
                )
            # Only a plain OAuth error code reaches logs and pages.
            error = error if _ERROR_CODE.match(error) else "unrecognised_error"
            logger.warning("Canvas token endpoint answered %s %s", status, error)
            if error == "invalid_grant":
                raise InvalidGrant()
            raise TokenRequestRejected(f"Canvas refused the token request ({error}).", code=error)
        if not isinstance(body, dict):
            logger.warning("Canvas token endpoint answered 200 with a body that is not JSON")
            raise TokenResponseInvalid("Canvas answered with something that is not JSON.")
        return _token_set_validate(body, require_refresh_token=require_refresh_token)


def _token_set_validate(body: dict, *, require_refresh_token: bool) -> TokenSet:
    def invalid(why: str) -> TokenResponseInvalid:
        logger.warning("Canvas token response refused: %s", why)
        return TokenResponseInvalid(f"Canvas's answer was not usable: {why}.")

    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token.strip():
        raise invalid("no access token")
    refresh_token = body.get("refresh_token")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        raise invalid("the refresh token is malformed")
    if require_refresh_token and refresh_token is None:
        raise invalid("no refresh token (ask for the offline_access scope)")
    token_type = body.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise invalid("the token type is not Bearer")
    expires_in = body.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise invalid("expires_in is missing or not a whole number")
    if expires_in <= 0 or expires_in > MAX_EXPIRES_IN:
        raise invalid("expires_in is out of range")
    scope = body.get("scope")
    wanted = set(conf.scopes())
    if scope is None:
        granted = wanted  # RFC 6749 5.1: omitted means as requested
    elif isinstance(scope, str):
        granted = set(scope.split())
    else:
        raise invalid("the scope is malformed")
    missing = wanted - granted
    if missing:
        raise invalid(
            f"Canvas granted fewer permissions than asked (missing {' '.join(sorted(missing))})"
        )
    return TokenSet(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=expires_in,
        scope=" ".join(sorted(granted)),
    )


_local = threading.local()


def get_client() -> CanvasAuthClient:
    """Return this thread's client (requests.Session is not guaranteed thread-safe)."""
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = CanvasAuthClient()
    return client
