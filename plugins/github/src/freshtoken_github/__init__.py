"""GitHub App user access tokens: 8-hour tokens and 6-month refresh tokens, rotated on every use.

GitHub answers errors with **HTTP 200** (``{"error": "bad_refresh_token"}``) and answers form-encoded
unless asked for JSON. When token expiration is disabled (and for OAuth-app tokens) ``expires_in`` is
omitted and the token never expires: register such a token with ``never_expires=True`` and no refresh
token. Device-flow tokens refresh without a secret (client ``auth_method = "none"``).

GitHub App **installation** tokens are the ``github_app_installation`` strategy (:mod:`freshtoken.strategies`):
the client's ``client_id`` is the app's client ID (or app ID), its ``private_key`` the app's PEM key, and each
account names its ``installation_id``; ``strategy_options.github_app_installation.api_url`` points at GitHub
Enterprise Server (``https://HOST/api/v3``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import parse_qsl

from freshtoken import AuthMethod, Provider, ProviderRegistrar, TokenResponse, TokenSet, hookimpl

ERRORS = {"bad_refresh_token": "invalid_grant", "incorrect_client_credentials": "invalid_client"}


class GitHubProvider(Provider):
    name = "github"
    strategies = ("refresh_token", "github_app_installation")  # ClassVar (declared on Provider)
    error_aliases: ClassVar[Mapping[str, str]] = ERRORS

    token_url: str = "https://github.com/login/oauth/access_token"
    # Connecting: GitHub App user tokens use the app's permissions, not scopes; PKCE (S256) is supported.
    authorize_url: str = "https://github.com/login/oauth/authorize"
    auth_method: AuthMethod = "client_secret_post"
    headers: dict[str, str] = {"Accept": "application/json"}
    default_lifetime: float | None = None  # documented: expires_in omitted <=> the token does not expire

    def parse_response(self, response: TokenResponse, now: float) -> TokenSet:
        if response.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(response.body.decode("utf-8", "replace")))  # Accept was ignored
            response = TokenResponse(response.status, response.headers, json.dumps(form).encode())
        return super().parse_response(response, now)


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(GitHubProvider)
