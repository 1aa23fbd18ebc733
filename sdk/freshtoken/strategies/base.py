"""The strategy contract: build the token request, send it, read the answer; and what a machine strategy
changes (no refresh token kept, a refused credential is ``misconfigured``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, SecretStr, ValidationError

from ..client import OAuthClient
from ..errors import ConfigError, Misconfigured, ReauthRequired, UnsafeEndpoint
from ..http import USER_AGENT, TokenHTTP, TokenRequest, TokenResponse
from ..provider import Provider
from ..secret_fields import secret_field_names
from ..tokens import TokenSet

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Exchange:
    """One exchange: who asks (client, provider), for which account, with which grant, at which time."""

    provider: Provider
    client: OAuthClient
    account_data: Mapping[str, str]
    now: float
    #: The grant, for strategies that use one (``refresh_token``); None for machine strategies.
    refresh_token: SecretStr | None = None


#: ``TokenRequest.auth_method`` of a request that carries its own credential: no client authentication added.
NO_CLIENT_AUTH = "no_client_auth"


async def send_without_client_auth(http: TokenHTTP, request: TokenRequest, *, timeout: float) -> TokenResponse:
    """POST ``request`` as it is (form or JSON body), through the endpoint policy, the deadline and the size limit
    of :class:`TokenHTTP`, without adding client authentication."""
    try:
        http.policy.check(request.url)
    except UnsafeEndpoint as exc:
        raise Misconfigured(f"endpoint refused by the endpoint policy: {exc}", error="unsafe_endpoint") from None
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **request.headers}
    if request.body_format == "json":
        body = json.dumps(request.params).encode()
        headers["Content-Type"] = "application/json"
    else:
        body = urlencode(request.params).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        return await http.post(request.url, headers, body, timeout=timeout)
    except UnsafeEndpoint as exc:  # the address the host name resolved to
        raise Misconfigured(f"endpoint refused by the endpoint policy: {exc}", error="unsafe_endpoint") from None


class Strategy:
    """How an account gets its next token. Stateless: one instance serves every account."""

    #: Registry name (``Registration.strategy``, ``Provider.strategies``).
    name: ClassVar[str] = ""
    #: The account holds a refresh token (a user grant); False: the credential is the client's.
    uses_refresh_token: ClassVar[bool] = False
    #: Account data this strategy needs (name → description), checked at registration.
    account_fields: ClassVar[Mapping[str, str]] = {}

    def check(self, provider: Provider, client: OAuthClient, account_data: Mapping[str, str]) -> None:
        """Refuse (:class:`ConfigError`, naming the problem) an account this strategy cannot serve."""
        missing = [f for f in self.account_fields if not account_data.get(f)]
        if missing:
            wanted = "; ".join(f"{f}: {self.account_fields[f]}" for f in missing)
            raise ConfigError(f"strategy {self.name!r} needs account data {wanted}")

    def build_request(self, exchange: Exchange) -> TokenRequest:
        raise NotImplementedError

    async def send(
        self, http: TokenHTTP, request: TokenRequest, client: OAuthClient, *, timeout: float
    ) -> TokenResponse:
        """Send the request (the endpoint policy, client authentication and limits of :class:`TokenHTTP`);
        ``auth_method`` :data:`NO_CLIENT_AUTH`: the request's own credential only (an assertion, a Bearer JWT)."""
        if request.auth_method == NO_CLIENT_AUTH:
            return await send_without_client_auth(http, request, timeout=timeout)
        return await http.send(request, client, timeout=timeout)

    def parse_response(self, exchange: Exchange, response: TokenResponse, now: float) -> TokenSet:
        return exchange.provider.parse_response(response, now)


def no_secret_params(value: dict[str, str]) -> dict[str, str]:
    """A validator for option fields sent as request parameters or claims: options are plain configuration, so a
    secret-looking name (``client_secret``, ``assertion``, ``password``...) is refused: it belongs in the client's
    ``client_secret`` or ``private_key`` (a secret: resolved from the environment, redacted, encrypted in transit)."""
    refused = secret_field_names(value)
    if refused:
        raise ValueError(f"{', '.join(map(repr, refused))}: a secret is not an option; set the client's "
                         "client_secret or private_key (a secret reference) instead")
    return value


class MachineStrategy(Strategy):
    """A strategy whose credential is the client's own: nothing per-account is secret.

    The answer's refresh token (if a server sends one anyway) is dropped; ``invalid_grant`` — a refused
    assertion or credential — is the client's configuration, not a user's grant: ``misconfigured``.
    """

    uses_refresh_token = False
    #: The options model (``Provider.options_for(name, ...)`` validated against it).
    options_model: ClassVar[type[BaseModel]]

    def options(self, provider: Provider, client: OAuthClient, account_data: Mapping[str, str]) -> Any:
        return self._validate(self.options_model, provider.options_for(self.name, client, account_data), client)

    def _validate(self, model: type[M], data: Mapping[str, Any], client: OAuthClient) -> M:
        try:
            return model.model_validate(dict(data))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(options)'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )
            raise ConfigError(
                f"client {client.name!r}: strategy_options.{self.name}: {problems}"
            ) from None

    def check(self, provider: Provider, client: OAuthClient, account_data: Mapping[str, str]) -> None:
        super().check(provider, client, account_data)
        self.options(provider, client, account_data)

    def parse_response(self, exchange: Exchange, response: TokenResponse, now: float) -> TokenSet:
        try:
            tokens = super().parse_response(exchange, response, now)
        except ReauthRequired as exc:
            raise Misconfigured(
                f"{exchange.provider.name}: the {self.name} credential was refused (the grant is the client's own: "
                "fix the client's configuration; there is no user to re-authorise)",
                error=exc.error, description=exc.description, status=exc.status,
            ) from None
        return tokens.model_copy(update={"refresh_token": None, "refresh_token_expires_at": None})
