"""Google (``oauth2.googleapis.com``): refresh tokens do not rotate; the old one is kept."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl
from freshtoken.client import AuthMethod


class GoogleProvider(Provider):
    name = "google"

    token_url: str = "https://oauth2.googleapis.com/token"
    revocation_url: str | None = "https://oauth2.googleapis.com/revoke"
    auth_method: AuthMethod = "client_secret_post"


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(GoogleProvider)
