"""The simulated fleet: hosts that run the real :class:`~freshtoken.refresher.Refresher` and the real
:class:`~freshtoken.schedule.CapacityPlanner` in virtual time, as the embedded runtime hosts them.

Each account has one :class:`~freshtoken.refresher.Refresher`, built once (runtimes may keep one per account;
nothing in it changes between calls), a :class:`~freshtoken.simulate.storage.SimStorage` (the storage contract
with the state held as an object: ``serialise_state=True`` keeps it serialised in a ``MemoryStorage`` instead, with
the same answers) and one alarm. When an alarm comes due, its host runs ``Refresher.alarm()`` if one of its
``concurrency`` slots is free, else queues it (oldest first), as the embedded scheduler does; the refresher's next
alarm is read back from the storage when it finishes. Onboarding runs ``Refresher.register()``. Once a virtual
second each host's backlog (queued + in flight) is read by a :class:`~freshtoken.schedule.BacklogMonitor`. In cohort
mode (:mod:`.cohort`) an account stands for ``Scenario.cohort`` identical ones: it holds that many slots, and counts
that many times.
"""

from __future__ import annotations

import functools
import gc
import heapq
import random
import time
from collections import Counter
from typing import Any

from ..alarm_planner import AlarmPlanner
from ..client import OAuthClient
from ..host.providers import ClientProviders
from ..keys import AccountKey
from ..outcome import Outcome
from ..plugins import Plugins
from ..provider import Provider
from ..providers import generic
from ..refresher import Refresher
from ..schedule import BacklogMonitor, CapacityPlanner, LatencyEstimate
from ..storage import MemoryStorage
from .clock import SimClock
from .cohort import CohortPlanner, cohorts
from .engine import Engine
from .ledger import RecordingKV, report
from .provider import SimHTTP, SimProvider
from .scenario import Scenario
from .storage import SimStorage

START = 1_800_000_000.0
#: The cyclic collector's first threshold during a run (allocations between young collections; default 700).
GC_THRESHOLD = 100_000


class _Account:
    """One simulated account: its refresher (built once), storage and host."""

    __slots__ = ("host", "key", "refresher", "storage", "weight")

    def __init__(self, key: str, refresher: Refresher, storage: MemoryStorage, host: _Host, weight: int) -> None:
        self.key = key
        self.refresher = refresher
        self.storage = storage
        self.host = host
        #: how many identical accounts it stands for (cohort mode; else 1)
        self.weight = weight


class _Host:
    def __init__(self, index: int, concurrency: int, planner: CapacityPlanner | None, threshold: float,
                 http: SimHTTP) -> None:
        self.index = index
        self.http = http
        self.concurrency = concurrency
        self.planner = planner
        self.running = 0  # slots held (accounts, in cohort mode)
        self.waiting: list[tuple[float, int, _Account]] = []
        self.queued = 0  # accounts in ``waiting`` (stale entries included, as len(waiting) counts them)
        self.monitor = BacklogMonitor(threshold)


