"""Box: single-use refresh tokens (60 days), rotated on every refresh; client credentials in the body."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl
from freshtoken.client import AuthMethod


class BoxProvider(Provider):
    name = "box"

    token_url: str = "https://api.box.com/oauth2/token"
    # Connecting: Box's authorize endpoint; without a scope parameter Box grants the scopes configured for the
    # app, and a refresh token always comes with the code exchange.
    authorize_url: str = "https://account.box.com/api/oauth2/authorize"
    revocation_url: str | None = "https://api.box.com/oauth2/revoke"
    auth_method: AuthMethod = "client_secret_post"


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(BoxProvider)
