"""``jwt_bearer`` (RFC 7523 §2.1): ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with an assertion
signed by the client's private key: ``iss``, ``sub``, ``aud``, ``exp``, ``iat`` and a unique ``jti`` (§3).

Google service accounts (``sub`` only with domain-wide delegation; the scope is a claim) and Salesforce's
JWT bearer flow (``sub`` is the user name) are this strategy with options their plugins derive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ConfigError
from ..http import TokenRequest
from .assertion import new_jti, sign, signing_key
from .base import NO_CLIENT_AUTH, Exchange, MachineStrategy, no_secret_params

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class JWTBearerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str | None = Field(default=None, description="iss (default: the client id).")
    subject: str | None = Field(default=None, description="sub for every account (default: subject_field, else iss).")
    subject_field: str = Field(default="subject", description="Account data holding the account's sub, if given.")
    subject_required: bool = Field(default=False, description="Refuse an account without subject_field.")
    subject_default: Literal["issuer", "none"] = Field(
        default="issuer", description="Without a subject: sub = iss (RFC 7523 §3), or no sub (Google, no delegation).",
    )
    audience: str | None = Field(default=None, description="aud (default: the token endpoint).")
    scope: str | None = None
    scope_in: Literal["form", "claim", "none"] = Field(
        default="form", description="Where the scope goes: a request parameter, or a claim (Google)."
    )
    lifetime: float = Field(default=300.0, gt=0, le=3600, description="exp - iat, seconds.")
    alg: str = Field(default="RS256", description="The signature algorithm (RS256, ES256, ...).")
    claims: dict[str, str] = Field(default_factory=dict, description="More claims.")
    params: dict[str, str] = Field(default_factory=dict, description="More request parameters.")
    client_auth: bool = Field(
        default=False,
        description="Authenticate the client as well (its auth_method); off: the assertion is the only credential "
        "(RFC 7523 §2.1: client authentication is optional), nothing else is sent.",
    )

    check_no_secrets = field_validator("claims", "params")(no_secret_params)


class JWTBearer(MachineStrategy):
    name = "jwt_bearer"
    options_model = JWTBearerOptions

    def check(self, provider: Any, client: Any, account_data: Mapping[str, str]) -> None:
        super().check(provider, client, account_data)
        options: JWTBearerOptions = self.options(provider, client, account_data)
        if options.subject_required and not options.subject and not account_data.get(options.subject_field):
            raise ConfigError(f"strategy 'jwt_bearer' of provider {provider.name!r} needs account data "
                              f"{options.subject_field!r} (the assertion's subject)")
        signing_key(client)

    def claims(self, exchange: Exchange, options: JWTBearerOptions, token_url: str) -> dict[str, Any]:
        issuer = options.issuer or exchange.client.client_id
        subject = options.subject or exchange.account_data.get(options.subject_field)
        if subject is None and options.subject_default == "issuer":
            subject = issuer
        now = int(exchange.now)
        claims: dict[str, Any] = {"iss": issuer}
        if subject:
            claims["sub"] = subject
        claims.update({"aud": options.audience or token_url, "iat": now, "exp": now + int(options.lifetime),
                       "jti": new_jti()})
        if options.scope and options.scope_in == "claim":
            claims["scope"] = options.scope
        claims.update(options.claims)
        return claims

    def build_request(self, exchange: Exchange) -> TokenRequest:
        provider, client = exchange.provider, exchange.client
        options: JWTBearerOptions = self.options(provider, client, exchange.account_data)
        url = provider.token_endpoint(exchange.account_data)
        key = signing_key(client)
        assertion = sign(self.claims(exchange, options, url), key, alg=options.alg, headers=client.jwt_headers)
        params = {"grant_type": GRANT_TYPE, "assertion": assertion}
        if options.scope and options.scope_in == "form":
            params["scope"] = options.scope
        params.update(options.params)
        return TokenRequest(
            url=url,
            params=params,
            headers=dict(provider.headers),
            body_format=provider.body_format,
            auth_method=(client.auth_method or provider.auth_method) if options.client_auth else NO_CLIENT_AUTH,
        )
