"""Figma: the code is exchanged at ``/v1/oauth/token``, while refreshes go to a separate endpoint,
``https://api.figma.com/v1/oauth/refresh`` (``token_url``, what the refresher uses; ``code_url`` is the
exchange's). Figma's refresh answers with a new access token and its ``expires_in``, no new refresh token:
the stored refresh token is kept (RFC 6749 §6).

Connecting: the authorization endpoint is ``https://www.figma.com/oauth``, as Figma's own OpenAPI description
of the REST API declares it (github.com/figma/rest-api-spec, ``securitySchemes.OAuth2``); the scopes are the
operator's (``--scope``), none is requested by default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pydantic import Field, SecretStr, model_validator

from freshtoken import AuthMethod, OAuthClient, Provider, ProviderRegistrar, TokenRequest, hookimpl
from freshtoken.egress.endpoint_policy import BASELINE_POLICY


class FigmaProvider(Provider):
    name = "figma"

    token_url: str = "https://api.figma.com/v1/oauth/refresh"
    authorize_url: str = "https://www.figma.com/oauth"
    code_url: str = Field(
        default="https://api.figma.com/v1/oauth/token", description="Where an authorization code is exchanged."
    )
    auth_method: AuthMethod = "client_secret_post"

    @model_validator(mode="after")
    def _code_url_policy(self) -> FigmaProvider:
        BASELINE_POLICY.check_template(self.code_url, what="code_url")
        return self

    def build_code_request(
        self,
        code: SecretStr,
        client: OAuthClient,
        account_data: Mapping[str, str],
        *,
        redirect_uri: str,
        code_verifier: str | None,
    ) -> TokenRequest:
        request = super().build_code_request(
            code, client, account_data, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        return dataclasses.replace(request, url=self._fill(self.code_url, account_data))


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(FigmaProvider)
