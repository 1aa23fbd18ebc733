"""HubSpot: 30-minute tokens; the refresh token does not rotate.

Two error shapes: RFC ``{"error": "invalid_grant"}`` and the legacy ``{"status": "BAD_REFRESH_TOKEN",
"message": ...}``. The v1 endpoint is deprecated (2027-02-16); set ``token_url`` to
``https://api.hubapi.com/oauth/2026-03/token`` for the dated API, whose documented responses are camelCase
(``accessToken``, ``expiresIn``...): both spellings are read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from freshtoken import Provider, hookimpl
from freshtoken.client import AuthMethod

LEGACY = {
    "BAD_REFRESH_TOKEN": "invalid_grant", "BAD_CLIENT_ID": "invalid_client", "BAD_CLIENT_SECRET": "invalid_client"
}
CAMEL = {"accessToken": "access_token", "refreshToken": "refresh_token", "expiresIn": "expires_in",
         "tokenType": "token_type", "idToken": "id_token", "scopes": "scope"}


class HubSpotProvider(Provider):
    name = "hubspot"

    token_url: str = "https://api.hubapi.com/oauth/v1/token"
    # Connecting: HubSpot's install URL; scopes are space-separated (optional ones go in authorize_params,
    # e.g. {optional_scope = "..."}).
    authorize_url: str = "https://app.hubspot.com/oauth/authorize"
    auth_method: AuthMethod = "client_secret_post"
    default_lifetime: float | None = 1800.0

    def is_error_payload(self, payload: Mapping[str, Any]) -> bool:
        has_token = "access_token" in payload or "accessToken" in payload
        return not has_token and ("error" in payload or "status" in payload)

    def token_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {CAMEL.get(k, k): v for k, v in payload.items()}

    def error_code(self, payload: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        code, desc = super().error_code(payload)
        status = payload.get("status") if payload else None
        if code is None and isinstance(status, str):
            code = LEGACY.get(status, status.lower())
        return code, desc


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(HubSpotProvider)
