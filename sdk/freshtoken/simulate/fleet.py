"""The simulated fleet: hosts that run the real :class:`~freshtoken.refresher.Refresher` and the real
:class:`~freshtoken.schedule.CapacityPlanner` in virtual time, as the embedded runtime hosts them.

Each account has a :class:`~freshtoken.storage.MemoryStorage` (state kept serialised, exactly as a store keeps
it) and one alarm. When an alarm comes due, its host runs ``Refresher.alarm()`` if one of its ``concurrency``
slots is free, else queues it (oldest first), as the embedded scheduler does; the refresher's next alarm is read
back from the storage when it finishes. Onboarding runs ``Refresher.register()``. Once a virtual second each
host's backlog (queued + in flight) is read by a :class:`~freshtoken.schedule.BacklogMonitor`.
"""

from __future__ import annotations

import functools
import heapq
import random
import time
from collections import Counter
from typing import Any

from ..client import OAuthClient
from ..host.providers import ClientProviders
from ..outcome import Outcome
from ..plugins import Plugins
from ..provider import Provider
from ..providers import generic
from ..refresher import Refresher
from ..schedule import BacklogMonitor, CapacityPlanner, LatencyEstimate
from ..storage import MemoryStorage
from .clock import SimClock
from .engine import Engine
from .ledger import RecordingKV, report
from .provider import SimHTTP, SimProvider
from .scenario import Scenario

START = 1_800_000_000.0


class _Host:
    def __init__(self, index: int, concurrency: int, planner: CapacityPlanner | None, threshold: float,
                 http: SimHTTP) -> None:
        self.index = index
        self.http = http
        self.concurrency = concurrency
        self.planner = planner
        self.running = 0
        self.waiting: list[tuple[float, int, str]] = []
        self.monitor = BacklogMonitor(threshold)


class Simulation:
    """One run of a :class:`Scenario` (see the module docstring). :meth:`run` returns the report dict."""

    def __init__(self, scenario: Scenario) -> None:
        scenario.check()
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
        self._host_of: dict[str, _Host] = {}
        self._client_of: dict[str, str] = {}
        self._seq = 0
        self.outcomes: Counter[str] = Counter()
        self.alerts: list[dict[str, Any]] = []
        self.refreshes = 0

    # -- accounts ---------------------------------------------------------------------------------------------
    def _refresher(self, key: str) -> Refresher:
        name = self._client_of[key]
        host = self._host_of[key]
        return Refresher(key, storage=self.storages[key], kv=self.kv, provider=self.providers[name],
                         client=self.clients[name], http=host.http, clock=self.clock, rng=self.rng,
                         kv_margin=self.scenario.kv_margin, planner=host.planner)

    def _onboard(self, key: str, account: int, sim: SimProvider) -> None:
        fields: dict[str, Any] = {"refresh_token": sim.grant(account)}
        if self.scenario.with_access_token:
            fields.update(access_token=f"a{account}.0", expires_in=sim.profile.lifetime)
        self.engine.spawn(self._refresher(key).register(**fields), lambda _r, e: self._after(key, e))

    def _after(self, key: str, error: BaseException | None) -> None:
        if error is not None:
            self.outcomes[f"error:{type(error).__name__}"] += 1
        at = self.storages[key].alarm
        if at is not None:
            self.engine.at(at, lambda: self._due(key, at))

    # -- the scheduler of each host ----------------------------------------------------------------------------
    def _due(self, key: str, at: float) -> None:
        if self.storages[key].alarm != at:
            return  # moved since (a stale heap entry)
        host = self._host_of[key]
        if host.running < host.concurrency:
            self._fire(host, key, at)
        else:
            self._seq += 1
            heapq.heappush(host.waiting, (at, self._seq, key))

    def _fire(self, host: _Host, key: str, at: float) -> None:
        host.running += 1
        self.kv.fired_at[key] = (at, self.clock.t)
        self.engine.spawn(self._refresher(key).alarm(), lambda r, e: self._done(host, key, r, e))

    def _done(self, host: _Host, key: str, outcome: Outcome | None, error: BaseException | None) -> None:
        host.running -= 1
        self.refreshes += 1
        self.kv.fired_at.pop(key, None)
        if outcome is not None:
            self.outcomes[str(outcome.kind)] += 1
        self._after(key, error)
        while host.waiting and host.running < host.concurrency:
            at, _, k = heapq.heappop(host.waiting)
            if self.storages[k].alarm == at:
                self._fire(host, k, at)

    def _tick(self, now: float) -> None:
        for host in self.hosts:
            latency = host.planner.latency.value if host.planner is not None else self._mean_latency()
            reading = host.monitor.read(at=now, due=host.running + len(host.waiting), latency=latency,
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
        sc = self.scenario
        wall = time.perf_counter()
        total = sum(p.accounts for p in sc.providers)
        n = 0
        for p in sc.providers:
            sim = self.sim[f"{p.name}.sim.example"]
            for a in range(p.accounts):
                key = f"t:{p.name}:{a}"
                self.storages[key] = MemoryStorage()
                self._client_of[key] = p.name
                self._host_of[key] = self.hosts[n % sc.hosts]
                when = START + (sc.onboarding * n / total if sc.onboarding else 0.0)
                self.engine.at(when, functools.partial(self._onboard, key, a, sim))
                n += 1
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
