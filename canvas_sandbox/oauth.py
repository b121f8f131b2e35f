"""The sandbox's OAuth server class: PKCE with S256 only, as Canvas requires."""

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
