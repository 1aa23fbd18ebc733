"""The capacity-aware alarm planner: spreads alarms so that planned demand per second stays under capacity.

Capacity (refreshes per second) = ``utilization × concurrency / latency`` for the whole runtime, where
``latency`` is the EWMA of observed exchange durations (:class:`~freshtoken.schedule.latency.LatencyEstimate`),
and for each client with an operator-set ``rate_limit`` (requests per second, from the provider's quota) at
most that many per second. :meth:`CapacityPlanner.place` puts an alarm in the latest one-second bucket at or
before ``due_by`` where both the runtime's and the client's buckets have room: spread *before* the deadline,
never after it. A herd larger than fits between ``now`` and ``due_by`` lands as early as possible (at ``now``,
counted as ``overflow``): earlier, never later; the backlog alert (:mod:`freshtoken.schedule.backlog`) says so.
An alarm already due (``due_by <= now``: a registration without a token) is not delayed: it fires at ``now``
(the runtime's queue drains such a herd as fast as the provider answers) and is booked in the earliest buckets
with room, where the queue will run it, so that the alarms placed next keep clear of it.

Every planned alarm is remembered per account (placing it again moves it; :meth:`forget` drops it), so the
ledger is the planned demand (an account's past alarm leaves its bucket when the account is placed again, so the
ledger holds one entry per account); :meth:`CapacityPlanner.load` rebuilds it from stored alarms at
start-up. Pure and clock-driven: times come from the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .latency import LatencyEstimate
from .ledger import DemandLedger

#: Plan to this fraction of the measured capacity: head-room for latency spikes and retries.
DEFAULT_UTILIZATION = 0.8


@dataclass
class _Planned:
    at: float
    client: str
    weight: int = 1


class CapacityPlanner:
    """An :class:`~freshtoken.alarm_planner.AlarmPlanner` that knows its capacity (see the module docstring)."""

    def __init__(
        self,
        *,
        concurrency: int,
        rate_limits: Mapping[str, float] | None = None,
        latency: LatencyEstimate | None = None,
        utilization: float = DEFAULT_UTILIZATION,
    ) -> None:
        if not (isinstance(concurrency, int) and concurrency >= 1):
            raise ValueError(f"planner concurrency must be an integer of at least 1, not {concurrency!r}")
        if not 0 < utilization <= 1:
            raise ValueError(f"planner utilization must be in (0, 1], not {utilization!r}")
        self.concurrency = concurrency
        self.utilization = float(utilization)
        self.latency = latency or LatencyEstimate()
        self.rate_limits: dict[str, float] = {}
        for client, rate in (rate_limits or {}).items():
            if rate is None:
                continue
            if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
                raise ValueError(f"client {client!r}: rate_limit must be a positive number of requests per second, "
                                 f"not {rate!r}")
            self.rate_limits[client] = float(rate)
        self._runtime = DemandLedger(1.0)
        self._clients: dict[str, DemandLedger] = {
            c: DemandLedger(max(1.0, math.ceil(1.0 / r))) for c, r in self.rate_limits.items()
        }
        self._planned: dict[str, _Planned] = {}
        self.overflow = 0

    # -- capacity -----------------------------------------------------------------------------------------------
    @property
    def capacity(self) -> float:
        """Planned refreshes per second for the whole runtime: utilization × concurrency / latency."""
        return self.utilization * self.concurrency / self.latency.value

    def _runtime_slots(self) -> int:
        return max(1, math.floor(self.capacity))

    def _client_slots(self, client: str) -> int:
        ledger = self._clients[client]
        return max(1, math.floor(self.rate_limits[client] * ledger.width))

    def planned_in(self, start: float, end: float) -> int:
        """How many alarms are planned in ``[start, end)`` (whole buckets)."""
        led = self._runtime
        return sum(n for b, n in led.counts.items() if led.bucket(start) <= b < led.bucket(end))

    def peak(self, start: float, end: float) -> int:
        """The most alarms planned in one second within ``[start, end)``."""
        led = self._runtime
        return max((n for b, n in led.counts.items() if led.bucket(start) <= b < led.bucket(end)), default=0)

    def planned(self, key: str) -> float | None:
        p = self._planned.get(key)
        return None if p is None else p.at

    def __len__(self) -> int:
        return len(self._planned)

    # -- the AlarmPlanner contract --------------------------------------------------------------------------------
    def observe(self, client: str, seconds: float) -> None:
        self.latency.observe(seconds)

    def forget(self, key: str) -> None:
        p = self._planned.pop(key, None)
        if p is not None:
            self._unbook(p)

    def place(self, key: str, client: str, due_by: float, now: float, weight: int = 1) -> float:
        """See :class:`~freshtoken.alarm_planner.AlarmPlanner`. ``weight``: how many alarms this one stands for (the
        simulator's cohorts of identical accounts, ``freshtoken simulate --cohort``): booked together in one bucket
        that has room for all of them."""
        self.forget(key)  # placing again moves it
        if due_by <= now:  # due already: never delayed; booked where the queue will run it
            self._book(key, client, self._forward(self._ledgers(client, weight), now), weight)
            return now
        at = self._choose(client, due_by, now, weight)
        self._book(key, client, at, weight)
        return at

    def load(self, alarms: Iterable[tuple[str, float, str]]) -> int:
        """Count stored alarms ``(key, alarm_at, client)`` as planned (start-up); returns how many."""
        n = 0
        for key, at, client in alarms:
            self.forget(key)
            self._book(key, client, float(at))
            n += 1
        return n

    # -- internals -------------------------------------------------------------------------------------------------
    def _ledgers(self, client: str, weight: int = 1) -> list[tuple[DemandLedger, int]]:
        """Each ledger with the count a bucket must stay under to take ``weight`` more alarms."""
        out = [(self._runtime, max(1, self._runtime_slots() - weight + 1))]
        if client in self._clients:
            out.append((self._clients[client], max(1, self._client_slots(client) - weight + 1)))
        return out

    def _choose(self, client: str, due_by: float, now: float, weight: int = 1) -> float:
        ledgers = self._ledgers(client, weight)
        t = due_by
        while True:  # the latest moment <= t where every ledger has room; each step only moves t earlier
            moved = False
            for led, slots in ledgers:
                b = led.latest_free(led.bucket(t), led.bucket(now), slots)
                if b is None:
                    self.overflow += 1
                    return now  # cannot fit before the deadline: as early as possible
                end = led.end(b)
                if end < t:
                    t, moved = end, True
            if not moved:
                break
        led = self._runtime
        if led.bucket(t) < led.bucket(due_by):
            t = led.start(led.bucket(t))  # an earlier second: at its start, so its exchanges end within it
        return max(now, t)

    def _forward(self, ledgers: list[tuple[DemandLedger, int]], now: float) -> float:
        t = now
        while True:
            moved = False
            for led, slots in ledgers:
                b = led.earliest_free(led.bucket(t), slots)
                if b is None:  # pragma: no cover - ten million full buckets
                    return t
                start = led.start(b)
                if start > t:
                    t, moved = start, True
            if not moved:
                return t

    def _book(self, key: str, client: str, at: float, weight: int = 1) -> None:
        self._planned[key] = _Planned(at, client, weight)
        self._runtime.add(self._runtime.bucket(at), weight)
        led = self._clients.get(client)
        if led is not None:
            led.add(led.bucket(at), weight)

    def _unbook(self, p: _Planned) -> None:
        self._runtime.remove(self._runtime.bucket(p.at), p.weight)
        led = self._clients.get(p.client)
        if led is not None:
            led.remove(led.bucket(p.at), p.weight)
