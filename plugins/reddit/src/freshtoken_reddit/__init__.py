"""Reddit: refresh tokens from ``duration=permanent`` authorizations, refreshed at
``https://www.reddit.com/api/v1/access_token`` with Basic client authentication (the OAuth2 wiki,
github.com/reddit-archive/reddit/wiki/OAuth2). Reddit requires a unique, descriptive User-Agent
(``<platform>:<app ID>:<version> (by /u/<username>)``) on every request: ``user_agent`` is required and sent
on refreshes and code exchanges. Errors may arrive with HTTP 200 (``{"error": ...}`` and no token): they are
errors, never tokens.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, SecretStr

from freshtoken import OAuthClient, Provider, ProviderRegistrar, TokenRequest, hookimpl


class RedditProvider(Provider):
    name = "reddit"

    token_url: str = "https://www.reddit.com/api/v1/access_token"
    authorize_url: str = "https://www.reddit.com/api/v1/authorize"
    authorize_params: dict[str, str] = {"duration": "permanent"}  # only permanent grants bring a refresh token
    user_agent: str = Field(
        min_length=8, max_length=256, pattern=r"[\x20-\x7e]+",
        description="Your app's User-Agent, e.g. 'web:com.example.app:v1.2 (by /u/yourname)' (Reddit requires it).",
    )

    def build_refresh_request(
        self, refresh_token: SecretStr, client: OAuthClient, account_data: Mapping[str, str]
    ) -> TokenRequest:
        request = super().build_refresh_request(refresh_token, client, account_data)
        request.headers["User-Agent"] = self.user_agent
        return request

    def build_code_request(
        self,
        code: SecretStr,
        client: OAuthClient,
        account_data: Mapping[str, str],
        *,
        redirect_uri: str,
        code_verifier: str | None,
    ) -> TokenRequest:
        request = super().build_code_request(
            code, client, account_data, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        request.headers["User-Agent"] = self.user_agent
        return request


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(RedditProvider)
