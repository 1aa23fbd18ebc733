"""Google (``oauth2.googleapis.com``): refresh tokens do not rotate; the old one is kept.

Service accounts are the ``jwt_bearer`` strategy: the client's ``private_key`` is the service account's JSON
key, ``strategy_options.jwt_bearer.scope`` the scopes, account data ``subject`` the user for domain-wide
delegation (see service_account.py)."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl
from freshtoken.client import AuthMethod

from .service_account import ServiceAccountOptions


class GoogleProvider(ServiceAccountOptions, Provider):
    name = "google"
    strategies = ("refresh_token", "jwt_bearer")  # jwt_bearer: service accounts (service_account.py)

    token_url: str = "https://oauth2.googleapis.com/token"
    # Connecting: access_type=offline asks for a refresh token; prompt=consent makes Google issue one again
    # when the user has already consented. Scopes depend on the API: the operator names them.
    authorize_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    authorize_params: dict[str, str] = {"access_type": "offline", "prompt": "consent"}
    revocation_url: str | None = "https://oauth2.googleapis.com/revoke"
    auth_method: AuthMethod = "client_secret_post"


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(GoogleProvider)
