"""Discord: tokens from ``https://discord.com/api/oauth2/token`` (form body); the access token response is
``access_token``, ``token_type``, ``expires_in``, ``refresh_token``, ``scope``
(discord.com/developers/docs/topics/oauth2#authorization-code-grant-access-token-response). The lifetime is
the response's ``expires_in``; a new refresh token replaces the old one when sent. Connecting: the base
authorization URL ``https://discord.com/oauth2/authorize``, scopes separated by spaces
(discord.com/developers/docs/topics/oauth2#shared-resources-oauth2-urls); the code exchange needs no extra
parameter.
"""

from __future__ import annotations

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl


class DiscordProvider(Provider):
    name = "discord"

    token_url: str = "https://discord.com/api/oauth2/token"
    authorize_url: str = "https://discord.com/oauth2/authorize"
    auth_method: AuthMethod = "client_secret_post"


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(DiscordProvider)
