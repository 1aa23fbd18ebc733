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

Hosts share nothing but the providers' rate limits: each has its own slots, planner, random streams and simulated
endpoints (one per provider and host; a provider with a ``rate_limit`` is one endpoint for all, since that limit
counts every host's requests). So a run can be split over processes by host (``Scenario.workers``): each process
simulates its share of the hosts and the :class:`~freshtoken.simulate.ledger.Tally` of each adds up to the report
that one process gives (tests/simulate/test_workers.py).
"""

from __future__ import annotations

import functools
import gc
import heapq
import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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
from .engine import Engine, SimulationError
from .ledger import RecordingKV, Tally, report
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
                 http: SimHTTP, sims: dict[str, SimProvider], rng: random.Random) -> None:
        self.index = index
        self.http = http
        #: the simulated endpoint of each provider (by host name) that this host's requests reach
        self.sims = sims
        #: the random stream of this host's refreshers (backoff jitter)
        self.rng = rng
        self.concurrency = concurrency
        self.planner = planner
        self.running = 0  # slots held (accounts, in cohort mode)
        self.waiting: list[tuple[float, int, _Account]] = []
        self.queued = 0  # accounts in ``waiting`` (stale entries included, as len(waiting) counts them)
        self.monitor = BacklogMonitor(threshold)


class Simulation:
    """One run of a :class:`Scenario` (see the module docstring). :meth:`run` returns the report dict."""

    def __init__(self, scenario: Scenario, *, serialise_state: bool = False,
                 hosts: Sequence[int] | None = None) -> None:
        """``serialise_state``: keep each account's state serialised (``MemoryStorage``) rather than as an object
        (``SimStorage``): slower, the same answers. ``hosts``: simulate only these hosts (by index; default all) —
        one process's share when the run is split (:meth:`run` does that for ``scenario.workers`` > 1)."""
        scenario.check()
        self.serialise_state = serialise_state
        self.scenario = scenario
        mine = set(range(scenario.hosts) if hosts is None else hosts)
        self.clock = SimClock(START)
        self.engine = Engine(self.clock)
        self.rng = random.Random(scenario.seed)
        plugins = Plugins(entry_points=False)
        plugins.register(generic, name="generic")
        factory = ClientProviders(plugins)
        self.clients: dict[str, OAuthClient] = {}
        self.providers: dict[str, Provider] = {}
        #: every simulated endpoint of this process
        self.endpoints: list[SimProvider] = []
        shared: dict[str, SimProvider] = {}  # providers with a rate limit: one endpoint for every host
        first_seed: dict[str, float] = {}
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
            # host 0's endpoint takes the seed every endpoint took before hosts had their own (a one-host run
            # gives the answers it gave then); the other hosts' streams are derived from the seed and the host
            first_seed[host] = self.rng.random()
            if p.rate_limit is not None:
                shared[host] = self._endpoint(p, random.Random(first_seed[host]))
            lead_of[p.name] = self.providers[p.name].lead
        self.lead = min(lead_of.values())
        self.storages: dict[str, MemoryStorage] = {}
        self.kv = RecordingKV(self.clock, lead_of, scenario.kv_margin, self.storages,
                              {p.name: p.lifetime for p in scenario.providers})
        self.hosts: list[_Host] = []
        for i in sorted(mine):
            sims = {
                name: shared.get(name) or self._endpoint(p, random.Random(
                    first_seed[name] if i == 0 else f"{scenario.seed}:{p.name}:{i}"))
                for name, p in ((f"{p.name}.sim.example", p) for p in scenario.providers)
            }
            planner = None
            if scenario.planner:
                rates = {p.name: p.client_rate_limit / scenario.hosts for p in scenario.providers
                         if p.client_rate_limit is not None}
                planner = CapacityPlanner(concurrency=scenario.concurrency, rate_limits=rates,
                                          latency=LatencyEstimate())
            http = SimHTTP(self.clock, sims, cpu_per_refresh=scenario.cpu_per_refresh)
            rng = self.rng if i == 0 else random.Random(f"{scenario.seed}:host:{i}")
            self.hosts.append(_Host(i, scenario.concurrency, planner, scenario.backlog_threshold, http, sims, rng))
        self.accounts: dict[str, _Account] = {}
        self._seq = 0
        self.outcomes: Counter[str] = Counter()
        self.alerts: list[dict[str, Any]] = []
        self.refreshes = 0

    def _endpoint(self, profile: Any, rng: random.Random) -> SimProvider:
        endpoint = SimProvider(profile, self.clock, rng, START)
        self.endpoints.append(endpoint)
        return endpoint

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
                              client=self.clients[name], http=host.http, clock=self.clock, rng=host.rng,
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

    def _tick(self, second: int) -> None:
        """Each host reads its backlog as it stands at ``second`` (the engine calls this at the first second after
        events; a reading of an unchanged backlog repeats the last one, and an idle host's changes nothing unless
        it was alerting: it is skipped)."""
        now = float(second)
        for host in self.hosts:
            due = host.running + host.queued
            if not due and not host.monitor.alerting:
                continue
            latency = host.planner.latency.value if host.planner is not None else self._mean_latency()
            reading = host.monitor.read(at=now, due=due, latency=latency, concurrency=host.concurrency,
                                        lead=self.lead)
            if reading.alert:
                self.alerts.append({"at": now, "host": host.index, "due": reading.due,
                                    "drain_seconds": reading.drain_seconds, "ratio": reading.ratio})

    def _mean_latency(self) -> float:
        profiles = self.scenario.providers
        total = sum(p.accounts for p in profiles) or 1
        return sum(p.latency * p.accounts for p in profiles) / total

    # -- the run -------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Simulate the scenario and return the report. With ``scenario.workers`` > 1 the hosts are split over
        that many processes (at most one per host), each a :class:`Simulation` of its share; the report is the
        one a single process gives, but for ``wall_seconds``, ``cpu_seconds`` and ``workers``. The workers are
        started with ``spawn``: a script that runs a split simulation needs ``if __name__ == "__main__":``."""
        sc = self.scenario
        wall = time.perf_counter()
        workers = min(sc.workers, sc.hosts, len(self.hosts))
        if workers <= 1:
            tally = self.tally()
        else:
            shares = [[h.index for h in self.hosts[w::workers]] for w in range(workers)]
            # spawn, not fork: a forked copy of a process with threads (a test runner, a host) can deadlock
            try:
                with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                    tallies = list(pool.map(_share, [(sc, self.serialise_state, share) for share in shares]))
            except BrokenProcessPool:
                raise SimulationError(
                    f"a worker process of the simulation ({workers} workers) died before it reported: killed, or "
                    "out of memory; with workers 1 the run stays in this process"
                ) from None
            tally = tallies[0]
            for other in tallies[1:]:
                tally.add(other)
        capacity = sc.hosts * sc.concurrency / max(1e-9, self._mean_latency())
        if sc.cpu_per_refresh:
            capacity = min(capacity, sc.hosts / sc.cpu_per_refresh)
        return report(scenario=sc, tally=tally, start=START, end=START + sc.duration, capacity=capacity,
                      wall_seconds=time.perf_counter() - wall, workers=max(1, workers))

    def tally(self) -> Tally:
        """Simulate this process's hosts (all of them unless ``hosts`` was given) and say what was measured."""
        # The run allocates millions of short-lived objects and keeps a refresher and a state per account: at the
        # default thresholds the cyclic collector rescans them again and again (~15 % of the run), for the few
        # cycles there are. Collect less often while the run lasts.
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], GC_THRESHOLD), *thresholds[1:])
        cpu = time.process_time()
        try:
            self._run()
        finally:
            gc.set_threshold(*thresholds)
        kv = self.kv
        demand: Counter[int] = Counter()
        for endpoint in self.endpoints:
            demand.update(endpoint.per_second)
        return Tally(
            simulated_accounts=len(self.accounts), refreshes=self.refreshes, events=self.engine.events,
            outcomes=self.outcomes, alerts=self.alerts, demand=demand, delay=kv.delay, late=kv.late,
            lapsed=kv.lapsed, lapsed_seconds=kv.lapsed_seconds, first_lapse=kv.first_lapse,
            order_violations=kv.order_violations, expired_at_end=kv.expired_at(START + self.scenario.duration),
            reuse_detected=sum(e.reuse_detected for e in self.endpoints),
            rate_limited=sum(e.rate_limited for e in self.endpoints), cpu_seconds=time.process_time() - cpu,
        )

    def _run(self) -> None:
        sc = self.scenario
        total = sum(p.accounts for p in sc.providers)
        mine = {h.index: h for h in self.hosts}
        n = 0
        simulated = 0
        for p in sc.providers:
            name = f"{p.name}.sim.example"
            for a, weight in enumerate(cohorts(p.accounts, sc.cohort)):
                host = mine.get(simulated % sc.hosts)
                if host is not None:  # another process's host otherwise
                    account = self._account(f"t:{p.name}:{a}", p.name, host, weight)
                    sim = host.sims[name]
                    if sc.cohort > 1:
                        sim.weights[a] = weight
                    when = START + (sc.onboarding * n / total if sc.onboarding else 0.0)
                    self.engine.at(when, self._onboard, account, a, sim)
                n += weight
                simulated += 1
        self.engine.run(START + sc.duration, on_tick=self._tick)


def _share(job: tuple[Scenario, bool, list[int]]) -> Tally:
    """One worker process's part of a run: its hosts' tally."""
    scenario, serialise_state, hosts = job
    return Simulation(scenario, serialise_state=serialise_state, hosts=hosts).tally()
