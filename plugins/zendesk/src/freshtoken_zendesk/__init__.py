"""Zendesk (global OAuth clients): the token endpoint is on the account's subdomain
(``https://{subdomain}.zendesk.com/oauth/tokens``); refresh tokens are single use. Zendesk omits
``expires_in`` unless it was requested, and a missing ``expires_in`` must never mean "never refresh": the
lifetime then defaults to 30 minutes (``default_lifetime``; set it to your tokens' configured lifetime).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar, Literal

from pydantic import Field

from freshtoken import Provider, hookimpl
from freshtoken.client import AuthMethod

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


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(ZendeskProvider)
