"""Where the embedded runtime's time goes *in place*: wall time inside chosen calls while it refreshes for real.

A step measured alone in a tight loop (``store_breakdown_us``) runs with warm caches; inside a refresh the same
step runs between an HTTP exchange and other steps, with cold ones, and costs several times more. This wraps
the store's statements, the KV write and the state's (de)serialisation for one extra run of the runtime (not
the measured rounds: the wrapping costs ~1 µs per call), only while its alarms run (not while the accounts are
inserted), and reports µs and calls per refresh.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from freshtoken.embedded.sqlite_store import SQLiteStore
from freshtoken.kv.sqlite import SQLiteKV
from freshtoken.state import AccountState

#: label -> (class, attribute): the calls timed
CALLS: dict[str, tuple[type, str]] = {
    "state store: SQL statements (lease, saves, alarm + release)": (SQLiteStore, "_exec"),
    "KV write (SQLite KV)": (SQLiteKV, "put_sync"),
    "state dump (JSON + encrypt)": (AccountState, "dump"),
    "state load (decrypt + validate)": (AccountState, "load"),
}


class TimedCalls:
    """Seconds and calls per label of :data:`CALLS`, counted while :meth:`installed` is active."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The calls of :data:`CALLS` timed while the block runs; the originals come back after it."""
        saved: list[tuple[type, str, Any]] = []
        clock = time.perf_counter
        seconds, calls = self.seconds, self.calls
        try:
            for label, (cls, name) in CALLS.items():
                raw = cls.__dict__[name]
                saved.append((cls, name, raw))
                is_classmethod = isinstance(raw, classmethod)
                fn: Callable[..., Any] = raw.__func__ if is_classmethod else raw

                def timed(*args: Any, _fn: Callable[..., Any] = fn, _label: str = label, **kwargs: Any) -> Any:
                    t0 = clock()
                    try:
                        return _fn(*args, **kwargs)
                    finally:
                        seconds[_label] += clock() - t0
                        calls[_label] += 1

                setattr(cls, name, classmethod(timed) if is_classmethod else timed)
            yield
        finally:
            for cls, name, raw in saved:
                setattr(cls, name, raw)

    def per_refresh(self, refreshes: int, cpu_ms: float) -> dict[str, Any]:
        """µs and calls per refresh per label, their sum, and the run's CPU per refresh (µs) to set them against."""
        out: dict[str, Any] = {label: {"us": self.seconds[label] / refreshes * 1e6,
                                       "calls": self.calls[label] / refreshes} for label in CALLS}
        out["sum_us"] = sum(v["us"] for v in out.values())
        out["cpu_us_per_refresh"] = cpu_ms * 1e3
        return out
