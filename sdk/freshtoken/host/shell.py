"""The host shell: what every runtime (embedded, Durable Object, Temporal activity) wraps around the refresher.

* :meth:`HostShell.client`: the account's OAuth client by name, one message for an unknown one;
* :meth:`HostShell.provider` / :meth:`HostShell.static_provider`: the client's provider (options applied,
  endpoints checked against the endpoint policy, issuer discovery once; :class:`ClientProviders`);
* :meth:`HostShell.refresher`: a :class:`~freshtoken.refresher.Refresher` whose KV key carries the runtime's
  ``kv_prefix`` and whose refresh time keeps ``kv_margin`` (seconds a new token must be in KV before expiry; by
  default the KV's own ``propagation_margin``: 60 s for Workers KV, 0 for memory, SQLite and Redis);
* :func:`rearm_after_error`: the one policy after an unexpected error outside the refresher's own handling;
* :func:`public_view`: the one public view of an account (no secret) with its alarm.

The re-arm policy (every runtime): log the error (a :class:`~freshtoken.errors.FreshtokenError`'s redacted text,
otherwise its class only: the text of an unexpected error may quote a decrypted value), set the account's alarm
``error_backoff`` seconds ahead with ±50 % jitter, and, when it is a configuration error (e.g. the account's
client is no longer configured), record it on the account (``last_error``, ``last_error_kind = "config"``) so that
status and the admin API show why the account does not refresh. A fixed interval, not the provider's backoff:
the cause is outside the provider, so its retry policy says nothing about it; the interval bounds the load a bug
can cause (never faster than ``error_backoff / 2``) and how long a fixed configuration waits to heal (at most
``1.5 * error_backoff``); the jitter spreads a fleet-wide configuration error.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping
from typing import Any

from ..client import OAuthClient
from ..clock import Clock
from ..egress.endpoint_policy import EndpointPolicy
from ..errors import ConfigError, FreshtokenError, redact
from ..http import TokenHTTP
from ..keys import AccountKey
from ..kv import propagation_margin
from ..outcome import Outcome, OutcomeKind
from ..plugins import Plugins
from ..provider import Provider
from ..refresher import Refresher
from ..state import AccountState
from ..storage import AccountStorage
from .providers import ClientProviders

log = logging.getLogger("freshtoken.host.shell")

#: Seconds (±50 % jitter) before an account's alarm runs again after an unexpected error.
DEFAULT_ERROR_BACKOFF = 60.0


class HostShell:
    """Client and provider lookup and refresher construction, shared by every runtime (see the module docstring).

    ``clients`` may be replaced later (``shell.clients = {...}``): lookups read it each time.
    """

    def __init__(
        self,
        *,
        clients: Mapping[str, OAuthClient],
        plugins: Plugins,
        http: TokenHTTP,
        kv: Any,
        kv_prefix: str = "",
        kv_margin: float | None = None,
        error_backoff: float = DEFAULT_ERROR_BACKOFF,
        policy: EndpointPolicy | None = None,
    ) -> None:
        if not isinstance(kv_prefix, str):
            raise ConfigError(f"kv_prefix must be a string, not {type(kv_prefix).__name__}")
        if kv_margin is None:  # the KV's own: 60 s for Workers KV, 0 where a write is visible at once
            kv_margin = propagation_margin(kv)
        if not (isinstance(kv_margin, int | float) and kv_margin >= 0):
            raise ConfigError(f"kv_margin must be a number of seconds >= 0, not {kv_margin!r}")
        if not (isinstance(error_backoff, int | float) and error_backoff > 0):
            raise ConfigError(f"error_backoff must be a number of seconds > 0, not {error_backoff!r}")
        self.clients: dict[str, OAuthClient] = dict(clients)
        self.plugins = plugins
        self.http = http
        self.kv = kv
        self.kv_prefix = kv_prefix
        self.kv_margin = float(kv_margin)
        self.error_backoff = float(error_backoff)
        self.providers = ClientProviders(plugins, policy=policy if policy is not None else http.policy)

    # -- lookup ---------------------------------------------------------------------------------------------
    def client(self, name: str | None) -> OAuthClient:
        """The client called ``name``; a :class:`ConfigError` naming the configured ones otherwise."""
        return lookup_client(self.clients, name)

    def static_provider(self, client: OAuthClient) -> Provider:
        """The provider of ``client`` without discovery (see :meth:`ClientProviders.static`)."""
        return self.providers.static(client)

    async def provider(self, client: OAuthClient) -> Provider:
        """The provider of ``client``: options applied, endpoints checked, discovery once (cached)."""
        return await self.providers.get(client)

    def check_providers(self) -> None:
        """Start-up check: every configured client's provider is known and its options valid."""
        for client in self.clients.values():
            self.static_provider(client)

    def secrets(self) -> list[str]:
        """Every configured client's secrets (for redaction)."""
        return [s for c in self.clients.values() for s in c.secret_values()]

    # -- the refresher --------------------------------------------------------------------------------------
    def kv_key(self, key: AccountKey | str) -> str:
        """The KV key of an account: the runtime's prefix and the account key."""
        return f"{self.kv_prefix}{key}"

    def refresher(
        self,
        key: AccountKey | str,
        *,
        client: OAuthClient,
        provider: Provider,
        storage: AccountStorage,
        clock: Clock,
        rng: random.Random,
        kv: Any = None,
    ) -> Refresher:
        """The refresher of ``key`` over ``storage``, writing ``kv_key(key)`` with this shell's margin."""
        return Refresher(
            key, storage=storage, kv=self.kv if kv is None else kv, provider=provider, client=client,
            http=self.http, clock=clock, plugins=self.plugins, rng=rng, kv_key=self.kv_key(key),
            kv_margin=self.kv_margin,
        )

    # -- after an unexpected error ----------------------------------------------------------------------------
    def error_delay(self, rng: random.Random) -> float:
        """Seconds until the alarm after an unexpected error: ``error_backoff`` with ±50 % jitter."""
        return self.error_backoff * rng.uniform(0.5, 1.5)

    async def rearm_after_error(
        self, key: str, exc: BaseException, *, storage: AccountStorage, clock: Clock, rng: random.Random
    ) -> Outcome:
        """See :func:`rearm_after_error`."""
        return await rearm_after_error(
            key, exc, storage=storage, clock=clock, delay=self.error_delay(rng), secrets=self.secrets()
        )


