"""LinkedIn: 60-day access tokens; the refresh token (approved partners only) lives 365 days, fixed."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl
from freshtoken.client import AuthMethod


class LinkedInProvider(Provider):
    name = "linkedin"

    token_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    # Connecting: LinkedIn's authorization page; scopes are the products the app was granted.
    authorize_url: str = "https://www.linkedin.com/oauth/v2/authorization"
    auth_method: AuthMethod = "client_secret_post"
    default_lifetime: float | None = 60 * 86400.0


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(LinkedInProvider)
