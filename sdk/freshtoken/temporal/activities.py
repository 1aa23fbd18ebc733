"""The activity: one account operation (alarm, register, refresh now, remove) run by the core refresher.

The workflow hands the activity the account's latest durable state. The refresher runs over an
:class:`ActivityStorage`:

* ``save`` of a state holding a refresh token the workflow does not have yet (a rotation) is *durable before
  it returns*: a ``_persist`` signal to the account's workflow, acknowledged by the server once it is in the
  history. The refresher saves a rotated token before it writes KV, so a worker that dies after the token
  endpoint answered never loses the new refresh token; the operation re-runs elsewhere from it (and, the token
  being fresh, only rewrites KV). Other saves (the in-flight marker, a failure count, a registration whose
  token is already in the workflow's input) are returned with the result: a crash loses only them, which is
  the "old state" the storage contract allows.
* ``set_alarm`` / ``delete_alarm`` are returned with the result; the workflow arms its timer from them.

The clock never runs behind the workflow's time (the time-skipping test server runs hours ahead of the wall
clock); in production workflow time is in the past and the wall clock wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..client import OAuthClient
from ..egress.endpoint_policy import EndpointPolicy
from ..errors import ConfigError, FreshtokenError, NotRegistered, redact
from ..host.shell import DEFAULT_ERROR_BACKOFF, HostShell, public_view
from ..http import TokenHTTP
from ..keys import AccountKey
from ..outcome import OutcomeKind
from ..plugins import Plugins, default_plugins
from ..provider import Provider
from ..registration import SECRET_REGISTRATION_FIELDS, Registration
from ..state import AccountState
from ..storage import PlaintextCodec
from .shared import (
    ACTIVITY_NAME,
    OP_ALARM,
    OP_REFRESH_NOW,
    OP_REGISTER,
    OP_REMOVE,
    SIGNAL_PERSIST,
    OpInput,
    OpResult,
    Persist,
)

log = logging.getLogger("freshtoken.temporal")
_PLAIN = PlaintextCodec()  # inside payloads only: the payload codec encrypts them


class WorkflowClock:
    """Wall-clock time, never behind the workflow's time when the activity was scheduled."""

    def __init__(self, workflow_now: float) -> None:
        self._base = workflow_now
        self._start = time.monotonic()

    def now(self) -> float:
        return max(time.time(), self._base + (time.monotonic() - self._start))

    async def sleep_until(self, when: float) -> None:
        delay = when - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


class ActivityStorage:
    """The :class:`~freshtoken.storage.AccountStorage` of one activity attempt (see the module docstring)."""

    def __init__(self, inp: OpInput, persist: Any) -> None:
        self._state = inp.state
        self._alarm = inp.alarm_at
        # refresh tokens already durable in the workflow (its state, or the registration it is running): saving
        # a state that holds one of them needs no durable write; a token the provider just issued does
        self._durable: set[str] = {t for t in _secrets_of(inp.state) if t}
        if inp.op.register is not None and inp.op.register.get("refresh_token"):
            self._durable.add(inp.op.register["refresh_token"])
        self._persist = persist
        self.deleted = False
        self.persists = 0

    async def load(self) -> AccountState | None:
        return None if self._state is None else AccountState.load(self._state, _PLAIN)

    async def save(self, state: AccountState) -> None:
        text = state.dump(_PLAIN)
        token = state.refresh_token.get_secret_value() if state.refresh_token is not None else None
        if token is not None and token not in self._durable:
            await self._persist(text, self._alarm)  # durable before the refresher goes on (KV write)
            self._durable.add(token)
            self.persists += 1
        self._state = text
        self.deleted = False

    async def delete(self) -> None:
        self._state = None
        self._alarm = None
        self.deleted = True

    async def get_alarm(self) -> float | None:
        return self._alarm

    async def set_alarm(self, at: float) -> None:
        self._alarm = float(at)

    async def delete_alarm(self) -> None:
        self._alarm = None

    @property
    def state(self) -> str | None:
        return self._state


