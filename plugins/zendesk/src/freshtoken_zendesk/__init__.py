"""Zendesk (global OAuth clients): the token endpoint is on the account's subdomain
(``https://{subdomain}.zendesk.com/oauth/tokens``); refresh tokens are single use.

Zendesk applies the lifetimes the client asks for: every refresh, and the code exchange, sends ``expires_in`` and
``refresh_token_expires_in`` (support.zendesk.com/hc/en-us/articles/9182123625370: "If you set an expiry, it
will be applied and enforced"), from ``access_token_lifetime`` (default 30 min; Zendesk allows 5 min-48 h)
and ``refresh_token_lifetime`` (default 30 days; 7-90 days) (support.zendesk.com/hc/en-us/articles/
10212201463962). Set either to None to leave it to the client's defaults. A response without
``expires_in`` then means the lifetime asked for, never "never refresh".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from freshtoken import AuthMethod, OAuthClient, Provider, ProviderRegistrar, TokenRequest, hookimpl

SUBDOMAIN = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"


class ZendeskProvider(Provider):
    name = "zendesk"
    account_fields: ClassVar[Mapping[str, str]] = {"subdomain": SUBDOMAIN}

    token_url: str = "https://{subdomain}.zendesk.com/oauth/tokens"
    # Connecting: the account's own authorization page (global OAuth clients), PKCE supported.
    authorize_url: str = "https://{subdomain}.zendesk.com/oauth/authorizations/new"
    auth_method: AuthMethod = "client_secret_post"
    body_format: Literal["form", "json"] = "json"
    default_lifetime: float = Field(default=1800.0, gt=0)  # never None: a missing expiry still refreshes
    access_token_lifetime: int | None = Field(
        default=1800, ge=300, le=172800, description="expires_in asked for on each refresh, seconds (5 min-48 h)."
    )
    refresh_token_lifetime: int | None = Field(
        default=2592000, ge=604800, le=7776000,
        description="refresh_token_expires_in asked for on each refresh, seconds (7-90 days).",
    )

    @model_validator(mode="before")
    @classmethod
    def _lifetime_asked_for(cls, data: Any) -> Any:
        """A response without expires_in lives as long as was asked for (unless default_lifetime is set)."""
        if isinstance(data, dict) and "default_lifetime" not in data and data.get("access_token_lifetime"):
            data = {**data, "default_lifetime": float(data["access_token_lifetime"])}
        return data

    @model_validator(mode="before")
    @classmethod
    def _lifetimes_on_code_exchange(cls, data: Any) -> Any:
        """The code exchange asks for the same lifetimes as a refresh: Zendesk takes ``expires_in`` and
        ``refresh_token_expires_in`` with the authorization_code grant too (support.zendesk.com/hc/en-us/
        articles/9182123625370). They land in ``code_params``; what the operator sets there wins."""
        if not isinstance(data, dict):
            return data
        asked: dict[str, str] = {}
        for field, param in (("access_token_lifetime", "expires_in"),
                             ("refresh_token_lifetime", "refresh_token_expires_in")):
            value = data.get(field, cls.model_fields[field].default)
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                asked[param] = str(value)  # an invalid value is refused by the field itself
        configured = data.get("code_params", {})
        if not isinstance(configured, dict):
            return data  # refused by the field, naming it
        return {**data, "code_params": {**asked, **configured}}

    def build_refresh_request(
        self, refresh_token: SecretStr, client: OAuthClient, account_data: Mapping[str, str]
    ) -> TokenRequest:
        request = super().build_refresh_request(refresh_token, client, account_data)
        if self.access_token_lifetime is not None:
            request.params.setdefault("expires_in", str(self.access_token_lifetime))
        if self.refresh_token_lifetime is not None:
            request.params.setdefault("refresh_token_expires_in", str(self.refresh_token_lifetime))
        return request


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(ZendeskProvider)
