"""Microsoft Entra ID (identity platform v2.0): a tenant-aware token endpoint, client secret or
private_key_jwt (a certificate: set ``auth_method = "private_key_jwt"``, ``private_key`` and
``jwt_headers = {x5t = ...}`` on the client). Refresh tokens rotate on every use.

Expiry comes from ``expires_in`` (60-90 min, randomised); ``ext_expires_in`` (the outage extension) is
deliberately not used. ``refresh_in`` (MSAL's hint, half the lifetime for long-lived CAE tokens) is a
refresh hint: the refresher takes it when it is earlier than ``lead`` seconds before expiry.
``refresh_scopes`` sends ``scope`` on each refresh (the v2.0 refresh request documents it; some tenants
require it, AADSTS90014).

``cloud`` picks the authority host instead of a hand-edited ``token_url`` (learn.microsoft.com/entra/
identity-platform/authentication-national-cloud): ``global`` (login.microsoftonline.com), ``usgov``
(login.microsoftonline.us), ``china`` (login.partner.microsoftonline.cn) and ``china_legacy``
(login.chinacloudapi.cn), each with the ``tenant`` account field; ``b2c`` (Azure AD B2C:
``https://{b2c_tenant}.b2clogin.com/{b2c_tenant}.onmicrosoft.com/{policy}/oauth2/v2.0/token``, account fields
``b2c_tenant`` and ``policy``) and ``ciam`` (External ID: ``https://{ciam_tenant}.ciamlogin.com/{tenant}/...``).
Every host part is an account field checked against a pattern; ``cloud`` with a hand-set ``token_url`` is
refused.

SPA refresh tokens (issued to a redirect URI registered as ``spa``) live 24 hours, not sliding, and are
redeemed only cross-origin (learn.microsoft.com/entra/identity-platform/refresh-tokens): set
``headers = {Origin = "https://your.spa.origin"}`` and expect re-auth within a day; register a web
(confidential) app instead for unattended refresh.

App-only tokens are the ``client_credentials`` strategy (learn.microsoft.com/entra/identity-platform/
v2-oauth2-client-creds-grant-flow): the client's secret, or a certificate (``auth_method = "private_key_jwt"``,
``private_key``, ``jwt_headers = {x5t = ...}``); ``scope`` is ``{resource}/.default`` (Graph by default, set
``strategy_options.client_credentials.scope`` for another API); no refresh token is issued or kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from freshtoken import AuthMethod, OAuthClient, Provider, ProviderRegistrar, TokenRequest, hookimpl

#: ``common``/``organizations``/``consumers``, a tenant id (GUID) or the ``*.onmicrosoft.com`` domain. Custom
#: domains (``contoso.com``) are refused: a pattern cannot tell them from any other host; use the tenant id.
TENANT = (
    r"common|organizations|consumers"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.onmicrosoft\.com"
)
#: A DNS label: a B2C or External ID tenant name (the ``{name}.b2clogin.com`` / ``{name}.ciamlogin.com`` part).
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: A B2C user flow or custom policy name (``B2C_1_signupsignin``, ``B2C_1A_signup_signin``).
POLICY = r"[A-Za-z0-9_-]{1,64}"
#: The authority (without ``/oauth2/v2.0/...``) of each cloud; every placeholder is an account field.
CLOUDS: Mapping[str, str] = {
    "global": "https://login.microsoftonline.com/{tenant}",
    "usgov": "https://login.microsoftonline.us/{tenant}",
    "china": "https://login.partner.microsoftonline.cn/{tenant}",
    "china_legacy": "https://login.chinacloudapi.cn/{tenant}",
    "b2c": "https://{b2c_tenant}.b2clogin.com/{b2c_tenant}.onmicrosoft.com/{policy}",
    "ciam": "https://{ciam_tenant}.ciamlogin.com/{tenant}",
}
Cloud = Literal["global", "usgov", "china", "china_legacy", "b2c", "ciam"]

#: Errors that need the user back (MFA, consent, sign-in), not a fixed client (AADSTS codes sit in
#: error_description).
REAUTH = {code: "invalid_grant" for code in ("interaction_required", "consent_required", "login_required")}


class MicrosoftProvider(Provider):
    name = "microsoft"
    strategies = ("refresh_token", "client_credentials")  # ClassVar (declared on Provider)
    account_fields: ClassVar[Mapping[str, str]] = {
        "tenant": TENANT, "b2c_tenant": LABEL, "policy": POLICY, "ciam_tenant": LABEL,
    }
    error_aliases: ClassVar[Mapping[str, str]] = REAUTH

    token_url: str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    # Connecting: the tenant's authorize endpoint; offline_access is the scope that brings a refresh token.
    authorize_url: str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
    offline_scopes: tuple[str, ...] = ("offline_access",)
    auth_method: AuthMethod = "client_secret_post"
    cloud: Cloud = Field(default="global", description="The authority: global, usgov, china, china_legacy, b2c, ciam.")
    refresh_scopes: tuple[str, ...] = Field(
        default=(), description="Scopes sent as 'scope' on each refresh (e.g. offline_access and the resource's)."
    )

    @model_validator(mode="before")
    @classmethod
    def _cloud_endpoints(cls, data: Any) -> Any:
        """``cloud`` sets token_url (and authorize_url) from :data:`CLOUDS`; with a hand-set URL it is refused."""
        if not isinstance(data, dict) or data.get("cloud", "global") == "global":
            return data
        cloud = data["cloud"]
        if cloud not in CLOUDS:
            return data  # the Literal refuses it, naming the choices
        clash = sorted(k for k in ("token_url", "authorize_url") if k in data)
        if clash:
            raise ValueError(f"cloud {cloud!r} sets {' and '.join(clash)} itself: set one or the other")
        return {**data, "token_url": CLOUDS[cloud] + "/oauth2/v2.0/token",
                "authorize_url": CLOUDS[cloud] + "/oauth2/v2.0/authorize"}

    def build_refresh_request(
        self, refresh_token: SecretStr, client: OAuthClient, account_data: Mapping[str, str]
    ) -> TokenRequest:
        self.validate_account_data(account_data)  # every host part, also those another cloud would use
        request = super().build_refresh_request(refresh_token, client, account_data)
        if self.refresh_scopes:
            request.params["scope"] = " ".join(self.refresh_scopes)
        return request
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
