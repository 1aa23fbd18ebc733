"""The embedded runtime: an asyncio host for every account's refresher, over SQLite state and alarms.

* One refresh per account at a time: an in-process set of busy keys, plus a lease in the SQLite row so that
  another process on the same file (a CLI ``accounts refresh`` beside ``serve``) never overlaps. The lease
  is never shorter than three times the provider's timeout (the deadline of one token exchange), is renewed
  every third of it while the work is in flight, and every state write is a compare-and-swap on
  (generation, lease owner): a process that lost the lease sends nothing more and overwrites nothing
  (docs/custody.md).
* A global concurrency limit (a semaphore around every refresh; the scheduler dispatches no more alarms
  than that at once, so memory is bounded by the limit, not by the number of accounts).
* The scheduler reads due alarms from the SQLite index in batches, sleeps with ``clock.sleep_until`` until
  the next alarm (at most ``max_idle``), and is woken early by ``register`` and ``refresh_now``.
* Where each next alarm goes is the capacity planner's choice (:class:`~freshtoken.schedule.CapacityPlanner`,
  docs/capacity.md): spread before its deadline so that the planned refreshes per second stay under
  ``concurrency / measured latency`` and each client's ``rate_limit``; its ledger is rebuilt from the stored alarms
  at start-up. Once a second the due backlog's drain time is compared with the lead (``freshtoken_backlog_rising``).
* Alarms survive restarts; at start-up overdue alarms are spread with jitter over at most ``startup_spread``
  seconds (less when only a few are overdue), and leases left by a dead process on this machine are dropped.
* A failure in one account, even an unexpected exception, is logged, rescheduled with backoff and never
  touches another account or the loop.
* :func:`run_until_signal` / :func:`serve_forever`: SIGTERM / SIGINT stop scheduling, finish the refreshes
  in flight for at most ``drain_timeout`` seconds, and return (a second signal cancels at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import socket
import sqlite3
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

from ..alarm_planner import AlarmPlanner
from ..client import OAuthClient
from ..clock import Clock, SystemClock
from ..egress.endpoint_policy import EndpointPolicy
from ..errors import ConfigError, FreshtokenError, NotRegistered, StateConflict
from ..events import BacklogRising
from ..host.shell import DEFAULT_ERROR_BACKOFF, HostShell, public_view
from ..http import TokenHTTP
from ..keys import AccountKey
from ..outcome import Outcome, OutcomeKind
from ..plugins import Plugins, default_plugins
from ..provider import Provider
from ..refresher import Refresher
from ..registration import Registration, registration_of
from ..schedule import BacklogMonitor, CapacityPlanner
from .sqlite_store import UNSET, DueRow, SQLiteAccountStorage, SQLiteStore, Unset

log = logging.getLogger("freshtoken.embedded")

#: Start-up spreads overdue alarms over ``overdue / (this * concurrency)`` seconds, at most ``startup_spread``.
STARTUP_RATE_PER_SLOT = 10.0
#: A lease is never shorter than this many times the provider's timeout (the deadline of one token exchange).
LEASE_PER_DEADLINE = 3.0


class AccountBusy(FreshtokenError):
    """Another process holds the account's lease (it is refreshing it) and did not let go in time."""


def _superseded(key: str, exc: StateConflict) -> Outcome:
    log.warning("%s: superseded: %s; this process stands down", key, exc)
    return Outcome(OutcomeKind.SUPERSEDED, error="superseded by another owner")


