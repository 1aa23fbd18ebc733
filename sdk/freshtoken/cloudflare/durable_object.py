"""The refresher Durable Object: one object per account, named by the account key.

It hosts the core :class:`~freshtoken.refresher.Refresher` over the object's own storage (state and the
one alarm) and a Workers KV binding. Subclass it in a Worker (``class TokenRefresher(RefresherObject)``)
and bind it; configuration comes from ``env``:

``FRESHTOKEN_CLIENTS`` (var, JSON)
    ``{"<client name>": {"provider": "generic", "client_id": "...", "auth_method": "...",
    "provider_options": {"token_url": "..."}}}`` — the OAuth clients accounts refresh with.
``FRESHTOKEN_CLIENT_SECRET_<NAME>`` (secret)
    Each client's secret (``<NAME>``: the client name upper-cased, non-alphanumerics as ``_``), or the
    binding named by the client's ``client_secret_env``; ``private_key_env`` likewise for a private key.
``FRESHTOKEN_ADMIN_TOKEN`` (secret)
    The admin bearer token (see :mod:`freshtoken.cloudflare.admin`).
``FRESHTOKEN_KV_PREFIX`` (var, optional)
    Prepended to the account key in KV, as ``[kv] prefix`` on the other runtimes (a gateway reads the same key).
``FRESHTOKEN_KV_MARGIN`` (var, optional, seconds; default 60)
    How long before expiry a new token must be in KV (Workers KV takes up to 60 s to propagate).
``FRESHTOKEN_ERROR_BACKOFF`` (var, optional, seconds; default 60)
    After an unexpected alarm failure, the alarm runs again this long later (±50 % jitter).

``alarm()`` never lets a failure escape to workerd's six retries: refresh failures are scheduled by the
refresher under the provider's retry policy, and anything unexpected (a bug, a storage hiccup, a client
removed from the configuration) is caught and the alarm re-armed by the host shell's one policy
(:func:`freshtoken.host.shell.rearm_after_error`: ``FRESHTOKEN_ERROR_BACKOFF`` with jitter, a configuration error
recorded on the account), as on every runtime. Only when even
re-arming fails does the exception reach workerd, whose retry is then the last resort. A retried or
duplicate alarm (``alarmInfo.retryCount``) is harmless: while the stored token is fresh, the refresher
rewrites KV from state and re-arms without calling the provider.

Events for one object are serialised by a lock: workerd delivers another event to the object whenever a
handler awaits I/O (the token request), and the refresher's contract is that calls never overlap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from typing import Any

from ..client import OAuthClient
from ..clock import Clock, SystemClock
from ..errors import (
    ConfigError,
    FreshtokenError,
    InvalidAccountKey,
    NotRegistered,
)
from ..host.shell import DEFAULT_ERROR_BACKOFF, HostShell, rearm_after_error
from ..http import TokenHTTP
from ..keys import AccountKey
from ..kv.workers_binding import BindingKV
from ..kv.workers_limits import WriteGate
from ..lead import KV_PROPAGATION_MARGIN
from ..outcome import Outcome, OutcomeKind
from ..plugins import Plugins
from ..provider import Provider
from ..refresher import Refresher
from ..registration import SECRET_REGISTRATION_FIELDS, Registration
from ..storage import SecretCodec
from . import admin, values
from ._workers import DurableObject, json_response
from .fetch_http import FetchTokenHTTP, js_fetch
from .storage import DurableObjectStorage

log = logging.getLogger("freshtoken.cloudflare")

CLIENTS_VAR = "FRESHTOKEN_CLIENTS"
KV_PREFIX_VAR = "FRESHTOKEN_KV_PREFIX"
KV_MARGIN_VAR = "FRESHTOKEN_KV_MARGIN"
ERROR_BACKOFF_VAR = "FRESHTOKEN_ERROR_BACKOFF"
#: Consecutive unexpected alarm failures (not refresh failures: those live in the account state).
CRASHES_KEY = "freshtoken:alarm_errors"

#: The register route's body: a Registration, whose ``replace`` is the query parameter ``?replace=true``.
_REGISTER_FIELDS = Registration.field_names() - {"replace"}


def secret_var(client_name: str) -> str:
    return "FRESHTOKEN_CLIENT_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", client_name).upper()


def clients_from_env(env: Any, var: str = CLIENTS_VAR) -> dict[str, OAuthClient]:
    """The OAuth clients configured in ``env`` (JSON var + one secret per client)."""
    raw = values.get_attr(env, var)
    if raw is None:
        return {}
    try:
        config = json.loads(raw) if isinstance(raw, str) else values.to_py(raw)
    except ValueError:
        raise ConfigError(f"{var} is not valid JSON") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{var} must be a JSON object of client name → client")
    clients: dict[str, OAuthClient] = {}
    for name, spec in config.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{var}: client {name!r} must be an object")
        spec = dict(spec)
        secret_env = spec.pop("client_secret_env", None) or secret_var(name)
        key_env = spec.pop("private_key_env", None)
        if "client_secret" in spec or "private_key" in spec:
            raise ConfigError(f"{var}: client {name!r}: secrets belong in Worker secrets, not in a var")
        secret = values.get_attr(env, secret_env)
        private_key = values.get_attr(env, key_env) if key_env else None
        try:
            clients[name] = OAuthClient(
                name=name, client_secret=secret if isinstance(secret, str) else None,
                private_key=private_key if isinstance(private_key, str) else None, **spec,
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{var}: client {name!r} is invalid ({exc.__class__.__name__})") from None
    return clients


class RefresherObject(DurableObject):  # type: ignore[misc]
    """The per-account refresher Durable Object. Override the ``make_*`` methods to change the parts."""

    #: Name of the KV binding the records are written to.
    kv_binding: str = "TOKENS"
    #: Name of the env var holding the clients' JSON.
    clients_var: str = CLIENTS_VAR
    #: Name of the admin bearer secret.
    admin_token_var: str = admin.ADMIN_TOKEN_VAR
    #: Admin path prefix (the gateway forwards these paths unchanged).
    admin_prefix: str = admin.PREFIX
    #: Provider plugins (modules or objects with ``freshtoken_register_providers``) registered by hand;
    #: entry points are not scanned in a Worker unless ``load_entry_points`` is set.
    provider_plugins: tuple[Any, ...] = ()
    load_entry_points: bool = False
    #: Names of the optional vars of the host shell (see the module docstring).
    kv_prefix_var: str = KV_PREFIX_VAR
    kv_margin_var: str = KV_MARGIN_VAR
    error_backoff_var: str = ERROR_BACKOFF_VAR

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.ctx = ctx
        self.env = env
        self._lock = asyncio.Lock()
        self._http: TokenHTTP | None = None
        self._plugins: Plugins | None = None
        self._clients: dict[str, OAuthClient] | None = None
        self._shell: HostShell | None = None
        self.kv_gate = WriteGate()
        self.last_outcome: Outcome | None = None

    # -- parts (override in a subclass or a test) -------------------------------------------------------
    def make_clock(self) -> Clock:
        return SystemClock()

    def make_http(self) -> TokenHTTP:
        """The runtime's ``fetch()`` in a Worker; httpx elsewhere."""
        fetch = js_fetch()
        return FetchTokenHTTP(fetch) if fetch is not None else TokenHTTP()

    def make_rng(self) -> random.Random:
        return random.Random()

    def make_codec(self) -> SecretCodec | None:
        return None

    def make_plugins(self) -> Plugins:
        from ..providers import generic

        plugins = Plugins(entry_points=self.load_entry_points)
        if not plugins.has_plugin("generic"):
            plugins.register(generic, name="generic")
        for plugin in self.provider_plugins:
            plugins.register(plugin)
        return plugins

    # -- wiring ----------------------------------------------------------------------------------------
    @property
    def plugins(self) -> Plugins:
        if self._plugins is None:
            self._plugins = self.make_plugins()
        return self._plugins

    @property
    def http(self) -> TokenHTTP:
        if self._http is None:
            self._http = self.make_http()
        return self._http

    def clients(self) -> dict[str, OAuthClient]:
        if self._clients is None:
            self._clients = clients_from_env(self.env, self.clients_var)
        return self._clients

    @property
    def shell(self) -> HostShell:
        """The host shell (client and provider lookup, the KV prefix and margin, the re-arm policy), from env."""
        if self._shell is None:
            self._shell = HostShell(
                clients=self.clients(), plugins=self.plugins, http=self.http, kv=None,
                kv_prefix=self._var(self.kv_prefix_var, str, ""),
                kv_margin=self._var(self.kv_margin_var, float, KV_PROPAGATION_MARGIN),
                error_backoff=self._var(self.error_backoff_var, float, DEFAULT_ERROR_BACKOFF),
            )
        return self._shell

    def _var(self, name: str, kind: type[Any], default: Any) -> Any:
        raw = values.get_attr(self.env, name)
        if raw is None or raw == "":
            return default
        try:
            return kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a {kind.__name__}, not {raw!r}") from None

    def client(self, name: str) -> OAuthClient:
        return self.shell.client(name)

    def provider(self, client: OAuthClient) -> Provider:
        """The client's provider, options applied and endpoints checked (no discovery in a Worker)."""
        return self.shell.static_provider(client)

    def account_storage(self) -> DurableObjectStorage:
        return DurableObjectStorage(self.ctx.storage, codec=self.make_codec())

    def kv(self) -> BindingKV:
        return BindingKV(getattr(self.env, self.kv_binding), gate=self.kv_gate)

    def refresher(self, key: str, client_name: str) -> Refresher:
        client = self.client(client_name)
        return self.shell.refresher(
            key, client=client, provider=self.provider(client), storage=self.account_storage(),
            clock=self.make_clock(), rng=self.make_rng(), kv=self.kv(),
        )

    # -- the alarm -------------------------------------------------------------------------------------
    async def alarm(self, alarm_info: Any = None) -> None:
        info = values.alarm_info(alarm_info)
        async with self._lock:
            await self._alarm(info)

    async def _alarm(self, info: values.AlarmInfo) -> None:
        storage = self.account_storage()
        key = "(state not loaded)"
        try:
            state = await storage.load()
            if state is None:
                await storage.delete_alarm()
                self.last_outcome = Outcome(OutcomeKind.ABSENT)
                return
            key = state.key
            refresher = self.refresher(state.key, state.client)
            outcome = await refresher.alarm()
            self.last_outcome = outcome
            if info.is_retry:
                log.info("%s: alarm retry %d handled: %s", state.key, info.retry_count, outcome.kind)
            if values.to_py(await self.ctx.storage.get(CRASHES_KEY)) is not None:
                await self.ctx.storage.delete(CRASHES_KEY)
        except Exception as exc:
            await self._rearm_after_error(key, exc)

    async def _rearm_after_error(self, key: str, exc: Exception) -> None:
        """The host shell's one re-arm policy; the consecutive failures are counted in ``CRASHES_KEY``."""
        try:
            crashes = int(values.to_py(await self.ctx.storage.get(CRASHES_KEY)) or 0) + 1
            await self.ctx.storage.put(CRASHES_KEY, crashes)
            shell = self.shell
            outcome = await rearm_after_error(
                key, exc, storage=self.account_storage(), clock=self.make_clock(),
                delay=shell.error_delay(self.make_rng()), secrets=shell.secrets(),
            )
        except Exception:
            log.error("alarm failed (%s) and could not be re-armed: leaving it to the runtime's retry",
                      exc.__class__.__name__)
            raise exc from None
        self.last_outcome = outcome
        log.error("alarm failure %d re-armed (%s)", crashes, exc.__class__.__name__)

    # -- the admin surface -----------------------------------------------------------------------------
    async def fetch(self, request: Any) -> Any:
        denied = admin.authorize(request, self.env, self.admin_token_var)
        if denied is not None:
            return denied
        route = admin.parse(request.method, request.url, self.admin_prefix)
        if route is None:
            return json_response({"error": "not_found"}, 404)
        try:
            AccountKey.parse(route.key)
        except InvalidAccountKey as exc:
            return json_response({"error": "invalid_key", "detail": str(exc)}, 400)
        body: Any = None
        if route.action == "register":
            try:
                body = json.loads(await request.text() or "null")
            except (ValueError, RecursionError):
                return json_response({"error": "invalid_json"}, 400)
        async with self._lock:
            try:
                return await self._admin(route, body)
            except FreshtokenError as exc:
                return admin.error_reply(exc, route.key, self._known_secrets(body))

    def _known_secrets(self, body: Any) -> list[str | None]:
        """What an error reply must never quote: the request's secrets, the clients' secrets, the admin token."""
        given = [body.get(name) for name in SECRET_REGISTRATION_FIELDS] if isinstance(body, dict) else []
        try:
            clients = [c.client_secret.get_secret_value() for c in self.clients().values() if c.client_secret]
        except ConfigError:  # the clients' configuration is what failed: nothing of it to add
            clients = []
        return [*(g for g in given if isinstance(g, str)), *clients, admin.admin_token(self.env, self.admin_token_var)]

    async def _admin(self, route: admin.Route, body: Any) -> Any:
        storage = self.account_storage()
        state = await storage.load()
        if state is not None and state.key != route.key:
            return json_response({"error": "key_mismatch", "detail": "this object belongs to another account"}, 409)
        if route.action == "register":
            replace = route.query.get("replace", ["false"])[-1].lower()
            if replace not in ("true", "1", "yes", "false", "0", "no"):
                return json_response({"error": "invalid_request", "detail": "replace must be true or false"}, 400)
            return await self._register(route.key, body, replace=replace in ("true", "1", "yes"))
        if state is None:
            if route.action == "remove":
                # Nothing registered here: still make sure nothing is left behind.
                await storage.delete_alarm()
                await self.kv().delete(self.shell.kv_key(route.key))
                return json_response({"removed": False, "key": route.key})
            raise NotRegistered(route.key)
        if route.action == "remove":
            revoke = route.query.get("revoke", ["true"])[-1].lower() not in ("0", "false", "no")
            try:
                refresher = self.refresher(state.key, state.client)
            except ConfigError:
                # The client is gone from the configuration: remove without revoking.
                await storage.delete_alarm()
                await self.kv().delete(self.shell.kv_key(route.key))
                await storage.delete()
                removed = True
            else:
                removed = await refresher.remove(revoke=revoke)
            await self.ctx.storage.delete(CRASHES_KEY)
            return json_response({"removed": removed, "key": route.key})
        refresher = self.refresher(state.key, state.client)
        if route.action == "status":
            return json_response(await refresher.status())
        outcome = await refresher.refresh_now()
        self.last_outcome = outcome
        return json_response(outcome.to_dict())

    async def _register(self, key: str, body: Any, *, replace: bool = False) -> Any:
        if not isinstance(body, dict):
            return json_response({"error": "invalid_request", "detail": "body must be a JSON object"}, 400)
        unknown = sorted(set(body) - _REGISTER_FIELDS)
        if unknown:
            return json_response({"error": "invalid_request", "detail": f"unknown fields: {unknown}"}, 400)
        registration = Registration.from_payload({**body, "replace": replace})  # InvalidRegistration: a 400
        refresher = self.refresher(key, registration.client)
        await refresher.register(registration)
        await self.ctx.storage.delete(CRASHES_KEY)
        return json_response(await refresher.status(), 201)