class Simulation:
    """One run of a :class:`Scenario` (see the module docstring). :meth:`run` returns the report dict."""

    def __init__(self, scenario: Scenario, *, serialise_state: bool = False) -> None:
        """``serialise_state``: keep each account's state serialised (``MemoryStorage``) rather than as an object
        (``SimStorage``): slower, the same answers."""
        scenario.check()
        self.serialise_state = serialise_state
        self.scenario = scenario
        self.clock = SimClock(START)
        self.engine = Engine(self.clock)
        self.rng = random.Random(scenario.seed)
        plugins = Plugins(entry_points=False)
        plugins.register(generic, name="generic")
        factory = ClientProviders(plugins)
        self.clients: dict[str, OAuthClient] = {}
        self.providers: dict[str, Provider] = {}
        self.sim: dict[str, SimProvider] = {}
        lead_of: dict[str, float] = {}
        for p in scenario.providers:
            host = f"{p.name}.sim.example"
            options: dict[str, Any] = {"token_url": f"https://{host}/token", "timeout": 30.0}
            if scenario.lead is not None:
                options["lead"] = scenario.lead
            client = OAuthClient(name=p.name, provider="generic", client_id=f"{p.name}-client",
                                 client_secret="sim-secret",  # noqa: S106 - a simulated provider
                                 provider_options=options)
            self.clients[p.name] = client
            self.providers[p.name] = factory.static(client)
            self.sim[host] = SimProvider(p, self.clock, random.Random(self.rng.random()), START)
            lead_of[p.name] = self.providers[p.name].lead
        self.lead = min(lead_of.values())
        self.storages: dict[str, MemoryStorage] = {}
        self.kv = RecordingKV(self.clock, lead_of, scenario.kv_margin, self.storages,
                              {p.name: p.lifetime for p in scenario.providers})
        self.hosts: list[_Host] = []
        for i in range(scenario.hosts):
            planner = None
            if scenario.planner:
                rates = {p.name: p.client_rate_limit / scenario.hosts for p in scenario.providers
                         if p.client_rate_limit is not None}
                planner = CapacityPlanner(concurrency=scenario.concurrency, rate_limits=rates,
                                          latency=LatencyEstimate())
            http = SimHTTP(self.clock, self.sim, cpu_per_refresh=scenario.cpu_per_refresh)
            self.hosts.append(_Host(i, scenario.concurrency, planner, scenario.backlog_threshold, http))
        self.accounts: dict[str, _Account] = {}
        self._seq = 0
        self.outcomes: Counter[str] = Counter()
        self.alerts: list[dict[str, Any]] = []
        self.refreshes = 0

    # -- accounts ---------------------------------------------------------------------------------------------
    def _account(self, key: str, name: str, host: _Host, weight: int) -> _Account:
        storage = MemoryStorage() if self.serialise_state else SimStorage()
        self.storages[key] = storage
        planner: AlarmPlanner | None = host.planner
        if host.planner is not None and self.scenario.cohort > 1:
            planner = CohortPlanner(host.planner, weight)
        if self.scenario.cohort > 1:
            self.kv.weights[key] = weight
        refresher = Refresher(AccountKey.parse(key), storage=storage, kv=self.kv, provider=self.providers[name],
                              client=self.clients[name], http=host.http, clock=self.clock, rng=self.rng,
                              kv_key=key, kv_margin=self.scenario.kv_margin, planner=planner)
        account = self.accounts[key] = _Account(key, refresher, storage, host, weight)
        return account

    def _onboard(self, account: _Account, number: int, sim: SimProvider) -> None:
        fields: dict[str, Any] = {"refresh_token": sim.grant(number)}
        if self.scenario.with_access_token:
            fields.update(access_token=f"a{number}.0", expires_in=sim.profile.lifetime)
        self.engine.spawn(account.refresher.register(**fields), lambda _r, e: self._after(account, e))

    def _after(self, account: _Account, error: BaseException | None) -> None:
        if error is not None:
            self.outcomes[f"error:{type(error).__name__}"] += account.weight
        at = account.storage.alarm
        if at is not None:
            self.engine.at(at, self._due, account, at)

    # -- the scheduler of each host ----------------------------------------------------------------------------
    def _due(self, account: _Account, at: float) -> None:
        if account.storage.alarm != at:
            return  # moved since (a stale heap entry)
        host = account.host
        if host.running + account.weight <= host.concurrency:
            self._fire(host, account, at)
        else:
            self._seq += 1
            heapq.heappush(host.waiting, (at, self._seq, account))
            host.queued += account.weight

    def _fire(self, host: _Host, account: _Account, at: float) -> None:
        host.running += account.weight
        self.kv.fired_at[account.key] = (at, self.clock.t)
        self.engine.spawn(account.refresher.alarm(), functools.partial(self._done, host, account))

    def _done(self, host: _Host, account: _Account, outcome: Outcome | None, error: BaseException | None) -> None:
        host.running -= account.weight
        self.refreshes += account.weight
        self.kv.fired_at.pop(account.key, None)
        if outcome is not None:
            self.outcomes[str(outcome.kind)] += account.weight
        self._after(account, error)
        while host.waiting and host.running + host.waiting[0][2].weight <= host.concurrency:
            at, _, queued = heapq.heappop(host.waiting)
            host.queued -= queued.weight
            if queued.storage.alarm == at:
                self._fire(host, queued, at)

    def _tick(self, now: float) -> None:
        for host in self.hosts:
            latency = host.planner.latency.value if host.planner is not None else self._mean_latency()
            reading = host.monitor.read(at=now, due=host.running + host.queued, latency=latency,
                                        concurrency=host.concurrency, lead=self.lead)
            if reading.alert:
                self.alerts.append({"at": now, "host": host.index, "due": reading.due,
                                    "drain_seconds": reading.drain_seconds, "ratio": reading.ratio})

    def _mean_latency(self) -> float:
        profiles = [s.profile for s in self.sim.values()]
        total = sum(p.accounts for p in profiles) or 1
        return sum(p.latency * p.accounts for p in profiles) / total

    # -- the run -------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        # The run allocates millions of short-lived objects and keeps a refresher and a state per account: at the
        # default thresholds the cyclic collector rescans them again and again (~15 % of the run), for the few
        # cycles there are. Collect less often while the run lasts.
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], GC_THRESHOLD), *thresholds[1:])
        try:
            return self._run()
        finally:
            gc.set_threshold(*thresholds)

    def _run(self) -> dict[str, Any]:
        sc = self.scenario
        wall = time.perf_counter()
        total = sum(p.accounts for p in sc.providers)
        n = 0
        simulated = 0
        for p in sc.providers:
            sim = self.sim[f"{p.name}.sim.example"]
            for a, weight in enumerate(cohorts(p.accounts, sc.cohort)):
                account = self._account(f"t:{p.name}:{a}", p.name, self.hosts[simulated % sc.hosts], weight)
                if sc.cohort > 1:
                    sim.weights[a] = weight
                when = START + (sc.onboarding * n / total if sc.onboarding else 0.0)
                self.engine.at(when, self._onboard, account, a, sim)
                n += weight
                simulated += 1
        end = START + sc.duration
        self.engine.run(end, on_tick=self._tick)
        demand: Counter[int] = Counter()
        for s in self.sim.values():
            demand.update(s.per_second)
        capacity = sc.hosts * sc.concurrency / max(1e-9, self._mean_latency())
        if sc.cpu_per_refresh:
            capacity = min(capacity, sc.hosts / sc.cpu_per_refresh)
        return report(scenario=sc, kv=self.kv, outcomes=self.outcomes, demand=demand, start=START, end=end,
                      capacity=capacity, alerts=self.alerts, providers=self.sim,
                      wall_seconds=time.perf_counter() - wall, events=self.engine.events,
                      refreshes=self.refreshes)
