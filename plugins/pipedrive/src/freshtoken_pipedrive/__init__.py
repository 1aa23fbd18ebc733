"""Pipedrive: tokens from ``https://oauth.pipedrive.com/oauth/token`` with Basic client authentication
(developers.pipedrive.com/docs/api/v1/Oauth). Each token response carries ``api_domain``, the company's
API base URL, which can change: it is copied to the KV record on every refresh (``extra_fields``), so the
request path always calls the current domain (developers.pipedrive.com/changelog/post/
new-parameter-in-oauth-oauthtoken-responses).
"""

from __future__ import annotations

from freshtoken import Provider, ProviderRegistrar, hookimpl


class PipedriveProvider(Provider):
    name = "pipedrive"

    token_url: str = "https://oauth.pipedrive.com/oauth/token"
    authorize_url: str = "https://oauth.pipedrive.com/oauth/authorize"
    extra_fields: tuple[str, ...] = ("api_domain",)


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(PipedriveProvider)
