"""The one error of a connection that did not complete: a short ``code`` and a message that carries no secret."""

from __future__ import annotations

from ..errors import FreshtokenError

#: Codes of :class:`ConnectError` (the admin API answers them as ``error``).
CODES = frozenset({
    "invalid_state",      # no state, an unknown one, one already used, or for another redirect URI
    "expired_state",      # the connection was started too long ago
    "access_denied",      # the user (or the provider) refused; any other error redirect has its own code
    "authorization_error",  # an error redirect whose code is not a plain OAuth error code
    "missing_code",       # a callback with neither code nor error
    "missing_verifier",   # the provider needs PKCE but the pending connection holds no verifier
    "exchange_failed",    # the token endpoint refused the code or answered something unusable
    "no_refresh_token",   # the provider granted no refresh token (offline access not asked for?)
    "account_exists",     # the key is registered and active, and no replace was asked for
})


class ConnectError(FreshtokenError):
    """A connection that did not complete; nothing was registered. ``code`` is one of :data:`CODES`."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
