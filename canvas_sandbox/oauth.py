"""The sandbox's OAuth pieces: an S256-only server, Canvas's `launch` and `scope` rules,
and a race-safe token endpoint."""

import base64
import binascii
import hashlib
import json

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model, get_grant_model, get_refresh_token_model
from oauth2_provider.views import AuthorizationView, RevokeTokenView, TokenView
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2 import Server
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256

from canvas_sandbox.clinic import conf


class S256OnlyServer(Server):
    """oauthlib's all-in-one server whose authorization-code grant knows only S256.

    oauthlib treats a challenge without a method as "plain"; with S256 the only
    known method, `plain` and a missing method both end in an
    `unsupported_code_challenge_method` error redirect, and a missing challenge
    in `invalid_request` ("Code challenge required.") because PKCE_REQUIRED is on.
    """

    def __init__(self, *args, **kwargs) -> None:
        """Build the server, then narrow the grant's challenge methods."""
        super().__init__(*args, **kwargs)
        self.auth_grant._code_challenge_methods = {"S256": code_challenge_method_s256}


class SerializedTokenView(TokenView):
    """DOT's token endpoint, with each code or refresh token handled by one request at a time.

    DOT validates a refresh token before it locks it, so two concurrent
    refreshes with the same token can both win, or one can answer 500 when
    reuse protection deletes the tokens the other just issued. Canvas
    answers the slower one `invalid_grant` (and, with reuse protection,
    revokes the family). Here the whole request runs in one transaction
    that first locks the rows of the presented token, so the second request
    waits and then sees the token already used.
    """

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Lock the presented code or refresh token, then let DOT answer."""
        form = request.content_type == "application/x-www-form-urlencoded"
        grant_type = request.POST.get("grant_type") if form else None
        if grant_type == "refresh_token" and not request.POST.get("scope", "").strip():
            # Canvas: a refresh must send `scope` or may fail with invalid_scope.
            # Stock DOT (RFC 6749 6: scope optional) keeps the old scope, so the
            # check is here, before anything touches the token (it stays usable).
            return JsonResponse(
                {
                    "error": "invalid_scope",
                    "error_description": "A refresh must send the scope it was granted.",
                },
                status=400,
                headers={"Cache-Control": "no-store"},
            )
        if grant_type == "refresh_token":
            model, field, value = get_refresh_token_model(), "token_checksum", "refresh_token"
        elif grant_type == "authorization_code":
            model, field, value = get_grant_model(), "code", "code"
        else:
            return super().post(request, *args, **kwargs)
        key = request.POST.get(value, "")
        if field == "token_checksum":
            key = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        with transaction.atomic():
            list(model.objects.select_for_update().filter(**{field: key}).values_list("pk"))
            return super().post(request, *args, **kwargs)


def launch_valid(value: str) -> bool:
    """Return whether `launch` is base64 (URL-safe or not, padding optional) of a JSON object."""
    text = value.strip()
    if not text or len(text) > 4096:
        return False
    try:
        raw = base64.urlsafe_b64decode(
            text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
        )
        decoded = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        return False
    return isinstance(decoded, dict)


class LaunchAuthorizationView(AuthorizationView):
    """DOT's authorization endpoint, refusing a request without Canvas's `launch` parameter.

    Canvas requires `launch` for staff authorization. Once the client and the
    redirect URI are known good (DOT's own validation, so an unknown client
    still gets an error page and never a redirect), a missing `launch`
    redirects back with `error=access_denied`, as a refusal does in OAuth.
    """

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        """Refuse a request without a good `launch`; otherwise let DOT show the consent page."""
        if launch_valid(request.GET.get("launch", "")):
            return super().get(request, *args, **kwargs)
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        application = get_application_model().objects.get(client_id=credentials["client_id"])
        params = [
            ("error", "access_denied"),
            (
                "error_description",
                "Staff authorization needs the launch parameter (base64 of a JSON object).",
            ),
        ]
        if credentials.get("state"):
            params.append(("state", credentials["state"]))
        return self.redirect(add_params_to_uri(credentials["redirect_uri"], params), application)


class SwitchableRevokeTokenView(RevokeTokenView):
    """RFC 7009 revocation, or a 404 as on an instance without the endpoint."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not conf.revocation_endpoint():
            return HttpResponse(status=404, content_type="text/plain")
        return super().post(request, *args, **kwargs)
