"""Asana: the authorization code grant; tokens from ``https://app.asana.com/-/oauth_token``, revocation at
``https://app.asana.com/-/oauth_revoke``, authorization at ``https://app.asana.com/-/oauth_authorize``
(developers.asana.com/docs/oauth). The lifetime is the response's ``expires_in``.
"""

from __future__ import annotations

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl


class AsanaProvider(Provider):
    name = "asana"

    token_url: str = "https://app.asana.com/-/oauth_token"
    revocation_url: str | None = "https://app.asana.com/-/oauth_revoke"
    authorize_url: str = "https://app.asana.com/-/oauth_authorize"
    auth_method: AuthMethod = "client_secret_post"


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(AsanaProvider)
