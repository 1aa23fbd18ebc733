"""``GET /ready``: whether this process should receive work (an orchestrator's readiness probe).

Four checks, each with its measured value and limit, none revealing a secret:

* ``database`` — the state database takes a write (a one-row upsert in its meta table, in a write transaction);
* ``keys`` — the configured encryption keys open the database's key-check value;
* ``scheduler`` — the scheduler loop is running and its last wake-up was at most ``max_loop_lag`` late;
* ``overdue`` — the oldest alarm that fell due and has not started is at most ``max_overdue`` old.

``/health`` stays a liveness probe (the process answers); a failing ``/ready`` means "do not send traffic / do not
count me", not "restart me".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .schemas import Ready, ReadyCheck

if TYPE_CHECKING:
    from ..embedded import EmbeddedRuntime


@dataclass(frozen=True)
class ReadyLimits:
    max_loop_lag: float = 5.0
    max_overdue: float = 120.0


async def readiness(runtime: EmbeddedRuntime, limits: ReadyLimits = ReadyLimits()) -> Ready:
    checks = {
        "database": await asyncio.to_thread(_database, runtime),
        "keys": await asyncio.to_thread(_keys, runtime),
        "scheduler": _scheduler(runtime, limits),
        "overdue": await asyncio.to_thread(_overdue, runtime, limits),
    }
    ok = all(c.ok for c in checks.values())
    return Ready(status="ready" if ok else "not_ready", checks=checks)


def _database(runtime: EmbeddedRuntime) -> ReadyCheck:
    try:
        runtime.store.probe_write(runtime.clock.now())
    except Exception as exc:
        return ReadyCheck(ok=False, detail=f"the state database does not take a write ({_reason(exc)})")
    return ReadyCheck(ok=True, detail="writable")


def _keys(runtime: EmbeddedRuntime) -> ReadyCheck:
    try:
        runtime.store.check_keys()
    except Exception as exc:
        return ReadyCheck(ok=False, detail=f"the configured keys do not open the database ({_reason(exc)})")
    return ReadyCheck(ok=True, detail="the configured keys open the database")


def _scheduler(runtime: EmbeddedRuntime, limits: ReadyLimits) -> ReadyCheck:
    stats: dict[str, Any] = runtime.stats()
    if not stats.get("running"):
        return ReadyCheck(ok=False, detail="the scheduler is not running", limit=limits.max_loop_lag)
    lag = stats.get("last_loop_lag")
    value = float(lag) if isinstance(lag, int | float) else 0.0
    ok = value <= limits.max_loop_lag
    return ReadyCheck(ok=ok, value=value, limit=limits.max_loop_lag,
                      detail="on time" if ok else f"the scheduler woke {value:.1f} s late")


def _overdue(runtime: EmbeddedRuntime, limits: ReadyLimits) -> ReadyCheck:
    now = runtime.clock.now()
    try:
        oldest = runtime.store.next_alarm_at(now)  # alarms not being refreshed (a lease hides the rest)
    except Exception as exc:
        return ReadyCheck(ok=False, detail=f"alarms cannot be read ({_reason(exc)})", limit=limits.max_overdue)
    if oldest is not None and oldest > now:
        oldest = None
    age = 0.0 if oldest is None else now - oldest
    ok = age <= limits.max_overdue
    return ReadyCheck(ok=ok, value=age, limit=limits.max_overdue,
                      detail="no alarm overdue" if oldest is None else
                      ("within the limit" if ok else f"an alarm is {age:.0f} s overdue"))


def _reason(exc: BaseException) -> str:
    """The error's class and first line, bounded (the store's errors name paths and key ids, not secrets)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:400]}" if text else type(exc).__name__
