"""HubSpot: 30-minute tokens; the refresh token does not rotate.

The token endpoint is the dated ``https://api.hubapi.com/oauth/2026-03/token`` (form body): HubSpot sunsets
``/oauth/v1/token`` on 2027-02-16 (developers.hubspot.com/changelog/v1-oauth-api-deprecation); revocation is
``/oauth/2026-03/token/revoke``. Set ``token_url`` to the v1 URL only to keep an old integration as it was.

Error shapes, all read: RFC 6749 ``{"error": "invalid_grant", "error_description": ...}`` with the legacy
``status``/``message`` kept beside them (developers.hubspot.com/changelog/new-oauth-v3-api-endpoints-and-
standardized-error-responses); the legacy ``{"status": "BAD_REFRESH_TOKEN", "message": ...}`` alone (a dead
grant: re-auth); and HubSpot's API error ``{"message", "correlationId", "category": "VALIDATION_ERROR"}``
(the token endpoint's documented error: misconfigured, naming the category). Responses may be snake_case or
camelCase (``accessToken``, ``expiresIn``...): both spellings are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl

LEGACY = {
    "BAD_REFRESH_TOKEN": "invalid_grant", "BAD_CLIENT_ID": "invalid_client", "BAD_CLIENT_SECRET": "invalid_client",
    "BAD_AUTH_CODE": "invalid_grant", "BAD_REDIRECT_URI": "invalid_request", "BAD_GRANT_TYPE": "unsupported_grant_type",
    "VALIDATION_ERROR": "invalid_request",
}
TOKEN_URL = "https://api.hubapi.com/oauth/2026-03/token"
CAMEL = {"accessToken": "access_token", "refreshToken": "refresh_token", "expiresIn": "expires_in",
         "tokenType": "token_type", "idToken": "id_token", "scopes": "scope"}


class HubSpotProvider(Provider):
    name = "hubspot"
    error_aliases: ClassVar[Mapping[str, str]] = LEGACY
    #: RFC 6749's ``error``, else the legacy ``status``, else the API error's ``category``.
    error_code_fields: ClassVar[tuple[str, ...]] = ("error", "status", "category")

    token_url: str = TOKEN_URL
    revocation_url: str | None = "https://api.hubapi.com/oauth/2026-03/token/revoke"
    # Connecting: HubSpot's install URL; scopes are space-separated (optional ones go in authorize_params,
    # e.g. {optional_scope = "..."}).
    authorize_url: str = "https://app.hubspot.com/oauth/authorize"
    auth_method: AuthMethod = "client_secret_post"
    default_lifetime: float | None = 1800.0

    def is_error_payload(self, payload: Mapping[str, Any]) -> bool:
        has_token = "access_token" in payload or "accessToken" in payload
        return not has_token and any(k in payload for k in ("error", "status", "category"))

    def token_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {CAMEL.get(k, k): v for k, v in payload.items()}


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(HubSpotProvider)
