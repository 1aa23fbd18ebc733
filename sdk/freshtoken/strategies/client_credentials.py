"""``client_credentials`` (RFC 6749 §4.4): the client authenticates as itself (its secret, or a private key
for ``private_key_jwt``) and asks for a token; nothing per account is secret."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..http import TokenRequest
from .base import Exchange, MachineStrategy, no_secret_params


class ClientCredentialsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: str | None = Field(default=None, description="The scope requested (Entra ID: '{resource}/.default').")
    params: dict[str, str] = Field(
        default_factory=dict, description="More request parameters (e.g. Auth0's audience, a resource)."
    )

    check_no_secrets = field_validator("params")(no_secret_params)


class ClientCredentials(MachineStrategy):
    name = "client_credentials"
    options_model = ClientCredentialsOptions

    def build_request(self, exchange: Exchange) -> TokenRequest:
        provider, client = exchange.provider, exchange.client
        options: ClientCredentialsOptions = self.options(provider, client, exchange.account_data)
        params = {"grant_type": "client_credentials"}
        if options.scope:
            params["scope"] = options.scope
        params.update(options.params)
        return TokenRequest(
            url=provider.token_endpoint(exchange.account_data),
            params=params,
            headers=dict(provider.headers),
            body_format=provider.body_format,
            auth_method=client.auth_method or provider.auth_method,
        )
