"""The connect flow: ``start`` gives the authorization URL, ``finish`` exchanges the code and registers the account.

:meth:`ConnectFlow.start` builds the authorization URL (PKCE S256, a one-time ``state``)
and remembers the connection; :meth:`ConnectFlow.finish` takes the provider's redirect (``code`` and ``state``,
or ``error``), exchanges the code at the token endpoint through the same :class:`~freshtoken.http.TokenHTTP` and
client authentication as a refresh, parses the answer with the provider's ``parse_response``, and registers the
account through the runtime's normal path (a :class:`~freshtoken.registration.Registration`: state saved first,
then the KV record, then the alarm).

A wrong, replayed or expired ``state``, a missing verifier, an error redirect (``access_denied``), a refused
exchange or an answer without a refresh token is a :class:`~.errors.ConnectError` naming what was wrong, with no
secret in it; nothing is registered. A state is used once: it is consumed by the first callback that names it,
whatever happens next.

Connecting a key whose account is ``reauth_required`` keeps the key and replaces the grant (the refresher emits
``freshtoken_account_recovered``); an ``active`` account is only replaced when the connection was started with
``replace``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from ..client import OAuthClient
from ..clock import Clock, SystemClock
from ..echo import echoed
from ..errors import (
    AccountExists,
    ConfigError,
    FreshtokenError,
    MalformedResponse,
    NotRegistered,
    ProviderMismatch,
    RefreshError,
    UnsafeEndpoint,
    redact,
)
from ..header_safe import refusal, unsendable
from ..http import TokenHTTP, TokenRequest
from ..keys import AccountKey
from ..provider import Provider
from ..registration import Registration
from .errors import ConnectError
from .pending import PendingConnection
from .pkce import new_pkce, new_state
from .state_store import StateStore

if TYPE_CHECKING:
    from ..embedded import EmbeddedRuntime

log = logging.getLogger("freshtoken.connect")

#: Seconds a started connection waits for its callback.
DEFAULT_STATE_TTL = 600.0
_ERROR_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,63}")


@dataclass(frozen=True)
class ConnectStart:
    """What :meth:`ConnectFlow.start` gives: the URL to send the user to, and until when it can be completed."""

    authorization_url: str
    expires_at: float
    redirect_uri: str
    key: str
    client: str


@dataclass(frozen=True)
class ConnectResult:
    """A completed connection: the account's public view (no secret), and whether it re-authorised an account
    that needed it (``recovered``) or replaced a working grant (``replaced``)."""

    key: str
    view: dict[str, Any] = field(default_factory=dict)
    recovered: bool = False
    replaced: bool = False

    @property
    def status(self) -> str:
        return str(self.view.get("status"))


class ConnectFlow:
    """Start and finish connections for the accounts of one host. See the module docstring."""

    def __init__(
        self,
        *,
        client: Callable[[str], OAuthClient],
        provider: Callable[[OAuthClient], Awaitable[Provider]],
        http: TokenHTTP,
        register: Callable[[str, Registration], Awaitable[dict[str, Any]]],
        status: Callable[[str], Awaitable[dict[str, Any]]],
        states: StateStore,
        clock: Clock | None = None,
        ttl: float = DEFAULT_STATE_TTL,
    ) -> None:
        if not ttl > 0:
            raise ConfigError(f"connect: the state lifetime must be a positive number of seconds, not {ttl!r}")
        self._client = client
        self._provider = provider
        self.http = http
        self._register = register
        self._status = status
        self.states = states
        self.clock = clock or SystemClock()
        self.ttl = float(ttl)

    @classmethod
    def for_runtime(cls, runtime: EmbeddedRuntime, states: StateStore, *, ttl: float = DEFAULT_STATE_TTL,
                    ) -> ConnectFlow:
        """A flow over an :class:`~freshtoken.embedded.EmbeddedRuntime`: its clients, providers (discovery
        included), HTTP client, clock and registration path."""
        return cls(client=runtime.shell.client, provider=runtime.shell.provider, http=runtime.http,
                   register=runtime.register, status=runtime.status, states=states, clock=runtime.clock, ttl=ttl)

    async def _existing_status(self, key: str) -> str | None:
        try:
            view = await self._status(key)
        except NotRegistered:
            return None
        return str(view.get("status"))

    # -- start --------------------------------------------------------------------------------------------------
    async def start(
        self,
        key: str,
        client_name: str,
        *,
        redirect_uri: str,
        scopes: Sequence[str] | None = None,
        account_data: Mapping[str, str] | None = None,
        replace: bool = False,
    ) -> ConnectStart:
        """The authorization URL for ``key`` with client ``client_name``; the connection is remembered (one-time,
        for :attr:`ttl` seconds) under the URL's ``state``."""
        ks = str(AccountKey.parse(key))
        client = self._client(client_name)
        _check_key_provider(ks, client)
        provider = await self._provider(client)
        data = provider.validate_account_data(dict(account_data or {}))
        status = await self._existing_status(ks)
        if status is not None and status != "reauth_required" and not replace:
            raise AccountExists(
                f"account {ks!r} is already registered (status {status}); connecting again would replace its "
                "working grant: pass replace (CLI: connect --replace; admin API: POST /connect?replace=true)"
            )
        endpoint = provider.authorization_endpoint(data)
        try:
            self.http.policy.check(endpoint)
        except UnsafeEndpoint as exc:
            raise ConfigError(f"provider {provider.name!r}: authorize_url refused by the endpoint policy: {exc}"
                              ) from None
        _check_redirect_uri(redirect_uri)
        pkce = new_pkce() if provider.pkce else None
        state = new_state()
        chosen = None if scopes is None else tuple(s for s in scopes if s)
        url = provider.build_authorize_url(
            client, data, redirect_uri=redirect_uri, state=state,
            code_challenge=pkce.challenge if pkce else None, scopes=chosen or None,
        )
        now = self.clock.now()
        pending = PendingConnection(
            state=state, key=ks, client=client.name, redirect_uri=redirect_uri, expires_at=now + self.ttl,
            verifier=pkce.verifier if pkce else None, scopes=chosen or None, account_data=data, replace=replace,
        )
        self.states.put(pending, now)
        return ConnectStart(url, pending.expires_at, redirect_uri, ks, client.name)

    # -- finish -------------------------------------------------------------------------------------------------
    async def finish(
        self,
        state: str | None,
        *,
        code: str | None = None,
        error: str | None = None,
        redirect_uri: str | None = None,
    ) -> ConnectResult:
        """Complete the connection started with ``state`` (see the module docstring). ``redirect_uri``, when
        given, must be the one the connection was started with (the callback knows its own address)."""
        if not state:
            raise ConnectError("invalid_state", "the callback carries no state: it was not started by this host")
        pending = self.states.take(state)
        if pending is None:
            raise ConnectError("invalid_state", "unknown or already used state: start the connection again")
        if redirect_uri is not None and redirect_uri != pending.redirect_uri:
            raise ConnectError("invalid_state", "the state was issued for another redirect URI")
        if self.clock.now() >= pending.expires_at:
            raise ConnectError("expired_state", f"the connection of {pending.key!r} expired before the callback "
                                                "(it must complete within the state's lifetime): start it again")
        if error:
            label = error if _ERROR_CODE.fullmatch(error) else None
            if label == "access_denied":
                raise ConnectError("access_denied", f"the authorization of {pending.key!r} was refused "
                                                    "(access_denied): nothing was registered")
            raise ConnectError(label or "authorization_error",
                               f"the provider answered the authorization of {pending.key!r} with an error"
                               f"{f' ({label})' if label else ''}: nothing was registered")
        if not code:
            raise ConnectError("missing_code", "the callback carries neither a code nor an error")
        client = self._client(pending.client)
        provider = await self._provider(client)
        if provider.pkce and not pending.verifier:
            raise ConnectError("missing_verifier", f"the connection of {pending.key!r} holds no PKCE verifier: "
                                                   "the code cannot be exchanged; start it again")
        secrets = [code, pending.state, *( [pending.verifier] if pending.verifier else []), *client.secret_values()]
        tokens = await self._exchange(provider, client, pending, code, secrets)
        if tokens.refresh_token is None:
            raise ConnectError(
                "no_refresh_token",
                f"provider {provider.name!r} granted {pending.key!r} no refresh token: ask for offline access "
                "(e.g. the scope offline_access, or the provider's offline parameter) and connect again",
            )
        before = await self._existing_status(pending.key)
        registration = Registration(
            client=client.name,
            refresh_token=tokens.refresh_token,
            access_token=tokens.access_token,
            expires_at=tokens.expires_at,
            token_type=tokens.token_type,
            scope=tokens.scope,
            refresh_token_expires_at=tokens.refresh_token_expires_at,
            account_data=dict(pending.account_data),
            replace=pending.replace,
        )
        try:
            view = await self._register(pending.key, registration)
        except AccountExists:
            await self._revoke_unused(provider, client, pending, tokens.refresh_token)
            raise ConnectError("account_exists", f"account {pending.key!r} was registered meanwhile and is active; "
                                                 "the new grant was not stored (and is revoked where the provider "
                                                 "can): connect with replace to replace the old one") from None
        return ConnectResult(key=pending.key, view=dict(view), recovered=before == "reauth_required",
                             replaced=before is not None and before != "reauth_required")

    async def _revoke_unused(self, provider: Provider, client: OAuthClient, pending: PendingConnection,
                             refresh_token: SecretStr) -> None:
        """A grant that was issued but not stored: revoke it (RFC 7009) where the provider has an endpoint for it,
        so that it does not live on at the provider unused. Best effort: a failure is logged, without the token."""
        try:
            url = provider.revocation_endpoint(pending.account_data)
            if not url:
                return
            request = TokenRequest(url=url, params={"token": refresh_token.get_secret_value(),
                                                    "token_type_hint": "refresh_token"},
                                   auth_method=client.auth_method or provider.auth_method)
            await self.http.send(request, client, timeout=provider.timeout)
        except FreshtokenError as exc:
            log.warning("%s: the unused new grant could not be revoked (%s)", pending.key, exc.__class__.__name__)

    async def _exchange(self, provider: Provider, client: OAuthClient, pending: PendingConnection, code: str,
                        secrets: list[str]) -> Any:
        try:
            request = provider.build_code_request(
                SecretStr(code), client, pending.account_data, redirect_uri=pending.redirect_uri,
                code_verifier=pending.verifier,
            )
            sent = self.clock.now()  # the lifetime counts from the request, as the refresher's does
            response = await self.http.send(request, client, timeout=provider.timeout)
            tokens = provider.parse_response(response, sent)
            field = echoed(tokens, client_secrets=client.secret_values(), client_id=client.client_id,
                           sent=[code, pending.verifier])
            if field is not None:
                raise MalformedResponse(f"the token answer carries the request's credentials back ({field})")
            if (field := unsendable(tokens)) is not None:
                raise MalformedResponse(refusal(field))
            return tokens
        except RefreshError as exc:
            detail = exc.summary(secrets, client_id=client.client_id)
            raise ConnectError("exchange_failed", f"the token endpoint refused the code of {pending.key!r}: "
                                                  f"{detail}; nothing was registered") from None
        except FreshtokenError as exc:
            text = redact(str(exc), secrets, client_id=client.client_id)
            raise ConnectError("exchange_failed", f"the code of {pending.key!r} could not be exchanged: {text}"
                               ) from None


def _check_key_provider(key: str, client: OAuthClient) -> None:
    """The refresher's rule, checked before the user is sent anywhere."""
    part = AccountKey.parse(key).provider
    if client.provider_mismatch_ok or part in (client.provider, client.name):
        return
    raise ProviderMismatch(
        f"account key {key!r}: its provider part {part!r} names neither the provider of client {client.name!r} "
        f"({client.provider!r}) nor the client; use a key '{{tenant}}:{client.provider}:{{account_id}}'"
    )


def _check_redirect_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment or parts.username:
        raise ConfigError(f"connect: the redirect URI {uri[:200]!r} must be an absolute http(s) URL without "
                          "a fragment or user info")
