"""Intercom: the OAuth code is exchanged at ``https://api.intercom.io/auth/eagle/token`` and the token is
then used like a personal access token (intercom-developer-hub.readme.io/reference/using-oauth): Intercom
documents no expiry and no refresh token for it. So these are **static tokens**: register them with
``never_expires=True`` (and no refresh token) and freshtoken writes them to KV once, with no alarm and no
refresh. ``default_lifetime`` is None: a token response without ``expires_in`` never expires.
"""

from __future__ import annotations

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl


class IntercomProvider(Provider):
    name = "intercom"

    token_url: str = "https://api.intercom.io/auth/eagle/token"
    authorize_url: str = "https://app.intercom.io/oauth"
    auth_method: AuthMethod = "client_secret_post"
    default_lifetime: float | None = None  # documented: the token does not expire


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(IntercomProvider)