def make_owner() -> str:
    """A lease owner id: ``host:pid:random`` (so a restarted host can recognise its dead predecessors)."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


class EmbeddedRuntime:
    """Hosts the refreshers of every account in one SQLite store. See the module docstring."""

    def __init__(
        self,
        *,
        store: SQLiteStore,
        kv: Any,
        clients: Mapping[str, OAuthClient],
        plugins: Plugins | None = None,
        clock: Clock | None = None,
        http: TokenHTTP | None = None,
        concurrency: int = 32,
        startup_spread: float = 30.0,
        kv_prefix: str = "",
        owner: str | None = None,
        rng: random.Random | None = None,
        max_idle: float = 60.0,
        lease_ttl: float = 180.0,
        error_backoff: float = DEFAULT_ERROR_BACKOFF,
        busy_timeout: float = 30.0,
        per_client_concurrency: int | None = None,
        drain_timeout: float | None = 30.0,
        endpoint_policy: EndpointPolicy | None = None,
        kv_margin: float | None = None,
        rate_limits: Mapping[str, float] | None = None,
        planner: AlarmPlanner | None = None,
        plan_capacity: bool = True,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"runtime concurrency must be at least 1, not {concurrency}")
        if per_client_concurrency is not None and per_client_concurrency < 1:
            raise ConfigError(f"runtime per_client_concurrency must be at least 1, not {per_client_concurrency}")
        if not lease_ttl > 0:
            raise ConfigError(f"runtime lease_ttl must be a positive number of seconds, not {lease_ttl}")
        if drain_timeout is not None and not drain_timeout >= 0:
            raise ConfigError(f"runtime drain_timeout must be 0 or more seconds (or None), not {drain_timeout}")
        self.store = store
        self.kv = kv
        self.clients: dict[str, OAuthClient] = dict(clients)
        for name, c in self.clients.items():
            if not isinstance(c, OAuthClient):
                raise ConfigError(f"client {name!r} is not an OAuthClient")
        self.plugins = plugins if plugins is not None else default_plugins()
        self.clock: Clock = clock or SystemClock()
        self._own_http = http is None
        if http is not None and endpoint_policy is not None and http.policy != endpoint_policy:
            raise ConfigError("the endpoint policy given differs from the policy of the TokenHTTP given")
        # the pool holds as many connections as refreshes can be in flight: httpcore scans every pooled
        # connection on each request, and a surplus only idles
        self.http = http or TokenHTTP(max_connections=concurrency, policy=endpoint_policy)
        self.concurrency = int(concurrency)
        #: Alarms of one client in flight at once. A provider that hangs then holds at most this many slots
        #: (each for its timeout), and the other clients' accounts keep refreshing. Default: every slot for a
        #: single client, three quarters of them when there are several.
        self.per_client_concurrency = int(
            per_client_concurrency
            if per_client_concurrency is not None
            else (self.concurrency if len(clients) <= 1 else max(1, self.concurrency * 3 // 4))
        )
        self.startup_spread = float(startup_spread)
        self.kv_prefix = kv_prefix
        self.owner = owner or make_owner()
        self.rng = rng or random.Random()
        self.max_idle = float(max_idle)
        self.lease_ttl = float(lease_ttl)
        self.error_backoff = float(error_backoff)
        self.busy_timeout = float(busy_timeout)
        #: On the first SIGTERM / SIGINT, how long to wait for the work in flight before cancelling it (None: no
        #: limit). See :func:`drain_on_signals`.
        self.drain_timeout = None if drain_timeout is None else float(drain_timeout)

        #: The host shell: client and provider lookup, refreshers with the KV prefix and margin, the re-arm policy.
        self.shell = HostShell(
            clients=self.clients, plugins=self.plugins, http=self.http, kv=self.kv, kv_prefix=kv_prefix,
            kv_margin=kv_margin, error_backoff=self.error_backoff,
        )
        self.clients = self.shell.clients
        self.kv_margin = self.shell.kv_margin
        #: Where next alarms go (docs/capacity.md): ``planner`` if given, else the capacity planner, else (with
        #: ``plan_capacity=False``) none: every alarm at its deadline, as before issue 17.
        try:
            self.planner: AlarmPlanner | None = planner if planner is not None else (
                CapacityPlanner(concurrency=self.concurrency, rate_limits=rate_limits) if plan_capacity else None
            )
        except ValueError as exc:
            raise ConfigError(f"runtime: {exc}") from None
        self._planner_loaded = False
        #: The backlog early warning (read once a second by the scheduler; see :meth:`_check_backlog`).
        self.backlog = BacklogMonitor()
        self._backlog_at = -1e18
        self._busy: dict[str, asyncio.Future[None]] = {}
        #: Refreshers of recent alarms, per key (bounded; see :meth:`_alarm_refresher`).
        self._refreshers: OrderedDict[str, Refresher] = OrderedDict()
        self._refresher_cache_size = max(1024, 4 * self.concurrency)
        self._alarm_tasks: set[asyncio.Task[None]] = set()
        self._op_tasks: set[asyncio.Task[Any]] = set()
        self._client_in_flight: Counter[str] = Counter()
        self._task_client: dict[asyncio.Task[None], str] = {}
        self._sem = asyncio.Semaphore(self.concurrency)
        self._wake = asyncio.Event()
        self._slot = asyncio.Event()
        self._counts: Counter[str] = Counter()
        self._in_flight = 0
        self._peak_in_flight = 0
        self._last_loop_lag: float | None = None
        self._last_alarm_lag: float | None = None
        self._running = False
        self._run_stop: asyncio.Event | None = None
        self._run_done = asyncio.Event()
        self._started = False
        self._closed = False
        self._interrupted_at_startup = 0
        self._status_cache: tuple[float, dict[str, int]] = (-1e18, {})
        # Unknown providers are a start-up error, not a surprise at the first alarm.
        self.shell.check_providers()

    # -- clients and providers ------------------------------------------------------------------------------
    def _client(self, name: str) -> OAuthClient:
        return self.shell.client(name)

    async def _provider(self, client: OAuthClient) -> Provider:
        return await self.shell.provider(client)

    def _refresher(self, key: str, client: OAuthClient, provider: Provider) -> Refresher:
        ttl = self._lease_for(provider)
        # every write is a compare-and-swap on (generation, this lease owner); each one extends the lease
        storage = self.store.storage(key, owner=self.owner, lease_until=lambda: self.clock.now() + ttl)
        self._load_planner()
        refresher = self.shell.refresher(key, client=client, provider=provider, storage=storage, clock=self.clock,
                                         rng=self.rng)
        refresher.planner = self.planner
        return refresher

    def _load_planner(self) -> None:
        """Once: count the stored future alarms in the capacity planner's ledger (a registration or import in
        another process, a restart)."""
        if self._planner_loaded or not isinstance(self.planner, CapacityPlanner):
            return
        self._planner_loaded = True
        try:
            n = self.planner.load(self.store.alarm_rows(self.clock.now()))
        except Exception as exc:  # the ledger starts empty: alarms may bunch, never move later
            log.error("capacity planner: could not read the stored alarms (%s)", exc.__class__.__name__)
            return
        log.debug("capacity planner: %d stored alarm(s) counted", n)

    async def _check_backlog(self, now: float) -> None:
        """At most once a second: the due backlog's projected drain time against the shortest lead; raise
        ``freshtoken_backlog_rising`` when it crosses the threshold."""
        if not isinstance(self.planner, CapacityPlanner) or now - self._backlog_at < 1.0:
            return
        self._backlog_at = now
        leads = []
        for c in self.clients.values():
            with contextlib.suppress(Exception):
                leads.append(self.shell.static_provider(c).lead)
        reading = self.backlog.read(at=now, due=self.store.count_due(now), latency=self.planner.latency.value,
                                    concurrency=self.concurrency, lead=min(leads, default=600.0))
        if reading.alert:
            await self.plugins.emit("freshtoken_backlog_rising", BacklogRising(
                "*", "*", now, reading.due, reading.latency, reading.concurrency, reading.lead,
                reading.drain_seconds, reading.ratio,
            ))

    def _capacity_stats(self) -> dict[str, Any]:
        if not isinstance(self.planner, CapacityPlanner):
            return {}
        reading = self.backlog.last
        return {
            "capacity_per_second": self.planner.capacity,
            "latency_estimate": self.planner.latency.value,
            "planned_alarms": len(self.planner),
            "planner_overflow": self.planner.overflow,
            "backlog_due": None if reading is None else reading.due,
            "backlog_drain_seconds": None if reading is None else reading.drain_seconds,
            "backlog_ratio": None if reading is None else reading.ratio,
            "backlog_alerts": self.backlog.alerts,
        }

    def _lease_for(self, provider: Provider | None) -> float:
        """The lease of one operation: ``lease_ttl``, and never less than :data:`LEASE_PER_DEADLINE` times the
        provider's timeout (the deadline of one token exchange; a refresh may try two tokens, rotation grace)."""
        if provider is None:
            return self.lease_ttl
        return max(self.lease_ttl, LEASE_PER_DEADLINE * provider.timeout)

    @contextlib.asynccontextmanager
    async def _renewing(self, key: str, ttl: float) -> AsyncIterator[None]:
        """Renew this process's lease on ``key`` every ``ttl / 3`` while inside (a refresh, registration or
        removal in flight), so that the lease holds for as long as the work does."""
        task = asyncio.get_running_loop().create_task(self._renew(key, ttl), name=f"freshtoken-lease:{key}")
        try:
            yield
        finally:
            task.cancel()

    async def _renew(self, key: str, ttl: float) -> None:
        warned = False
        while True:
            await self.clock.sleep_until(self.clock.now() + ttl / 3)
            try:
                held = self.store.renew_lease(key, self.owner, self.clock.now() + ttl)
                holder = None if held else self.store.lease_of(key)[0]
            except Exception as exc:  # a database hiccup: the lease still has two thirds to run
                log.error("%s: could not renew the lease (%s)", key, exc.__class__.__name__)
                continue
            if not held and holder is not None and not warned:
                # the next state write is refused (compare-and-swap), and nothing is sent after it
                log.warning("%s: lost the lease to %s; this process will neither send nor write for it", key,
                            holder)
                warned = True

    # -- single flight ----------------------------------------------------------------------------------------
    def _mark_busy(self, key: str) -> None:
        self._busy[key] = asyncio.get_running_loop().create_future()

    def _release(self, key: str, alarm: float | Unset | None = UNSET) -> None:
        """Release the lease on ``key`` and, unless :data:`UNSET`, write ``alarm`` with it (one statement)."""
        try:
            self.store.finish(key, self.owner, alarm)
        except Exception as exc:  # the lease expires on its own (and a due alarm fires again)
            log.error("%s: could not release the lease (%s)", key, exc.__class__.__name__)
        fut = self._busy.pop(key, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    @contextlib.asynccontextmanager
    async def _account(self, key: str, provider: Provider | None = None) -> AsyncIterator[None]:
        """Hold ``key`` exclusively: wait for an in-process refresh, then take the SQLite lease."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            fut = self._busy.get(key)
            if fut is not None:
                await asyncio.shield(fut)
                continue
            now = self.clock.now()
            if self.store.try_lease(key, self.owner, now + self._lease_for(provider), now=now):
                break
            if not self.store.exists(key):
                break  # a new account: nothing to lease yet, nothing to overlap with
            owner, _ = self.store.lease_of(key)
            if owner is not None and self._reap_if_dead(owner):
                continue
            if time.monotonic() > deadline:
                raise AccountBusy(f"{key}: another process ({owner}) is refreshing this account; try again")
            await asyncio.sleep(0.05)
        self._mark_busy(key)
        self._forget(key)  # registered, replaced, refreshed or removed here: the next alarm builds afresh
        task = asyncio.current_task()
        if task is not None:
            self._op_tasks.add(task)
        try:
            async with self._renewing(key, self._lease_for(provider)):
                yield
        finally:
            if task is not None:
                self._op_tasks.discard(task)
            self._release(key)
            self._wake.set()

    # -- public API ---------------------------------------------------------------------------------------------
    async def register(
        self, key: str | AccountKey, registration: Registration | None = None, /, **fields: Any
    ) -> dict[str, Any]:
        """Register an account (a :class:`~freshtoken.registration.Registration`, or its fields as keywords);
        returns its public state (no secret).

        Over an existing account that is not ``reauth_required`` this needs ``replace=True`` (else
        :class:`~freshtoken.errors.AccountExists`); the replaced grant is then revoked where the provider can.
        """
        reg = registration_of(registration, fields)
        ks = str(key if isinstance(key, AccountKey) else AccountKey.parse(key))
        oauth_client = self._client(reg.client)
        provider = await self._provider(oauth_client)
        async with self._account(ks, provider):
            state = await self._refresher(ks, oauth_client, provider).register(reg)
            view = state.public()
            view["alarm_at"] = self.store.get_alarm(ks)
        self._counts["registered"] += 1
        return view

    async def refresh_now(self, key: str | AccountKey) -> Outcome:
        """Refresh at once (serialised with the account's alarm, here and in other processes)."""
        ks = str(key if isinstance(key, AccountKey) else AccountKey.parse(key))
        client_name = self.store.client_of(ks)
        if client_name is None:
            raise NotRegistered(ks)
        oauth_client = self._client(client_name)
        provider = await self._provider(oauth_client)
        async with self._account(ks, provider), self._sem:
            self._enter()
            try:
                outcome = await self._refresher(ks, oauth_client, provider).refresh_now()
            except StateConflict as exc:
                outcome = _superseded(ks, exc)
            finally:
                self._leave()
        self._count(outcome)
        return outcome

    async def status(self, key: str | AccountKey) -> dict[str, Any]:
        """The account's state without any secret, its alarm and whether a refresh is in flight."""
        ks = str(key if isinstance(key, AccountKey) else AccountKey.parse(key))
        state = self.store.load_state(ks)
        if state is None:
            raise NotRegistered(ks)
        owner, until = self.store.lease_of(ks)
        return public_view(state, self.store.get_alarm(ks), leased_by=owner, lease_until=until,
                           refreshing=ks in self._busy)

    async def remove(self, key: str | AccountKey, *, revoke: bool = True) -> bool:
        """Delete the alarm, the KV record and the state; revoke the refresh token where possible."""
        ks = str(key if isinstance(key, AccountKey) else AccountKey.parse(key))
        client_name = self.store.client_of(ks)
        if client_name is None:
            await self.kv.delete(self.shell.kv_key(ks))
            return False
        provider: Provider | None = None
        oauth_client = self.clients.get(client_name)
        if oauth_client is not None:
            try:
                provider = await self._provider(oauth_client)
            except ConfigError as exc:
                log.warning("%s: provider unavailable (%s); removing without revocation", ks, exc)
        async with self._account(ks, provider):
            if oauth_client is not None and provider is not None:
                removed = await self._refresher(ks, oauth_client, provider).remove(revoke=revoke)
            else:
                self.store.set_alarm(ks, None)
                await self.kv.delete(self.shell.kv_key(ks))
                removed = self.store.delete_account(ks)
        self._counts["removed"] += int(removed)
        return removed

    def list_accounts(
        self, *, limit: int = 100, after: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Public summaries in key order; page with ``after`` = the last key seen."""
        return self.store.summaries(limit=limit, after=after, status=status)

    # -- alarms ---------------------------------------------------------------------------------------------------
    def _enter(self) -> None:
        self._in_flight += 1
        self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def _leave(self) -> None:
        self._in_flight -= 1

    def _count(self, outcome: Outcome) -> None:
        self._counts[f"outcome:{outcome.kind}"] += 1
        if outcome.kind is OutcomeKind.REFRESHED:
            self._counts["refreshes_ok"] += 1
        elif outcome.failed and outcome.error is not None:
            self._counts["refreshes_failed"] += 1

    def _dispatch(self, cutoff: float) -> tuple[int, bool]:
        """Start alarm tasks for keys due at ``cutoff`` while there is capacity: (started, saturated)."""
        started = 0
        loop = asyncio.get_running_loop()
        while True:
            free = self.concurrency - len(self._alarm_tasks)
            if free <= 0:
                return started, True
            capped = {c for c, n in self._client_in_flight.items() if n >= self.per_client_concurrency}
            now = self.clock.now()
            # one statement: the due rows, leased to this process, with their client and state
            try:
                rows = self.store.lease_due(cutoff, self.owner, now + self.lease_ttl, limit=free,
                                            exclude_clients=capped)
            except sqlite3.OperationalError as exc:  # "database is locked": another writer; look again soon
                log.warning("scheduler: could not lease due alarms (%s); retrying", exc)
                return started, False
            if not rows:
                return started, False
            progressed = False
            for row in rows:
                key, at, client = row.key, row.alarm_at, row.client
                if key in self._busy or self._client_in_flight[client] >= self.per_client_concurrency:
                    # several rows of one client beyond its cap (or held here meanwhile): give the lease back
                    if key not in self._busy:
                        self.store.release(key, self.owner)
                    continue
                self._busy[key] = loop.create_future()
                task = loop.create_task(self._fire(key, row), name=f"freshtoken-alarm:{key}")
                self._alarm_tasks.add(task)
                self._client_in_flight[client] += 1
                self._task_client[task] = client
                task.add_done_callback(self._task_done)
                self._last_alarm_lag = max(0.0, now - at)
                self._counts["alarms_fired"] += 1
                started += 1
                progressed = True
            if not progressed:
                return started, False

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._alarm_tasks.discard(task)
        client = self._task_client.pop(task, None)
        if client is not None:
            self._client_in_flight[client] -= 1
            if self._client_in_flight[client] <= 0:
                del self._client_in_flight[client]
        self._slot.set()
        # the finished alarm re-armed its account (e.g. a retry in a few seconds) while the scheduler,
        # blind to leased rows, may be sleeping far past it: look again
        self._wake.set()

    async def _fire(self, key: str, row: DueRow) -> None:
        """Run one account's alarm. Never raises: one account's failure stays with that account.

        The alarm the refresher sets is written with the lease release, in one statement (the storage defers
        it: :meth:`SQLiteStore.finish`); after an unexpected error the re-arm policy's alarm is written instead.
        """
        storage: SQLiteAccountStorage | None = None
        try:
            async with self._sem:
                self._enter()
                try:
                    storage, refresher = await self._alarm_refresher(key, row)
                    ttl = self._lease_for(refresher.provider)
                    if ttl > self.lease_ttl:
                        self.store.renew_lease(key, self.owner, self.clock.now() + ttl)
                    async with self._renewing(key, ttl):
                        outcome = await refresher.alarm()
                finally:
                    self._leave()
            self._count(outcome)
        except asyncio.CancelledError:
            self._counts["cancelled"] += 1
            raise
        except StateConflict as exc:  # another process owns the account now: its state and alarm stand
            self._count(_superseded(key, exc))
        except Exception as exc:  # isolate the account
            self._counts["errors"] += 1
            self._counts["refreshes_failed"] += 1
            if storage is not None:
                storage.take_pending_alarm()  # the re-arm policy decides the alarm now
            self._refreshers.pop(key, None)
            await self._after_error(key, exc)
        finally:
            self._release(key, UNSET if storage is None else storage.take_pending_alarm())

    async def _alarm_refresher(self, key: str, row: DueRow) -> tuple[SQLiteAccountStorage, Refresher]:
        """The account's refresher for an alarm, from the per-key cache when its client and provider are the
        ones configured now (a configuration change, register, refresh_now and remove drop the entry), its
        storage primed with the state read by the dispatch and deferring the alarm to the lease release."""
        oauth_client = self._client(row.client)
        provider = await self._provider(oauth_client)
        cached = self._refreshers.get(key)
        if cached is not None and cached.client is oauth_client and cached.provider is provider:
            self._refreshers.move_to_end(key)
            storage = cached.storage
            assert isinstance(storage, SQLiteAccountStorage)
            storage.preload(row.state)
            return storage, cached
        storage = self.store.storage(key, owner=self.owner, lease_until=self._lease_clock(provider),
                                     defer_alarm=True)
        storage.preload(row.state)
        self._load_planner()
        refresher = self.shell.refresher(key, client=oauth_client, provider=provider, storage=storage,
                                         clock=self.clock, rng=self.rng)
        refresher.planner = self.planner  # as in _refresher: the next alarm goes where the planner puts it
        self._refreshers[key] = refresher
        while len(self._refreshers) > self._refresher_cache_size:
            self._refreshers.popitem(last=False)
        return storage, refresher

    def _lease_clock(self, provider: Provider) -> Callable[[], float]:
        ttl = self._lease_for(provider)
        return lambda: self.clock.now() + ttl

    def _forget(self, key: str) -> None:
        """Drop the cached refresher of ``key`` (registered, replaced, refreshed or removed outside an alarm)."""
        self._refreshers.pop(key, None)

    async def _after_error(self, key: str, exc: Exception) -> None:
        """An unexpected failure outside the refresher's own handling: the host shell's one re-arm policy
        (:func:`freshtoken.host.shell.rearm_after_error`)."""
        storage = self.store.storage(key, owner=self.owner)
        try:
            outcome = await self.shell.rearm_after_error(key, exc, storage=storage, clock=self.clock, rng=self.rng)
        except Exception as exc2:  # the lease expires and the alarm fires again
            log.error("%s: could not reschedule after the failure (%s)", key, exc2.__class__.__name__)
            return
        self._counts[f"outcome:{outcome.kind}"] += 1

    async def run_due(self) -> int:
        """Fire every alarm due now (respecting the concurrency limit); wait for them; return how many."""
        cutoff = self.clock.now()
        total = 0
        while True:
            started, _ = self._dispatch(cutoff)
            total += started
            if not self._alarm_tasks:
                if started == 0:
                    return total
                continue
            await asyncio.wait(set(self._alarm_tasks), return_when=asyncio.FIRST_COMPLETED)

    # -- the scheduler ---------------------------------------------------------------------------------------------
    def _reap_if_dead(self, owner: str) -> bool:
        """Drop the leases of ``owner`` if it is a process of this machine that no longer exists."""
        parts = owner.split(":")
        if len(parts) == 3 and parts[0] == socket.gethostname() and parts[1].isdigit():
            pid = int(parts[1])
            if pid != os.getpid() and not _pid_alive(pid):
                n = self.store.release_owner(owner)
                log.warning("dropped %d lease(s) of dead process %s", n, owner)
                return True
        return False

    def _startup(self) -> None:
        """Drop leases of dead processes on this machine; spread overdue alarms."""
        for owner in self.store.lease_owners():
            self._reap_if_dead(owner)
        # refreshes in flight when a previous host died (they are leased by nobody now)
        self._interrupted_at_startup = self.store.count_interrupted() - len(self._busy)
        if self._interrupted_at_startup > 0:
            sample = ", ".join(self.store.interrupted(5))
            log.warning(
                "%d refresh(es) were interrupted by a crash (e.g. %s); they run again now, and a provider "
                "that rotated the refresh token meanwhile will ask for re-authorisation",
                self._interrupted_at_startup, sample,
            )
        if self.startup_spread > 0:
            now = self.clock.now()
            overdue = self.store.count_due(now)
            if overdue:
                # a herd needs time to drain; a handful does not: ~10 refreshes per slot per second
                window = min(self.startup_spread, overdue / (STARTUP_RATE_PER_SLOT * self.concurrency))
                moved = self.store.spread_overdue(now, window, self.rng)
                log.info("%d overdue alarm(s) spread over %.1fs", moved, window)
        self._load_planner()
        self._started = True

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """The scheduler loop, until ``stop`` is set; then finishes the refreshes in flight and returns."""
        if self._running:
            raise RuntimeError("EmbeddedRuntime.run is already running")
        if self._closed:
            raise RuntimeError("EmbeddedRuntime is closed")
        stop = stop or asyncio.Event()
        self._running = True
        self._run_stop = stop
        self._run_done.clear()
        try:
            self._startup()
            planned: float | None = None
            while not stop.is_set():
                self._wake.clear()
                now = self.clock.now()
                try:
                    _, saturated = self._dispatch(now)
                    await self._check_backlog(now)
                    next_at = None if saturated else self.store.next_alarm_at(now)
                except Exception as exc:  # a database hiccup: log, try again soon
                    log.error("scheduler: %s; retrying in 1s", exc.__class__.__name__)
                    saturated, next_at = False, now + 1.0
                waits: list[Awaitable[Any]] = [stop.wait(), self._wake.wait()]
                if saturated:
                    self._slot.clear()
                    waits.append(self._slot.wait())
                    planned = None
                else:
                    if next_at is not None and next_at <= now:
                        # due but held in this process (a registration in progress): its release wakes us
                        next_at = now + min(1.0, self.max_idle)
                    wake_at = now + self.max_idle if next_at is None else min(next_at, now + self.max_idle)
                    waits.append(self.clock.sleep_until(wake_at))
                    planned = wake_at
                which = await _first(waits)
                if which == 2 and planned is not None:
                    self._last_loop_lag = max(0.0, self.clock.now() - planned)
        finally:
            if self._alarm_tasks:
                await asyncio.gather(*list(self._alarm_tasks), return_exceptions=True)
            self._running = False
            self._run_stop = None
            self._run_done.set()

    def cancel_in_flight(self) -> int:
        """Cancel the alarms and the operations (registration, refresh, removal) in flight: a second Ctrl-C, or
        the drain limit. Their leases are released; returns how many."""
        tasks = list(self._alarm_tasks | self._op_tasks)
        for t in tasks:
            t.cancel()
        return len(tasks)

    def _drain_limit(self, what: str) -> None:
        n = self.cancel_in_flight()
        if n:
            log.warning("drain limit (%gs) reached at %s: cancelled %d refresh(es) still in flight",
                        self.drain_timeout, what, n)

    def wake(self) -> None:
        """Make the scheduler look at the alarms again now (e.g. after another process registered)."""
        self._wake.set()

    # -- metrics ------------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Accounts by status, refresh counters, in flight, last loop lag: for metrics and health."""
        # counting is a scan of the status index: cache it for ten times what it costs (1M rows: ~1 s)
        until, by_status = self._status_cache
        if time.monotonic() >= until:
            try:
                t0 = time.monotonic()
                by_status = self.store.count_by_status()
                t1 = time.monotonic()
                self._status_cache = (t1 + 10 * (t1 - t0), by_status)
            except Exception:
                pass
        try:
            next_alarm = self.store.next_alarm_at()
        except Exception:
            next_alarm = None
        outcomes = {k.split(":", 1)[1]: v for k, v in self._counts.items() if k.startswith("outcome:")}
        return {
            "accounts": dict(by_status),
            "accounts_total": sum(by_status.values()),
            "refreshes_ok": self._counts["refreshes_ok"],
            "refreshes_failed": self._counts["refreshes_failed"],
            "errors": self._counts["errors"],
            "alarms_fired": self._counts["alarms_fired"],
            "outcomes": outcomes,
            "in_flight": self._in_flight,
            "peak_in_flight": self._peak_in_flight,
            "busy": len(self._busy),
            "concurrency": self.concurrency,
            "last_loop_lag": self._last_loop_lag,
            "last_alarm_lag": self._last_alarm_lag,
            "next_alarm_at": next_alarm,
            "running": self._running,
            "interrupted_at_startup": self._interrupted_at_startup,
            "owner": self.owner,
            **self._capacity_stats(),
            **self._checkpoint_stats(),
        }

    def _checkpoint_stats(self) -> dict[str, Any]:
        """The background WAL checkpoints of the state and KV files (:mod:`freshtoken.kv.wal_checkpointer`):
        runs and failures since each file was opened. A failure means the writers fall back to checkpointing in
        line, on the event loop, at a longer log."""
        out: dict[str, Any] = {}
        for name, resource in (("state", self.store), ("kv", self.kv)):
            reader = getattr(resource, "checkpoint_stats", None)
            stats = reader() if callable(reader) else None
            if stats is not None:
                out[f"checkpoints_{name}"] = stats.runs
                out[f"checkpoint_errors_{name}"] = stats.errors
        return out

    async def aclose(self) -> None:
        """Stop the scheduler if it runs, wait for alarms in flight, then close the HTTP client (if created
        here), the store and the KV (both reopen lazily if used again).

        The wait is bounded by ``drain_timeout``, as a signalled ``serve`` is: what is still in flight then is
        cancelled (:meth:`cancel_in_flight`; leases released, an answer not yet saved left in the recovery file)
        and the close goes on. ``drain_timeout=None`` waits as long as the alarms take (an alarm retrying a save on
        a full disk: until the disk has room)."""
        if self._closed:
            return
        self._closed = True
        limit = self.drain_timeout
        timer = None if limit is None else asyncio.get_running_loop().call_later(limit, self._drain_limit, "close")
        try:
            if self._running and self._run_stop is not None:
                self._run_stop.set()  # stop the scheduler; it finishes what is in flight
                await self._run_done.wait()
            if self._alarm_tasks:
                await asyncio.gather(*list(self._alarm_tasks), return_exceptions=True)
        finally:
            if timer is not None:
                timer.cancel()
        if self._own_http:
            await self.http.aclose()
        for resource in (self.store, self.kv):
            closer = getattr(resource, "aclose", None)
            if callable(closer):
                await closer()
                continue
            closer = getattr(resource, "close", None)
            if callable(closer):
                closer()

    async def __aenter__(self) -> EmbeddedRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _first(aws: list[Awaitable[Any]]) -> int:
    """Wait for the first of ``aws`` to finish; cancel the rest; return its index."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
    for i, t in enumerate(tasks):
        if t in done:
            return i
    return -1


@contextlib.contextmanager
def drain_on_signals(
    runtime: EmbeddedRuntime,
    stop: asyncio.Event,
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> Iterator[None]:
    """While inside: the first SIGTERM / SIGINT sets ``stop`` (the runtime finishes the refreshes in flight)
    and, after ``runtime.drain_timeout`` seconds (when not None), cancels what is still in flight; a second
    signal cancels it at once. Handlers (and the drain timer) are removed on the way out."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    received = 0
    timer: asyncio.TimerHandle | None = None

    def on_signal(sig: signal.Signals) -> None:
        nonlocal received, timer
        received += 1
        if received == 1:
            limit = runtime.drain_timeout
            log.warning("%s: finishing %d refresh(es) in flight%s, then exiting", sig.name, runtime._in_flight,
                        "" if limit is None else f" (for at most {limit:g}s)")
            stop.set()
            if limit is not None:
                timer = loop.call_later(limit, runtime._drain_limit, sig.name)
        else:
            n = runtime.cancel_in_flight()
            log.warning("%s again: cancelled %d refresh(es) in flight", sig.name, n)

    for sig in signals:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
            pass
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_until_signal(
    runtime: EmbeddedRuntime,
    *,
    stop: asyncio.Event | None = None,
    signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT),
) -> None:
    """Run the scheduler until SIGTERM / SIGINT (or ``stop``): then finish in-flight refreshes and return.

    The refreshes still in flight after ``runtime.drain_timeout`` seconds are cancelled, and so they are at a
    second signal.
    """
    stop = stop or asyncio.Event()
    with drain_on_signals(runtime, stop, signals):
        await runtime.run(stop)


def serve_forever(runtime: EmbeddedRuntime) -> None:
    """Run ``runtime`` in a new event loop until SIGTERM / SIGINT, then close it."""

    async def main() -> None:
        try:
            await run_until_signal(runtime)
        finally:
            await runtime.aclose()

    asyncio.run(main())
