"""WAL checkpoints of a SQLite file in a background thread, so that a writer on an event loop never runs one.

In WAL mode SQLite copies the log back into the database file (a checkpoint) inside whichever commit takes the
log past ``wal_autocheckpoint`` pages (1,000 by default). That commit pays for the copy and for two
``fdatasync`` calls: on the embedded runtime's event loop, about one write in 300 stalled every refresh in
flight for ~30 ms (``bench/README.md``, "Issue 17, fourth pass").

:class:`WalCheckpointer` runs those checkpoints from a thread of its own, on its own connection, with
``PRAGMA wal_checkpoint(PASSIVE)``: it never waits for a lock, so writers and readers (a gateway reading the KV
file) go on beside it, and SQLite releases the GIL while it copies and syncs. It looks at the log every
``poll`` seconds and checkpoints once it holds about ``target_frames`` pages (a pace learnt from what each
checkpoint finds: :class:`_Pace`; it never opens SQLite's files, whose locks a close would drop), or
``max_interval`` seconds after the last checkpoint if anything was written; while nothing is written
(``PRAGMA data_version`` tells it) it only looks.

What stays the same: durability (``synchronous=NORMAL``: a commit survives a crash of the process; the log is
synced at each checkpoint, as before) and crash safety (a checkpoint interrupted by ``kill -9`` is finished by
the next one; SQLite's own recovery). The writer connections keep an in-line checkpoint as a fallback, at
:data:`FALLBACK_PAGES` (ten times the usual point): should this thread stall or fail, the log still stops
growing there.

What a background checkpoint cannot do: start the log over. A writer starts it from the beginning only when
it finds everything copied, and a writer that commits while a checkpoint runs always leaves a few pages behind
it. So under steady writing the ``-wal`` file grows to :data:`FALLBACK_PAGES` pages and the writer's own
checkpoint there starts it over; by then this thread has copied all but the last few hundred pages, so that
in-line checkpoint copies little (it still syncs twice). When the writing pauses, the log starts over at the
next write.

The thread holds only the path, never the owner: an owner dropped without ``close()`` stops it when collected.
"""

from __future__ import annotations

import logging
import sqlite3
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
#: Looks in a row that find the file written after a quiet spell before a checkpoint learns the new pace.
BURST_LOOKS = 4
#: Looks in a row that find nothing written: a quiet spell (1 s at the usual ``poll``).
QUIET_LOOKS = 20
#: Bytes before each page in the ``-wal`` file (https://www.sqlite.org/fileformat2.html#walformat).
_FRAME_HEADER = 24


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
        idle_interval: float = 0.05,
    ) -> None:
        """Every ``poll`` seconds while the file is written (``idle_interval`` while it is not), look at it:
        checkpoint once the log holds about ``target_frames`` pages (by the learnt pace, :class:`_Pace`), or any
        page ``max_interval`` seconds after the last checkpoint."""
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


class _Pace:
    """When to checkpoint, learnt without touching SQLite's files.

    The log's exact length is in the ``-shm`` file, but this process must never open that file: POSIX record
    locks belong to the process, so closing any descriptor of it drops every lock SQLite holds there (the write
    lock in the middle of a transaction, the lock that tells other processes the mapping is in use:
    https://www.sqlite.org/howtocorrupt.html, 2.2). So the pace is learnt from what each checkpoint reports
    (pages in the log): pages written per second of writing, quick to rise, slow to fall. Between checkpoints
    it counts the seconds in which the file was written. A pace learnt before a quiet spell says nothing of what
    follows it, so the first :data:`BURST_LOOKS` looks in a row that find the file written after a quiet spell
    take a checkpoint to learn the new pace; and a log growing past its longest yet (the ``-wal`` file's size,
    from ``stat``: no descriptor) is caught at once."""

    def __init__(self, target: int, frame_bytes: int) -> None:
        self.target = target
        self.frame_bytes = frame_bytes
        self.rate: float | None = None  # pages per second of writing; None until the first checkpoint
        self.active = 0.0  # seconds of writing since the last checkpoint
        self.log_frames = 0  # what the last checkpoint found
        self.wal_size = 0
        self.written_looks = 0  # looks in a row that found the file written
        self.quiet_looks = 0  # looks in a row that found it not written
        self.stale = True  # the pace predates the current run of writes

    def looked(self, written: bool, seconds: float) -> None:
        if written:
            self.active += seconds
            self.written_looks, self.quiet_looks = self.written_looks + 1, 0
        else:
            self.written_looks, self.quiet_looks = 0, self.quiet_looks + 1
            if self.quiet_looks >= QUIET_LOOKS:
                self.stale = True

    def due(self, wal_size: int, since: float, max_interval: float) -> bool:
        if self.rate is None or since >= max_interval:
            return True
        if self.stale and self.written_looks >= BURST_LOOKS:
            return True  # written without a pause after a quiet spell: learn how fast
        if wal_size - self.wal_size >= self.target * self.frame_bytes:
            return True  # the log is longer than it has ever been by ``target`` pages: a burst
        return self.rate * self.active >= self.target

    def learn(self, log_frames: int, wal_size: int) -> None:
        # the pages written since the last checkpoint: a log shorter than then was restarted (a writer starts it
        # over once everything is copied and no reader uses it); else it grew by the difference. A restart
        # followed by more than the old length is undercounted: the ``-wal`` size catches a log that runs away.
        new = log_frames if log_frames < self.log_frames else log_frames - self.log_frames
        if self.active > 0:
            sample = new / self.active
            self.rate = sample if self.rate is None else max(sample, (self.rate + sample) / 2)
        elif self.rate is None:
            self.rate = 0.0
        self.active = 0.0
        self.stale = False
        self.log_frames = log_frames
        self.wal_size = wal_size


def _wal_size(wal: Path) -> int:
    try:
        return wal.stat().st_size
    except OSError:
        return 0


def _loop(conn: sqlite3.Connection, path: Path, stop: threading.Event, stats: CheckpointStats, target: int,
          poll: float, max_interval: float, idle_interval: float) -> None:
    wal = path.with_name(path.name + "-wal")
    pace: _Pace | None = None
    version: int | None = None
    written = False  # anything committed since the last checkpoint
    last_at = looked_at = time.monotonic()
    interval = poll
    warned = False
    while not stop.wait(interval):
        try:
            if pace is None:
                pace = _Pace(target, int(conn.execute("PRAGMA page_size").fetchone()[0]) + _FRAME_HEADER)
            seen = int(conn.execute("PRAGMA data_version").fetchone()[0])
            now = time.monotonic()
            pace.looked(seen != version, now - looked_at)  # seen changed: committed by another connection
            if seen != version:
                version, written = seen, True
            looked_at = now
            if not written:  # nothing since the last checkpoint: look again in ``idle_interval``
                interval = idle_interval
                continue
            interval = poll
            # ``target`` pages by the learnt pace, a log longer than ever, or ``max_interval`` of a trickle
            if not pace.due(_wal_size(wal), now - last_at, max_interval):
                continue
            busy, log_frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if log_frames < 0:  # SQLite's -1: it could not run (another checkpoint under way): look again
                continue
        except sqlite3.Error as exc:  # a locked file, a removed directory: try again later, say so once
            stats.errors += 1
            if not warned:
                warned = True
                log.warning("background checkpoint of %s failed (%s); trying again", path, exc.__class__.__name__)
            interval = max_interval
            continue
        last_at, written = time.monotonic(), False
        pace.learn(int(log_frames), _wal_size(wal))
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
