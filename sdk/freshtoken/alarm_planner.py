"""The alarm planner contract: where the refresher's next alarm goes, given the latest moment it may go.

The refresher computes a deadline, ``due_by`` (``expiry - lead``, earlier for short tokens; see
:mod:`freshtoken.lead`), and asks its planner for the alarm time. A planner may answer any moment at or before
``due_by`` (never later) and not before ``now`` unless ``due_by`` itself has passed; the refresher stores the answer
as the account's ``next_refresh_at``. Without a planner the alarm is ``due_by`` itself (the Durable Object and
Temporal runtimes, each alarm in its own object). :class:`freshtoken.schedule.CapacityPlanner` is the embedded
runtime's planner: it spreads herds under the runtime's capacity.

:meth:`AlarmPlanner.observe` is told how long each token exchange took (the planner's latency estimate), and
:meth:`AlarmPlanner.forget` that an account no longer has a planned alarm.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class AlarmPlanner(Protocol):
    """Chooses alarm times (see the module docstring)."""

    def place(self, key: str, client: str, due_by: float, now: float) -> float:
        """The alarm time for ``key`` (of client ``client``): at most ``due_by``; at least ``now`` unless
        ``due_by <= now`` (then at or after ``now``: it is due)."""

    def observe(self, client: str, seconds: float) -> None:
        """One token exchange of ``client`` took ``seconds`` (success or failure alike: the slot was held)."""

    def forget(self, key: str) -> None:
        """``key`` has no planned alarm any more (removed, re-authorisation required, static token)."""
