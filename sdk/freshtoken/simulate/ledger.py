"""What the simulation measured: each token handed to KV (when, how late against its deadline, whether the old
one had lapsed), demand per second at the providers, outcomes, backlog alerts; and the report built from them.

:class:`RecordingKV` is the KV the simulated refreshers write to: it keeps each account's current token expiry
(from the record: its TTL may outlive it; not the value: a million accounts stay small) and checks
persistence order — the state holding a token's
generation must be saved before that token reaches KV.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..lead import refresh_at
from ..storage import MemoryStorage
from .clock import SimClock

#: json's own decoder (what ``json.loads`` runs, without its checks of the text around the value)
_scan = json.JSONDecoder().raw_decode


def percentile(values: array[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


class RecordingKV:
    """A KV writer that measures instead of storing (see the module docstring)."""

    def __init__(self, clock: SimClock, lead_of: dict[str, float], margin: float,
                 storages: dict[str, MemoryStorage], lifetime_of: dict[str, float] | None = None) -> None:
        self.clock = clock
        self.lead_of = lead_of
        #: The providers' token lifetimes: the record's expiry is in whole seconds, the state's is exact.
        self.lifetime_of = lifetime_of or {}
        self.margin = margin
        self.storages = storages
        self.tokens: dict[str, tuple[float, float | None]] = {}  # key -> (landed, expires_at)
        self.fired_at: dict[str, tuple[float, float]] = {}  # key -> (its alarm, when a slot took it)
        self.delay: array[float] = array("d")  # landed - the alarm that produced it
        #: when the refresh started (a slot took it) - the deadline (expiry - lead) of the token it replaced
        self.late: array[float] = array("d")
        self.lapsed = 0
        #: Each term is a whole number of the clock's steps (2**-22 s between 2**30 and 2**31 s since the epoch:
        #: virtual times), so the sum is exact, in any order, up to 2**31 s: a run split over processes adds it up
        #: to the same figure.
        self.lapsed_seconds = 0.0
        self.first_lapse: float | None = None
        self.order_violations = 0
        self.writes = 0
        #: Cohort mode: key -> how many identical accounts it stands for (absent: 1). Lapses count accounts; the
        #: delay and lateness samples are one per cohort (cohorts are of one size, but the last of each provider).
        self.weights: dict[str, int] = {}

    async def put(self, key: str, value: str, ttl: float | None) -> None:
        now = self.clock.t
        self.writes += 1
        record = _scan(value, 0)[0]  # the record as json.loads reads it (written by the refresher: one object)
        storage = self.storages.get(key)
        if storage is not None and storage._cell.generation != record.get("generation"):
            self.order_violations += 1  # the record reached KV before the state of its generation was saved
        prev = self.tokens.get(key)
        # a token record carries its expiry (its TTL may outlive it); a reason record (no token) serves nothing
        expires = record.get("expires_at") if "access_token" in record else now
        provider = key.split(":", 2)[1]
        lifetime = self.lifetime_of.get(provider)
        if expires is not None and lifetime is not None and abs(now + lifetime - expires) < 1.0:
            expires = now + lifetime  # issued at this instant (virtual time does not move during a write)
        self.tokens[key] = (now, None if expires is None else float(expires))
        fired = self.fired_at.pop(key, None)
        if fired is not None:
            self.delay.append(now - fired[0])
        if prev is None:
            return
        issued, expires = prev
        if expires is None:
            return
        lead = self.lead_of[provider]
        started = now if fired is None else fired[1]
        self.late.append(max(0.0, started - refresh_at(issued, expires, lead, margin=self.margin)))
        if now > expires:
            weight = self.weights.get(key, 1) if self.weights else 1
            self.lapsed += weight
            self.lapsed_seconds += weight * (now - expires)
            if self.first_lapse is None:
                self.first_lapse = now

    async def delete(self, key: str) -> None:
        self.tokens.pop(key, None)

    def expired_at(self, now: float) -> int:
        """Accounts whose token in KV has expired at ``now`` (the request path fails for them)."""
        weights = self.weights
        return sum(weights.get(key, 1) for key, (_, exp) in self.tokens.items() if exp is not None and exp <= now)


@dataclass
class Tally:
    """What a run measured over some hosts: a whole run's, or one process's share of the hosts
    (``Scenario.workers``). Tallies of disjoint hosts add up (:meth:`add`) to the tally of all of them, the same
    whichever way the hosts were split; :func:`report` turns one into the report."""

    simulated_accounts: int = 0
    refreshes: int = 0
    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: virtual second -> requests the providers received in it
    demand: Counter[int] = field(default_factory=Counter)
    delay: array[float] = field(default_factory=lambda: array("d"))
    late: array[float] = field(default_factory=lambda: array("d"))
    lapsed: int = 0
    lapsed_seconds: float = 0.0
    first_lapse: float | None = None
    order_violations: int = 0
    expired_at_end: int = 0
    reuse_detected: int = 0
    rate_limited: int = 0
    #: CPU seconds the simulation took (every process of it)
    cpu_seconds: float = 0.0

    def add(self, other: Tally) -> None:
        """Add the tally of other hosts."""
        self.simulated_accounts += other.simulated_accounts
        self.refreshes += other.refreshes
        self.events += other.events
        self.outcomes.update(other.outcomes)
        # one instant's alerts in host order, as one process ticking every host appends them
        self.alerts = sorted(self.alerts + other.alerts, key=lambda a: (a["at"], a["host"]))
        self.demand.update(other.demand)
        self.delay.extend(other.delay)
        self.late.extend(other.late)
        self.lapsed += other.lapsed
        self.lapsed_seconds += other.lapsed_seconds
        if other.first_lapse is not None and (self.first_lapse is None or other.first_lapse < self.first_lapse):
            self.first_lapse = other.first_lapse
        self.order_violations += other.order_violations
        self.expired_at_end += other.expired_at_end
        self.reuse_detected += other.reuse_detected
        self.rate_limited += other.rate_limited
        self.cpu_seconds += other.cpu_seconds


def report(*, scenario: Any, tally: Tally, start: float, end: float, capacity: float, wall_seconds: float,
           workers: int) -> dict[str, Any]:
    """The simulation's figures, as a JSON-ready dict."""
    cycle = min(p.lifetime for p in scenario.providers)
    demand, alerts, outcomes, refreshes = tally.demand, tally.alerts, tally.outcomes, tally.refreshes
    steady = [n for s, n in demand.items() if s >= start + cycle]
    first = [n for s, n in demand.items() if s < start + cycle]
    first_alert = alerts[0]["at"] - start if alerts else None
    cohort = getattr(scenario, "cohort", 1)
    return {
        "accounts": sum(p.accounts for p in scenario.providers),
        "mode": "per-account" if cohort == 1 else f"COHORTS of {cohort} identical accounts (approximation)",
        "simulated_accounts": tally.simulated_accounts,
        "hosts": scenario.hosts,
        "concurrency": scenario.concurrency,
        "planner": "capacity" if scenario.planner else "deadline",
        "simulated_seconds": end - start,
        "capacity_per_second": capacity,
        "peak_demand_per_second": max(demand.values(), default=0),
        "peak_demand_first_cycle": max(first, default=0),
        "peak_demand_after_first_cycle": max(steady, default=0),
        "refreshes": refreshes,
        "outcomes": dict(sorted(outcomes.items())),
        "delay_p50": percentile(tally.delay, 0.50),
        "delay_p99": percentile(tally.delay, 0.99),
        "lateness_p50": percentile(tally.late, 0.50),
        "lateness_p99": percentile(tally.late, 0.99),
        "lateness_max": max(tally.late, default=0.0),
        "late_refreshes": sum(1 for x in tally.late if x > 0),
        "lapsed_tokens": tally.lapsed,
        "lapsed_token_seconds": tally.lapsed_seconds,
        "first_lapse_at": None if tally.first_lapse is None else tally.first_lapse - start,
        "expired_at_end": tally.expired_at_end,
        "reauth_required": outcomes.get("reauth_required", 0),
        "reuse_detected": tally.reuse_detected,
        "rate_limited": tally.rate_limited,
        "persistence_order_violations": tally.order_violations,
        "backlog_alerts": alerts,
        "first_alert_at": first_alert,
        "alert_before_first_lapse": None if tally.first_lapse is None else (
            first_alert is not None and first_alert < tally.first_lapse - start),
        "wall_seconds": wall_seconds,
        "cpu_seconds": tally.cpu_seconds,
        "workers": workers,
        "events": tally.events,
        "wall_us_per_refresh": 1e6 * wall_seconds / refreshes if refreshes else None,
    }


def table(r: dict[str, Any]) -> str:
    """The report as an aligned two-column table."""
    rows: list[tuple[str, str]] = []
    for k, v in r.items():
        if k == "backlog_alerts":
            v = len(v)
        if isinstance(v, float):
            v = f"{v:.3f}" if abs(v) < 1000 else f"{v:,.0f}"
        elif isinstance(v, int) and not isinstance(v, bool):
            v = f"{v:,}"
        elif isinstance(v, dict):
            v = ", ".join(f"{a}={b:,}" for a, b in v.items()) or "-"
        rows.append((k, "-" if v is None else str(v)))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)
