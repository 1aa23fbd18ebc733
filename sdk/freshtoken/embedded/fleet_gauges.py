"""Scrape-time gauges of the whole fleet, read from the embedded store's ``accounts`` table.

* ``oldest_overdue_alarm_seconds``: how long the oldest due alarm has waited (0 when none is due): a scheduler
  that falls behind, or a host that is down, shows here first;
* ``tokens_due_unrefreshed``: accounts inside their refresh lead without a success yet: their alarm is due, or
  their last refresh failed and a retry is pending (``retrying``, ``misconfigured``).

Two indexed queries on a read-only connection of its own (never the runtime's write lock); no state is decrypted.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from ..kv.sqlite_files import connect

__all__ = ["FleetGauges"]


class FleetGauges:
    """``FleetGauges(database, now)()`` → the gauges above (for ``Metrics.bind(stats, fleet)``)."""

    def __init__(self, path: str | os.PathLike[str], now: Callable[[], float]) -> None:
        self.path = Path(path)
        self._now = now
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path, readonly=True)
        return self._conn

    def __call__(self) -> dict[str, float]:
        now = self._now()
        with self._lock:
            db = self._db()
            oldest, due = db.execute(
                "SELECT MIN(alarm_at), COUNT(*) FROM accounts WHERE alarm_at IS NOT NULL AND alarm_at <= ?", (now,)
            ).fetchone()
            failing = db.execute(
                "SELECT COUNT(*) FROM accounts WHERE status IN ('retrying', 'misconfigured') "
                "AND (alarm_at IS NULL OR alarm_at > ?)", (now,)
            ).fetchone()[0]
        return {
            "oldest_overdue_alarm_seconds": 0.0 if oldest is None else max(0.0, now - float(oldest)),
            "tokens_due_unrefreshed": float(due + failing),
        }

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
