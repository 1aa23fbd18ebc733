"""Planned demand per time bucket, and the search for the latest (or earliest) bucket with room.

A :class:`DemandLedger` counts planned alarms per bucket of ``width`` seconds. :meth:`DemandLedger.latest_free`
finds the latest bucket at or before a given one whose count is below a number of slots, skipping full buckets
with "next candidate" pointers (path-compressed, as in a disjoint-set forest) so that placing a herd of N alarms
costs about N lookups, not N² bucket scans. The pointers are hints: a bucket that has room again (an alarm moved
away, more slots) may stay skipped by a pointer that jumped over it, which only ever places an alarm earlier.
Pure: no clock, no I/O.
"""

from __future__ import annotations

import math


class DemandLedger:
    """Counts of planned alarms per bucket (see the module docstring)."""

    def __init__(self, width: float = 1.0) -> None:
        if not (isinstance(width, int | float) and width > 0 and math.isfinite(width)):
            raise ValueError(f"a ledger's bucket width must be a positive number of seconds, not {width!r}")
        self.width = float(width)
        self.counts: dict[int, int] = {}
        self._down: dict[int, int] = {}  # full bucket -> a bucket below it to look at next
        self._up: dict[int, int] = {}  # full bucket -> a bucket above it to look at next
        self._slots_seen = 0

    # -- time <-> bucket --------------------------------------------------------------------------------------
    def bucket(self, t: float) -> int:
        return math.floor(t / self.width)

    def start(self, b: int) -> float:
        return b * self.width

    def end(self, b: int) -> float:
        """The last moment of bucket ``b`` (a millisecond before the next one starts)."""
        return (b + 1) * self.width - min(1e-3, self.width / 2)

    # -- counts -----------------------------------------------------------------------------------------------
    def count(self, b: int) -> int:
        return self.counts.get(b, 0)

    def add(self, b: int, n: int = 1) -> int:
        """Count ``n`` more alarms in ``b``; returns how many were there before."""
        before = self.counts.get(b, 0)
        self.counts[b] = before + n
        return before

    def remove(self, b: int, n: int = 1) -> None:
        n = self.counts.get(b, 0) - n
        if n <= 0:
            self.counts.pop(b, None)
        else:
            self.counts[b] = n
        self._down.pop(b, None)
        self._up.pop(b, None)

    def _reset_hints(self, slots: int) -> None:
        # more slots than when the hints were made: buckets they skip may have room now
        if slots > self._slots_seen:
            self._down.clear()
            self._up.clear()
        self._slots_seen = slots

    # -- search -----------------------------------------------------------------------------------------------
    def latest_free(self, hi: int, lo: int, slots: int) -> int | None:
        """The latest bucket in ``[lo, hi]`` holding fewer than ``slots`` alarms, or None."""
        return self._search(hi, lo, slots, self._down, -1)

    def earliest_free(self, lo: int, slots: int, hi: int | None = None) -> int | None:
        """The earliest bucket at or after ``lo`` (up to ``hi``) holding fewer than ``slots`` alarms."""
        limit = hi if hi is not None else lo + 10_000_000
        return self._search(lo, limit, slots, self._up, 1)

    def _search(self, first: int, last: int, slots: int, hints: dict[int, int], step: int) -> int | None:
        self._reset_hints(slots)
        path: list[int] = []
        b = first
        found: int | None = None
        while (b >= last) if step < 0 else (b <= last):
            if self.counts.get(b, 0) < slots:
                found = b
                break
            path.append(b)
            b = hints.get(b, b + step)
        target = found if found is not None else b
        for p in path:  # compress: every bucket on the way is full down (up) to ``target``
            hints[p] = target
        return found
