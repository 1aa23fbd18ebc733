"""Shopify expiring offline access tokens: 1-hour tokens with a rotating refresh token, refreshed at the
shop's own host. The shop is the ``{name}.myshopify.com`` domain Shopify hands the app; anything else is
refused before a request (carrying the client secret) is built. Legacy non-expiring offline tokens need
no refreshing: register them with ``never_expires=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar, Literal

from freshtoken import Provider, hookimpl
from freshtoken.client import AuthMethod

SHOP = r"[a-zA-Z0-9][a-zA-Z0-9-]{0,59}\.myshopify\.com"


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


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(ShopifyProvider)
