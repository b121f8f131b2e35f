"""The sandbox's OAuth pieces: an S256-only server and a race-safe token endpoint."""

import hashlib

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from oauth2_provider.models import get_grant_model, get_refresh_token_model
from oauth2_provider.views import TokenView
from oauthlib.oauth2 import Server
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256


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
