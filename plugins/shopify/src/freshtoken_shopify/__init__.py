"""Shopify expiring offline access tokens: 1-hour tokens with a rotating refresh token, refreshed at the
shop's own host. The shop is the ``{name}.myshopify.com`` domain Shopify hands the app; anything else is
refused before a request (carrying the client secret) is built. Legacy non-expiring offline tokens need
no refreshing: register them with ``never_expires=True``.

Rotation grace (shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens): the
previous refresh token stays usable until the app first uses its replacement, for at most 30 days from its
own first use: ``rotation_grace`` is 30 days, so a refresh whose answer was lost is retried with the previous
token. Refresh tokens live 90 days (shopify.dev/docs/apps/build/authentication-authorization/access-tokens/
offline-access-tokens): ``refresh_token_expires_in`` is read when sent, else the 90 days are assumed, so the
refresh-token-expiring alert fires before a quiet shop's grant lapses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl

SHOP = r"[a-zA-Z0-9][a-zA-Z0-9-]{0,59}\.myshopify\.com"
#: Documented: the previous refresh token is retried for at most 30 days; refresh tokens live 90 days.
ROTATION_GRACE = 30 * 86400.0
REFRESH_TOKEN_LIFETIME = 90 * 86400.0


class ShopifyProvider(Provider):
    name = "shopify"
    account_fields: ClassVar[Mapping[str, str]] = {"shop": SHOP}

    token_url: str = "https://{shop}/admin/oauth/access_token"
    # Connecting: the shop's own authorize page; scopes are comma-separated; expiring=1 on the code exchange
    # asks for an expiring offline token with a refresh token (what this plugin refreshes).
    authorize_url: str = "https://{shop}/admin/oauth/authorize"
    scope_separator: str = ","
    code_params: dict[str, str] = {"expiring": "1"}
    auth_method: AuthMethod = "client_secret_post"
    body_format: Literal["form", "json"] = "json"
    rotation_grace: float | None = ROTATION_GRACE

    def parse_refresh_token_expiry(self, payload: Mapping[str, Any], now: float) -> float | None:
        sent = super().parse_refresh_token_expiry(payload, now)
        if sent is None and payload.get("refresh_token"):
            return now + REFRESH_TOKEN_LIFETIME  # a new refresh token starts its documented 90 days
        return sent


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(ShopifyProvider)
