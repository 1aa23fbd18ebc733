"""WAL checkpoints of a SQLite file in a background thread, so that a writer on an event loop never runs one.

In WAL mode SQLite copies the log back into the database file (a checkpoint) inside whichever commit takes the
log past ``wal_autocheckpoint`` pages (1,000 by default). That commit pays for the copy and for two
``fdatasync`` calls: on the embedded runtime's event loop, about one write in 300 stalled every refresh in
flight for ~30 ms (``bench/README.md``, "Issue 17, fourth pass").

:class:`WalCheckpointer` runs those checkpoints from a thread of its own, on its own connection, with
``PRAGMA wal_checkpoint(PASSIVE)``: it never waits for a lock, so writers and readers (a gateway reading the KV
file) go on beside it, and SQLite releases the GIL while it copies and syncs. It looks at the log every
``poll`` seconds (its length is in the ``-shm`` file's header) and checkpoints once it holds ``target_frames``
pages, or ``max_interval`` seconds after the last checkpoint if anything was written; while nothing is written
(``PRAGMA data_version`` tells it) it only looks, less often.

What stays the same: durability (``synchronous=NORMAL``: a commit survives a crash of the process; the log is
synced at each checkpoint, as before) and crash safety (a checkpoint interrupted by ``kill -9`` is finished by
the next one; SQLite's own recovery). The writer connections keep an in-line checkpoint as a fallback, at
:data:`FALLBACK_PAGES` (ten times the usual point): should this thread stall or fail, the log still stops
growing there.

The thread holds only the path, never the owner: an owner dropped without ``close()`` stops it when collected.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("freshtoken.embedded.checkpoint")

#: The in-line checkpoint point of writer connections while a checkpointer runs (pages of 4 KiB: 40 MiB).
FALLBACK_PAGES = 10_000
#: Pages of log between two checkpoints (SQLite's own default for ``wal_autocheckpoint``).
TARGET_FRAMES = 1_000
#: Bytes of the ``-shm`` file read to learn how long the log is: two header copies and the checkpoint info.
_SHM_HEAD = 136


@dataclass
class CheckpointStats:
    """What the thread did (plain counters, read by tests and benchmarks)."""

    runs: int = 0
    #: Pages copied into the database file, over all runs.
    frames: int = 0
    #: Runs that could not copy every page (a reader held an older snapshot; the next run goes on).
    partial: int = 0
    errors: int = 0


class WalCheckpointer:
    """Checkpoints ``path``'s write-ahead log from a daemon thread until :meth:`stop` (or the owner is collected)."""

    def __init__(
        self,
        path: str | Path,
        *,
        target_frames: int = TARGET_FRAMES,
        poll: float = 0.05,
        max_interval: float = 5.0,
        idle_interval: float = 0.5,
    ) -> None:
        """Every ``poll`` seconds while the file is written (``idle_interval`` while it is not), look at the log:
        checkpoint once it holds ``target_frames`` pages, or any page ``max_interval`` seconds after the last
        checkpoint."""
        if target_frames < 1 or not 0 < poll <= max_interval or idle_interval <= 0:
            raise ValueError("WalCheckpointer: target_frames >= 1, 0 < poll <= max_interval, idle_interval > 0")
        self.path = Path(path)
        self.stats = CheckpointStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_run,
            args=(self.path, self._stop, self.stats, target_frames, poll, max_interval, idle_interval),
            name=f"freshtoken-checkpoint:{self.path.name}",
            daemon=True,
        )

    @classmethod
    def start_for(cls, owner: object, path: str | Path, *, target_frames: int = TARGET_FRAMES,
                  poll: float = 0.05) -> WalCheckpointer:
        """Start a checkpointer for ``path`` that also stops when ``owner`` is garbage-collected."""
        cp = cls(path, target_frames=target_frames, poll=poll)
        weakref.finalize(owner, cp._stop.set)
        cp._thread.start()
        return cp

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (a checkpoint under way finishes first; SQLite cannot cut one short)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)


def _run(path: Path, stop: threading.Event, stats: CheckpointStats, target: int, poll: float,
         max_interval: float, idle_interval: float) -> None:
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=0.0)
    except sqlite3.Error as exc:
        stats.errors += 1
        log.warning("background checkpoints of %s are off: cannot open it (%s); writers checkpoint in line",
                    path, exc.__class__.__name__)
        return
    try:
        _loop(conn, path, stop, stats, target, poll, max_interval, idle_interval)
    finally:
        try:
            conn.close()
        except sqlite3.Error:
            pass


def _pending(shm: Path) -> int | None:
    """Pages in the log not yet copied into the database: ``mxFrame - nBackfill`` from the wal-index header in
    the ``-shm`` file (its layout: https://www.sqlite.org/walformat.html, "The WAL-Index Header"; native byte
    order). Read without a lock: a torn read only moves one decision to checkpoint now or at the next look.
    None when the file cannot be read."""
    try:
        with open(shm, "rb") as f:
            head = f.read(_SHM_HEAD)
    except OSError:
        return None
    if len(head) < _SHM_HEAD:
        return None
    max_frame = int.from_bytes(head[16:20], sys.byteorder)
    backfilled = int.from_bytes(head[96:100], sys.byteorder)
    return max_frame - backfilled if max_frame >= backfilled else max_frame


def _loop(conn: sqlite3.Connection, path: Path, stop: threading.Event, stats: CheckpointStats, target: int,
          poll: float, max_interval: float, idle_interval: float) -> None:
    shm = path.with_name(path.name + "-shm")
    version: int | None = None
    last_at = time.monotonic()
    interval = poll
    warned = False
    while not stop.wait(interval):
        try:
            seen = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if seen == version:  # nothing committed by another connection since the last look
                interval = idle_interval
                continue
            now = time.monotonic()
            pending = _pending(shm)
            interval = poll
            # a log of ``target`` pages, or a trickle of writes for ``max_interval``: checkpoint (and sync) now
            if pending is not None and pending < target and now - last_at < max_interval:
                continue  # data_version is left unseen: the next look reads the log again
            version = seen
            busy, log_frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # a locked file, a removed directory: try again later, say so once
            stats.errors += 1
            if not warned:
                warned = True
                log.warning("background checkpoint of %s failed (%s); trying again", path, exc.__class__.__name__)
            interval = max_interval
            continue
        last_at = time.monotonic()
        stats.runs += 1
        if log_frames > 0:
            stats.frames += max(0, int(copied))
            if busy or copied < log_frames:
                stats.partial += 1


def checkpoint_in_background(owner: object, conn: sqlite3.Connection, path: Path,
                             current: WalCheckpointer | None) -> WalCheckpointer | None:
    """For a writer connection ``conn`` just opened on ``path`` by ``owner``: its in-line checkpoint moved to
    :data:`FALLBACK_PAGES`, and the checkpointer of ``path`` (``current`` while it runs, else a new one).
    None for a database in memory (no log to checkpoint)."""
    if str(path) in ("", ":memory:"):
        return None
    conn.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
    if current is not None and current.running:
        return current
    return WalCheckpointer.start_for(owner, path)
