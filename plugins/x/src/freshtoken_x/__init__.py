"""X (Twitter) OAuth 2.0: 2-hour tokens, refresh tokens (``offline.access`` scope) rotated on every use.
Confidential clients authenticate with Basic; public (PKCE) clients send ``client_id`` in the body
(client ``auth_method = "none"``). A spent refresh token is ``invalid_request``
"Value passed for the token was invalid.": a dead grant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from freshtoken import Provider, hookimpl


class XProvider(Provider):
    name = "x"

    token_url: str = "https://api.x.com/2/oauth2/token"
    # Connecting: X's authorize page with PKCE; offline.access is the scope that brings a refresh token.
    authorize_url: str = "https://x.com/i/oauth2/authorize"
    offline_scopes: tuple[str, ...] = ("offline.access",)
    revocation_url: str | None = "https://api.x.com/2/oauth2/revoke"
    default_lifetime: float | None = 7200.0

    def error_code(self, payload: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        code, desc = super().error_code(payload)
        if code == "invalid_request" and desc and "token was invalid" in desc:
            code = "invalid_grant"
        return code, desc


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(XProvider)
