"""Virtual time for the simulator: a :class:`~freshtoken.clock.Clock` whose waits are handed to the event loop of
:mod:`freshtoken.simulate.engine` instead of asyncio.

``await clock.sleep_until(t)`` suspends the coroutine with a :class:`Wake` marker; the engine resumes it when
virtual time reaches ``t``. Nothing else may suspend a simulated coroutine (the engine refuses it by name).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any


class Wake:
    """Yielded to the engine: resume me at ``at``."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    def __await__(self) -> Generator[Wake, Any, None]:
        yield self


class SimClock:
    """The simulator's clock: ``now`` is set by the engine; ``sleep_until`` suspends into the engine."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = float(start)

    def now(self) -> float:
        return self.t

    async def sleep_until(self, when: float) -> None:
        if when > self.t:
            await Wake(when)
