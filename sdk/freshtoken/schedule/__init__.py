"""Capacity-aware scheduling: where alarms go so that a herd never lapses (issue 17; docs/capacity.md).

* :mod:`.capacity` — :class:`CapacityPlanner`, the embedded runtime's
  :class:`~freshtoken.alarm_planner.AlarmPlanner`: alarms spread before their deadline under
  ``concurrency / latency`` and each client's ``rate_limit``; a herd that does not fit goes earlier;
* :mod:`.ledger` — planned demand per bucket and the latest/earliest bucket with room;
* :mod:`.latency` — the EWMA of observed exchange durations;
* :mod:`.backlog` — the early warning: due backlog × latency / concurrency against the lead.

Pure and clock-driven: no I/O, times come from the caller.
"""

from __future__ import annotations

from .backlog import BacklogMonitor, BacklogReading
from .capacity import DEFAULT_UTILIZATION, CapacityPlanner
from .latency import LatencyEstimate
from .ledger import DemandLedger

__all__ = [
    "DEFAULT_UTILIZATION",
    "BacklogMonitor",
    "BacklogReading",
    "CapacityPlanner",
    "DemandLedger",
    "LatencyEstimate",
]
