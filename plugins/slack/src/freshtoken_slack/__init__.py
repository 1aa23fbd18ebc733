"""Slack with token rotation: 12-hour tokens (``xoxe.xoxb-`` / ``xoxe.xoxp-``), refresh tokens rotated on
every use. Slack answers **HTTP 200** with ``{"ok": false, "error": ...}`` for errors; user tokens may be
nested under ``authed_user``; ``token_type`` is ``bot``/``user`` but the token is sent as a Bearer token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl

ERRORS = {
    "invalid_refresh_token": "invalid_grant", "token_revoked": "invalid_grant", "token_expired": "invalid_grant",
    "account_inactive": "invalid_grant", "invalid_client_id": "invalid_client", "bad_client_secret": "invalid_client",
    "bad_redirect_uri": "invalid_client", "ratelimited": "slow_down", "internal_error": "server_error",
    "fatal_error": "server_error", "service_unavailable": "temporarily_unavailable",
    "request_timeout": "temporarily_unavailable",
}


class SlackProvider(Provider):
    name = "slack"
    error_aliases: ClassVar[Mapping[str, str]] = ERRORS

    token_url: str = "https://slack.com/api/oauth.v2.access"
    # Connecting: Slack's v2 install URL; scopes are comma-separated (user-token scopes go in user_scope:
    # set scope_param = "user_scope"). Refresh tokens exist only with token rotation turned on for the app.
    authorize_url: str = "https://slack.com/oauth/v2/authorize"
    scope_separator: str = ","
    auth_method: AuthMethod = "client_secret_post"
    default_lifetime: float | None = 43200.0

    def is_error_payload(self, payload: Mapping[str, Any]) -> bool:
        return payload.get("ok") is False or super().is_error_payload(payload)

    def token_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        nested = payload.get("authed_user")
        if "access_token" not in payload and isinstance(nested, dict):
            payload = nested
        return {**payload, "token_type": "Bearer"}


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(SlackProvider)
