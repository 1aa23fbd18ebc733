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


def report(*, scenario: Any, kv: RecordingKV, outcomes: Counter[str], demand: Counter[int], start: float,
           end: float, capacity: float, alerts: list[dict[str, Any]], providers: dict[str, Any],
           wall_seconds: float, events: int, refreshes: int) -> dict[str, Any]:
    """The simulation's figures, as a JSON-ready dict."""
    cycle = min(p.lifetime for p in scenario.providers)
    steady = [n for s, n in demand.items() if s >= start + cycle]
    first = [n for s, n in demand.items() if s < start + cycle]
    first_alert = alerts[0]["at"] - start if alerts else None
    cohort = getattr(scenario, "cohort", 1)
    return {
        "accounts": sum(p.accounts for p in scenario.providers),
        "mode": "per-account" if cohort == 1 else f"COHORTS of {cohort} identical accounts (approximation)",
        "simulated_accounts": len(kv.storages),
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
        "delay_p50": percentile(kv.delay, 0.50),
        "delay_p99": percentile(kv.delay, 0.99),
        "lateness_p50": percentile(kv.late, 0.50),
        "lateness_p99": percentile(kv.late, 0.99),
        "lateness_max": max(kv.late, default=0.0),
        "late_refreshes": sum(1 for x in kv.late if x > 0),
        "lapsed_tokens": kv.lapsed,
        "lapsed_token_seconds": kv.lapsed_seconds,
        "first_lapse_at": None if kv.first_lapse is None else kv.first_lapse - start,
        "expired_at_end": kv.expired_at(end),
        "reauth_required": outcomes.get("reauth_required", 0),
        "reuse_detected": sum(p.reuse_detected for p in providers.values()),
        "rate_limited": sum(p.rate_limited for p in providers.values()),
        "persistence_order_violations": kv.order_violations,
        "backlog_alerts": alerts,
        "first_alert_at": first_alert,
        "alert_before_first_lapse": None if kv.first_lapse is None else (
            first_alert is not None and first_alert < kv.first_lapse - start),
        "wall_seconds": wall_seconds,
        "events": events,
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
