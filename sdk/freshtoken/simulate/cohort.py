"""Cohort mode (``Scenario.cohort`` / ``freshtoken simulate --cohort N``), an approximation for fleets too large to
simulate account by account: each simulated account stands for ``N`` identical accounts (same provider, onboarded
at the same instant).

One real :class:`~freshtoken.refresher.Refresher` runs per cohort, and the real
:class:`~freshtoken.schedule.CapacityPlanner` places its alarm through :class:`CohortPlanner`, which books it as
``N`` alarms in one second (``place(..., weight=N)``). The fleet holds ``N`` of a host's slots while the cohort's
exchange runs, and the simulated provider counts its request ``N`` times (demand, rate limit). What is lost: the
accounts of a cohort share one latency draw, one failure draw and one second of the planner's ledger, so the
spread inside a cohort and the variance of random failures are not simulated. The report says which mode ran.
"""

from __future__ import annotations

from ..schedule import CapacityPlanner


class CohortPlanner:
    """An :class:`~freshtoken.alarm_planner.AlarmPlanner` for one cohort: the host's planner, with its weight."""

    __slots__ = ("planner", "weight")

    def __init__(self, planner: CapacityPlanner, weight: int) -> None:
        self.planner = planner
        self.weight = weight

    def place(self, key: str, client: str, due_by: float, now: float) -> float:
        return self.planner.place(key, client, due_by, now, weight=self.weight)

    def observe(self, client: str, seconds: float) -> None:
        self.planner.observe(client, seconds)

    def forget(self, key: str) -> None:
        self.planner.forget(key)


def cohorts(accounts: int, size: int) -> list[int]:
    """The sizes of the cohorts of ``accounts`` accounts: ``size`` each, the last one what remains."""
    full, rest = divmod(accounts, size)
    return [size] * full + ([rest] if rest else [])
