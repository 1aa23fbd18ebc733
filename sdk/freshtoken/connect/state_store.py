"""Where a started connection waits for its callback: one-time (``take`` removes it, whatever happens next) and
expiring. :class:`MemoryStateStore` serves the CLI (one process, one connection); the admin API uses
:class:`~.sqlite_states.SQLiteStateStore` so that a restart between start and callback loses nothing."""

from __future__ import annotations

import threading
from typing import Protocol

from .pending import PendingConnection


class StateStore(Protocol):
    def put(self, pending: PendingConnection, now: float) -> None:
        """Keep ``pending`` under its state until it expires (and drop what has expired)."""

    def take(self, state: str) -> PendingConnection | None:
        """Remove and return the connection started with ``state`` (expired or not), or None."""


class MemoryStateStore:
    """Pending connections in a dict (thread-safe)."""

    def __init__(self) -> None:
        self._items: dict[str, PendingConnection] = {}
        self._lock = threading.Lock()

    def put(self, pending: PendingConnection, now: float) -> None:
        with self._lock:
            for state in [s for s, p in self._items.items() if p.expires_at <= now]:
                del self._items[state]
            self._items[pending.state] = pending

    def take(self, state: str) -> PendingConnection | None:
        with self._lock:
            return self._items.pop(state, None)

    def __len__(self) -> int:
        return len(self._items)