def lookup_client(clients: Mapping[str, OAuthClient], name: str | None) -> OAuthClient:
    """``clients[name]``, or the one "unknown client" :class:`ConfigError` every runtime raises."""
    client = clients.get(name or "")
    if client is None:
        known = ", ".join(sorted(clients)) or "none"
        raise ConfigError(f"unknown client {name!r}; configured clients: {known}")
    return client


def describe_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """A loggable text of an unexpected error: a :class:`FreshtokenError`'s class and redacted message, any other
    error's class only (its text may quote a decrypted value)."""
    if isinstance(exc, FreshtokenError):
        return f"{exc.__class__.__name__}: {redact(str(exc), list(secrets))}"
    return exc.__class__.__name__


def records_on_account(exc: BaseException) -> bool:
    """Whether an unexpected error is recorded on the account: a configuration error that is not a key problem
    (a state that does not decrypt cannot be saved back either)."""
    from ..embedded.crypto import DecryptionError

    return isinstance(exc, ConfigError) and not isinstance(exc, DecryptionError)


async def rearm_after_error(
    key: str,
    exc: BaseException,
    *,
    storage: AccountStorage,
    clock: Clock,
    delay: float,
    secrets: Iterable[str] = (),
) -> Outcome:
    """The one policy after an unexpected error around an account's alarm (module docstring): log, re-arm the
    alarm ``delay`` seconds ahead, record a configuration error on the account. Returns an
    :attr:`OutcomeKind.ERROR_REARMED` outcome. If even the re-arm fails, that exception propagates (the caller
    decides: the lease expires on embedded, workerd retries the alarm, Temporal re-runs the activity)."""
    text = describe_error(exc, secrets)
    retry_at = clock.now() + delay
    log.error("%s: alarm failed (%s); retrying in %.0fs", key, text, delay)
    await storage.set_alarm(retry_at)
    if records_on_account(exc):
        try:
            state = await storage.load()
            if state is not None:
                record_runtime_error(state, text)
                await storage.save(state)
        except Exception as exc2:
            log.error("%s: could not record the failure (%s)", key, exc2.__class__.__name__)
    return Outcome(OutcomeKind.ERROR_REARMED, next_alarm=retry_at, error=exc.__class__.__name__)


def record_runtime_error(state: AccountState, text: str) -> None:
    """Record an error of the host (not of the provider) on the account."""
    state.last_error = redact(f"runtime: {text}")
    state.last_error_kind = "config"


def public_view(state: AccountState, alarm_at: float | None, **extra: Any) -> dict[str, Any]:
    """The one public view of an account: its state without any secret (:meth:`AccountState.public`), its alarm,
    and what the runtime adds (lease, in-flight...)."""
    view = state.public()
    view["alarm_at"] = alarm_at
    view.update(extra)
    return view
