"""Calendly: 2-hour access tokens from ``https://auth.calendly.com/oauth/token``; refresh tokens do not
expire until used and are single-use: each successful refresh revokes the one it used and returns a new
one (developer.calendly.com/refresh-token-rotation-guide). The response's ``owner`` and ``organization``
(URIs, not secrets) are copied to the KV record. Connecting: ``https://auth.calendly.com/oauth/authorize``
with PKCE (S256), which Calendly recommends for every OAuth app (developer.calendly.com/api-docs/calendly-o-auth/
o-auth/get-oauth-authorize); the scopes are those chosen for the app at registration.
"""

from __future__ import annotations

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl


class CalendlyProvider(Provider):
    name = "calendly"

    token_url: str = "https://auth.calendly.com/oauth/token"
    authorize_url: str = "https://auth.calendly.com/oauth/authorize"
    auth_method: AuthMethod = "client_secret_post"
    default_lifetime: float | None = 7200.0  # documented: access tokens expire after 2 hours
    extra_fields: tuple[str, ...] = ("owner", "organization")


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(CalendlyProvider)
