"""Salesforce: the token response has **no** ``expires_in``; the access token lives as long as the
connected app's session timeout, so the lifetime is configuration (``default_lifetime``, seconds;
Salesforce's default timeout is 2 hours). ``instance_url`` is copied to the KV record.

The token host comes from the account: ``login.salesforce.com``, ``test.salesforce.com`` or a
My Domain host (``acme.my.salesforce.com``, ``acme--uat.sandbox.my.salesforce.com``, ...).

The JWT bearer flow (server-to-server) is the ``jwt_bearer`` strategy: the client's ``private_key`` is the key of
the connected app's certificate, each account names its ``username`` (see jwt_bearer.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl

from .jwt_bearer import JWTBearerOptions

MY_DOMAIN = (
    r"(?:login|test)\.salesforce\.com"
    r"|[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,78}[a-zA-Z0-9])?(?:--[a-zA-Z0-9]{1,40})?"
    r"\.(?:(?:sandbox|develop|scratch|demo|patch|trailblaze)\.)?my\.salesforce\.com"
)
ERRORS = {"inactive_user": "invalid_grant", "inactive_org": "invalid_grant"}


class SalesforceProvider(JWTBearerOptions, Provider):
    name = "salesforce"
    strategies = ("refresh_token", "jwt_bearer")  # jwt_bearer: the server-to-server flow (jwt_bearer.py)
    account_fields: ClassVar[Mapping[str, str]] = {"my_domain": MY_DOMAIN}
    error_aliases: ClassVar[Mapping[str, str]] = ERRORS

    token_url: str = "https://{my_domain}/services/oauth2/token"
    # Connecting: the web server flow at the account's My Domain (or login/test); refresh_token is the scope
    # that brings a refresh token, api the one that lets the token call the REST API.
    authorize_url: str = "https://{my_domain}/services/oauth2/authorize"
    default_scopes: tuple[str, ...] = ("api",)
    offline_scopes: tuple[str, ...] = ("refresh_token",)
    revocation_url: str | None = "https://{my_domain}/services/oauth2/revoke"
    auth_method: AuthMethod = "client_secret_post"
    default_lifetime: float | None = 7200.0
    extra_fields: tuple[str, ...] = ("instance_url",)


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(SalesforceProvider)
