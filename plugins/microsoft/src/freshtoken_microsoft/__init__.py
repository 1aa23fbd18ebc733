"""Microsoft Entra ID (identity platform v2.0): a tenant-aware token endpoint, client secret or
private_key_jwt (a certificate: set ``auth_method = "private_key_jwt"``, ``private_key`` and
``jwt_headers = {x5t = ...}`` on the client). Refresh tokens rotate on every use.

Expiry comes from ``expires_in`` (60-90 min, randomised); ``ext_expires_in`` (the outage extension) is
deliberately not used. ``refresh_in`` (MSAL's hint, half the lifetime for long-lived CAE tokens) is a
refresh hint: the refresher takes it when it is earlier than ``lead`` seconds before expiry.
If your tenant wants ``scope`` on refresh (AADSTS90014), set ``refresh_params = {scope = "offline_access ..."}``.

App-only tokens are the ``client_credentials`` strategy (learn.microsoft.com/entra/identity-platform/
v2-oauth2-client-creds-grant-flow): the client's secret, or a certificate (``auth_method = "private_key_jwt"``,
``private_key``, ``jwt_headers = {x5t = ...}``); ``scope`` is ``{resource}/.default`` (Graph by default, set
``strategy_options.client_credentials.scope`` for another API); no refresh token is issued or kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl

#: ``common``/``organizations``/``consumers``, a tenant id (GUID) or the ``*.onmicrosoft.com`` domain. Custom
#: domains (``contoso.com``) are refused: a pattern cannot tell them from any other host; use the tenant id.
TENANT = (
    r"common|organizations|consumers"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.onmicrosoft\.com"
)
#: Errors that need the user back (MFA, consent, sign-in), not a fixed client (AADSTS codes sit in
#: error_description).
REAUTH = {code: "invalid_grant" for code in ("interaction_required", "consent_required", "login_required")}


class MicrosoftProvider(Provider):
    name = "microsoft"
    strategies = ("refresh_token", "client_credentials")  # ClassVar (declared on Provider)
    account_fields: ClassVar[Mapping[str, str]] = {"tenant": TENANT}
    error_aliases: ClassVar[Mapping[str, str]] = REAUTH

    token_url: str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    # Connecting: the tenant's authorize endpoint; offline_access is the scope that brings a refresh token.
    authorize_url: str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
    offline_scopes: tuple[str, ...] = ("offline_access",)
    auth_method: AuthMethod = "client_secret_post"
    #: App-only tokens (client_credentials): scope is '{resource}/.default' (Microsoft Graph by default).
    strategy_options: dict[str, dict[str, Any]] = {"client_credentials": {"scope": "https://graph.microsoft.com/.default"}}

    def parse_refresh_hint(self, payload: Mapping[str, Any], now: float) -> float | None:
        value = payload.get("refresh_in")
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 366 * 86400:
            return now + float(value)
        return None


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(MicrosoftProvider)
