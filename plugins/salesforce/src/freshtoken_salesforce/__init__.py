"""Salesforce: the token response has **no** ``expires_in``; the access token lives as long as the org's (or
the connected app's) session timeout, which the response does not say. The lifetime is therefore operator
configuration: ``default_lifetime`` (seconds; set it to your org's session timeout). Its default is a safe
short 15 minutes, the shortest timeout an org can pick, rather than Salesforce's 2-hour default: a too-long
guess serves dead tokens (``INVALID_SESSION_ID``) for most of each cycle, a short one only refreshes more
often (a refresh every 7.5 minutes is 8 of the 3,600 token requests per user per hour Salesforce allows).
Token introspection (``/services/oauth2/introspect``, ``exp``) is not used: it needs a second request per
refresh. ``rate_limit_exceeded`` is retried (backoff), never a configuration error. ``instance_url`` is
copied to the KV record.

The token host comes from the account: ``login.salesforce.com``, ``test.salesforce.com`` or a
My Domain host (``acme.my.salesforce.com``, ``acme--uat.sandbox.my.salesforce.com``, ...).

The JWT bearer flow (server-to-server) is the ``jwt_bearer`` strategy: the client's ``private_key`` is the key of
the connected app's certificate, each account names its ``username`` (see jwt_bearer.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl

from .jwt_bearer import JWTBearerOptions

MY_DOMAIN = (
    r"(?:login|test)\.salesforce\.com"
    r"|[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,78}[a-zA-Z0-9])?(?:--[a-zA-Z0-9]{1,40})?"
    r"\.(?:(?:sandbox|develop|scratch|demo|patch|trailblaze)\.)?my\.salesforce\.com"
)
ERRORS = {"inactive_user": "invalid_grant", "inactive_org": "invalid_grant", "rate_limit_exceeded": "slow_down"}
#: The shortest session timeout an org can set (Setup > Session Settings), seconds.
SAFE_LIFETIME = 900.0


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
    default_lifetime: float = Field(  # never None: the token does expire
        default=SAFE_LIFETIME, gt=0, description="The org's session timeout, seconds (no expires_in is sent)."
    )
    extra_fields: tuple[str, ...] = ("instance_url",)


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(SalesforceProvider)
