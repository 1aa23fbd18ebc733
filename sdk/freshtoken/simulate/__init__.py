"""``freshtoken simulate``: a virtual-time simulation of a fleet that runs the real refresher and scheduler.

* :mod:`.scenario` — what to simulate (providers, hosts, concurrency, planner on or off), also from JSON;
* :mod:`.provider` — simulated token endpoints behind the real ``TokenHTTP.send`` (latency, failures, outages,
  rate limits, rotation with reuse detection);
* :mod:`.engine` and :mod:`.clock` — the discrete-event loop that steps the real coroutines in virtual time;
* :mod:`.fleet` — the hosts: alarms, slots, queues, the backlog monitor;
* :mod:`.storage` — each account's storage, its state held as an object;
* :mod:`.cohort` — cohort mode, an approximation for large fleets (one refresher per cohort of identical accounts);
* :mod:`.ledger` — what was measured (a tally, which adds up over processes: ``Scenario.workers``), and the report.

Not a model: each refresh is ``Refresher.alarm()`` with its storage, KV write and next alarm (docs/capacity.md).
"""

from __future__ import annotations

from .fleet import Simulation
from .ledger import table
from .provider import ProviderProfile
from .scenario import Scenario

__all__ = ["ProviderProfile", "Scenario", "Simulation", "table"]
