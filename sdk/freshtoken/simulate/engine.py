"""The discrete-event engine: virtual time, a heap of timed events, and coroutines stepped by hand.

Each simulated refresh or registration is the real coroutine (``Refresher.alarm()``, ``Refresher.register()``)
driven with ``send(None)``: it runs until it awaits virtual time (:class:`~freshtoken.simulate.clock.Wake`), is
parked in the heap, and resumes when the clock gets there. No asyncio loop turns per event and no wall-clock time
passes in a wait, so a simulated day costs only the CPU of the code under test. An event is a function and its
arguments (no closure is built per event). Pure: no I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Coroutine
from typing import Any

from .clock import SimClock, Wake

Done = Callable[[Any, BaseException | None], None]


class SimulationError(RuntimeError):
    """A simulated coroutine waited on something other than virtual time (it would never be resumed)."""


class Engine:
    """Timed callbacks and coroutine processes over a :class:`SimClock` (see the module docstring)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        #: (when, sequence, function, arguments): the sequence keeps events of one instant in the order given
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self.events = 0

    def at(self, when: float, callback: Callable[..., None], *args: Any) -> None:
        """Call ``callback(*args)`` when virtual time reaches ``when`` (now, if it has passed)."""
        self._seq += 1
        t = self.clock.t
        heapq.heappush(self._heap, (when if when > t else t, self._seq, callback, args))

    def spawn(self, coro: Coroutine[Any, Any, Any], done: Done) -> None:
        """Run ``coro`` now until it waits; ``done(result, error)`` when it finishes."""
        self._step(coro, done)

    def _step(self, coro: Coroutine[Any, Any, Any], done: Done) -> None:
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            done(stop.value, None)
            return
        except Exception as exc:
            done(None, exc)
            return
        if isinstance(yielded, Wake):
            self.at(yielded.at, self._step, coro, done)
        elif yielded is None:  # a bare yield (asyncio.sleep(0)): resume at the same moment
            self.at(self.clock.t, self._step, coro, done)
        else:
            coro.close()
            raise SimulationError(
                f"a simulated coroutine awaited {type(yielded).__name__}, not virtual time: the code under "
                "simulation must wait only through its clock"
            )

    def run(self, until: float, *, on_tick: Callable[[int], None] | None = None) -> None:
        """Process events in time order up to ``until``. ``on_tick(second)`` at the first whole virtual second after
        each second that had events (and once after the last, if ``until`` has not passed): it sees what every
        event before that second left. This is what a reading every second would see, for it changes only with
        events, and the same whichever other events (of other hosts, in other processes) there are."""
        heap = self._heap
        clock = self.clock
        pop = heapq.heappop
        tick: int | None = None  # the second of the last events
        events = 0
        try:
            while heap and heap[0][0] <= until:
                when, _, callback, args = pop(heap)
                if on_tick is not None and (tick is None or when >= tick + 1):
                    if tick is not None:  # the seconds after it, up to this event's, would read the same
                        clock.t = float(tick + 1)
                        on_tick(tick + 1)
                    tick = int(when)
                clock.t = when
                events += 1
                callback(*args)
        finally:
            self.events += events
        if on_tick is not None and tick is not None and tick + 1 <= until:
            clock.t = float(tick + 1)
            on_tick(tick + 1)
        clock.t = max(clock.t, until)

    def pending(self) -> int:
        return len(self._heap)