def _secrets_of(state_json: str | None) -> tuple[Any, ...]:
    if state_json is None:
        return (None, None)
    import json

    data = json.loads(state_json)
    return (data.get("refresh_token"), data.get("previous_refresh_token"))


class RefreshActivities:
    """The activity implementation, bound to the worker's clients, KV, plugins and HTTP client.

    ``clients``: the configured OAuth clients by name (every worker must have the same ones).
    ``kv``: the KV writer (e.g. :class:`freshtoken.kv.redis.RedisKV`, Cloudflare REST). ``kv_prefix`` is
    prepended to the account key.
    """

    def __init__(
        self,
        *,
        clients: Mapping[str, OAuthClient],
        kv: Any,
        plugins: Plugins | None = None,
        http: TokenHTTP | None = None,
        kv_prefix: str = "",
        max_connections: int = 100,
        rng: random.Random | None = None,
        kv_margin: float | None = None,
        endpoint_policy: EndpointPolicy | None = None,
        error_backoff: float = DEFAULT_ERROR_BACKOFF,
    ) -> None:
        self.kv = kv
        self.plugins = plugins if plugins is not None else default_plugins()
        self._own_http = http is None
        if http is not None and endpoint_policy is not None and http.policy != endpoint_policy:
            raise ConfigError("the endpoint policy given differs from the policy of the TokenHTTP given")
        self.http = http or TokenHTTP(max_connections=max_connections, policy=endpoint_policy)
        self.rng = rng or random.Random()
        #: The host shell: client and provider lookup, refreshers with ``kv_prefix`` and ``kv_margin`` (how long
        #: before expiry a new token must be in KV; by default the KV's own: 60 s for Workers KV, 0 for Redis), the
        #: re-arm policy.
        self.shell = HostShell(clients=clients, plugins=self.plugins, http=self.http, kv=kv, kv_prefix=kv_prefix,
                               kv_margin=kv_margin, error_backoff=error_backoff)
        self.kv_prefix = self.shell.kv_prefix
        self.kv_margin = self.shell.kv_margin
        self.counts: dict[str, int] = {}
        self.shell.check_providers()  # unknown providers: a start-up error

    @property
    def clients(self) -> dict[str, OAuthClient]:
        """The configured OAuth clients by name (assignable: the shell's lookups read it)."""
        return self.shell.clients

    @clients.setter
    def clients(self, clients: Mapping[str, OAuthClient]) -> None:
        self.shell.clients = dict(clients)

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    # -- clients and providers: the host shell ---------------------------------------------------------------
    async def _provider(self, client: OAuthClient) -> Provider:
        return await self.shell.provider(client)

    def _client(self, name: str | None) -> OAuthClient:
        return self.shell.client(name)

    # -- the activity ----------------------------------------------------------------------------------------
    @activity.defn(name=ACTIVITY_NAME)
    async def run_op(self, inp: OpInput) -> OpResult:
        heartbeat = asyncio.get_running_loop().create_task(_heartbeat(inp.heartbeat_every))
        try:
            return await self._run_op(inp)
        except FreshtokenError as exc:
            # outside the refresher's own handling (configuration, a state that does not decode): the workflow
            # backs off and re-runs; the message names the problem, never a secret
            secrets = [s for c in self.clients.values() for s in c.secret_values()]
            raise ApplicationError(redact(str(exc), secrets), type=type(exc).__name__) from None
        except Exception as exc:
            raise ApplicationError(f"unexpected {type(exc).__name__}", type=type(exc).__name__) from None
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _run_op(self, inp: OpInput) -> OpResult:
        op = inp.op
        key = AccountKey.parse(inp.key)
        reg: Registration | None = None
        if op.kind == OP_REGISTER:
            try:
                reg = Registration.from_payload(op.register or {})
            except ConfigError as exc:  # a payload that does not validate (InvalidRegistration names the fields)
                given = [(op.register or {}).get(name) for name in SECRET_REGISTRATION_FIELDS]
                return OpResult({"kind": "error", "error": redact(str(exc), [g for g in given if isinstance(g, str)]),
                                 "error_type": type(exc).__name__}, inp.state, inp.alarm_at)
            client_name: str | None = reg.client
        elif inp.state is not None:
            import json

            client_name = json.loads(inp.state).get("client")
        else:
            client_name = None

        async def persist(state: str, alarm_at: float | None) -> None:
            handle = activity.client().get_workflow_handle(inp.key, run_id=inp.run_id)
            await handle.signal(SIGNAL_PERSIST, Persist(inp.token, state, alarm_at))

        storage = ActivityStorage(inp, persist)
        if inp.state is None and op.kind != OP_REGISTER:
            outcome: dict[str, Any] = {"kind": OutcomeKind.ABSENT.value}
            if op.kind == OP_REMOVE:
                await self.kv.delete(self.shell.kv_key(key))
                outcome = {"kind": OutcomeKind.REMOVED.value, "removed": False}
            return OpResult(outcome, None, None, deleted=True)
        try:
            client = self._client(client_name)
            provider = await self._provider(client)
        except ConfigError as exc:
            if op.kind == OP_ALARM:  # the account's schedule: the host shell's one re-arm policy
                return await self._rearm(key, exc, storage, inp)
            if op.kind != OP_REGISTER:
                raise
            return OpResult({"kind": "error", "error": redact(str(exc), reg.secret_values() if reg else []),
                             "error_type": type(exc).__name__}, inp.state, inp.alarm_at)
        refresher = self.shell.refresher(key, client=client, provider=provider, storage=storage,
                                         clock=WorkflowClock(inp.now), rng=self.rng)
        if reg is not None:
            try:
                await refresher.register(reg)
            except FreshtokenError as exc:  # refused registration: the caller is told, the state is unchanged
                return OpResult({"kind": "error", "error": redact(str(exc), reg.secret_values()),
                                 "error_type": type(exc).__name__}, inp.state, inp.alarm_at)
            outcome = {"kind": "registered"}
        elif op.kind == OP_ALARM:
            try:
                outcome = (await refresher.alarm()).to_dict()
            except Exception as exc:  # outside the refresher's own handling: the host shell's one re-arm policy
                return await self._rearm(key, exc, storage, inp)
        elif op.kind == OP_REFRESH_NOW:
            try:
                outcome = (await refresher.refresh_now()).to_dict()
            except NotRegistered:
                outcome = {"kind": OutcomeKind.ABSENT.value}
        elif op.kind == OP_REMOVE:
            removed = await refresher.remove(revoke=op.revoke)
            outcome = {"kind": OutcomeKind.REMOVED.value, "removed": removed}
        else:
            raise ConfigError(f"unknown operation {op.kind!r}")
        return await self._result(outcome, storage)

    async def _result(self, outcome: dict[str, Any], storage: ActivityStorage) -> OpResult:
        self.counts[outcome["kind"]] = self.counts.get(outcome["kind"], 0) + 1
        state = await storage.load() if not storage.deleted else None
        if state is not None:
            outcome["view"] = public_view(state, await storage.get_alarm())
        return OpResult(outcome, storage.state, await storage.get_alarm(), deleted=storage.deleted)

    async def _rearm(self, key: AccountKey, exc: Exception, storage: ActivityStorage, inp: OpInput) -> OpResult:
        """An alarm that failed outside the refresher: re-armed (and a configuration error recorded on the
        account) by the host shell's policy, returned to the workflow as an ordinary result."""
        outcome = await self.shell.rearm_after_error(str(key), exc, storage=storage, clock=WorkflowClock(inp.now),
                                                     rng=self.rng)
        return await self._result(outcome.to_dict(), storage)


async def _heartbeat(every: float) -> None:
    """Heartbeat while the operation runs, so that a killed worker's attempt times out after the heartbeat
    timeout rather than the whole activity timeout."""
    while True:
        await asyncio.sleep(max(0.2, every))
        activity.heartbeat()
