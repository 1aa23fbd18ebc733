"""Bitbucket Cloud: tokens from ``https://bitbucket.org/site/oauth2/access_token`` with Basic client
authentication (developer.atlassian.com/cloud/bitbucket/oauth-2); 2-hour access tokens. Refresh tokens
rotate on every use and expire after 3 months unused; responses name the granted scopes ``scopes`` (older)
or ``scope`` (from 2026-05-04): both are read.
"""

from __future__ import annotations

from typing import Any

from freshtoken import Provider, ProviderRegistrar, hookimpl


class BitbucketProvider(Provider):
    name = "bitbucket"

    token_url: str = "https://bitbucket.org/site/oauth2/access_token"
    authorize_url: str = "https://bitbucket.org/site/oauth2/authorize"
    default_lifetime: float | None = 7200.0

    def token_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        if "scope" not in payload and isinstance(payload.get("scopes"), str):
            return {**payload, "scope": payload["scopes"]}
        return payload


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(BitbucketProvider)
