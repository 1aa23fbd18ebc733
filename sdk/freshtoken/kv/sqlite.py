"""The default KV backend of the embedded runtime: a SQLite file a gateway on the same machine reads.

``put`` with a TTL stores ``expires_at``; an expired row is invisible to ``get`` and purged lazily (a few
hundred rows at a time, every so often, from an index), so the file does not grow with dead records. A
gateway in another process opens the same file (``SQLiteKV(path, readonly=True)``) and calls
:meth:`SQLiteKV.get_sync` — one indexed read, no event loop. Each thread gets its own connection (WAL lets
readers run beside the writer). The KV lives in its own file, apart from the account state, so a reader
never sees encrypted state and never contends with the state table.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from ..clock import Clock, SystemClock
from ..errors import ConfigError
from .sqlite_files import connect
from .sqlite_layout import create_or_rebuild
from .wal_checkpointer import CheckpointStats, WalCheckpointer, checkpoint_in_background

#: A rowid table, not ``WITHOUT ROWID``: a row holds a ~1 KB record or more (:mod:`.sqlite_layout`).
_CREATE = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL)"
_COLUMNS = ("key", "value", "expires_at")
_INDEXES = ("CREATE INDEX IF NOT EXISTS kv_expiry ON kv(expires_at) WHERE expires_at IS NOT NULL",)

#: The request path's read: the value, unless its row is past ``expires_at`` (the key is the primary key).
_GET = "SELECT value FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"

#: The same read of a value that is not text: its bytes (see :meth:`SQLiteKV.get_sync`).
_GET_BYTES = "SELECT CAST(value AS BLOB) FROM kv WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"
_UNDECODABLE = ("",)

#: Purge expired rows every this many writes, at most this many at a time.
PURGE_EVERY = 500
PURGE_BATCH = 500


class SQLiteKV:
    """A :class:`freshtoken.kv.KVWriter` and :class:`freshtoken.kv.KVReader` over a SQLite file."""

    #: A committed write is visible to every reader of the file at once: no propagation margin.
    propagation_margin = 0.0

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock | None = None, readonly: bool = False,
                 background_checkpoints: bool = True) -> None:
        """``background_checkpoints`` (a writer): WAL checkpoints from a thread of the KV's own
        (:mod:`freshtoken.kv.wal_checkpointer`), not inside a ``put`` on the caller's thread."""
        self.path = Path(path)
        self.clock = clock or SystemClock()
        self.readonly = readonly
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writes = 0
        self._background_checkpoints = background_checkpoints and not readonly
        self._checkpointer: WalCheckpointer | None = None
        self._db()  # a bad path fails now

    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = connect(self.path, readonly=self.readonly)
                if not self.readonly:
                    create_or_rebuild(conn, "kv", _CREATE, _COLUMNS, _INDEXES)
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot open the KV database {str(self.path)!r}: {exc}") from None
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
                if self._background_checkpoints:
                    self._checkpointer = checkpoint_in_background(self, conn, self.path, self._checkpointer)
        return conn

    # -- writer ------------------------------------------------------------------------------------------
    async def put(self, key: str, value: str, ttl: float | None) -> None:
        self.put_sync(key, value, ttl)

    def put_sync(self, key: str, value: str, ttl: float | None) -> None:
        expires = None if ttl is None else self.clock.now() + max(0.0, float(ttl))
        db = self._db()
        db.execute(
            "INSERT INTO kv(key, value, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            (key, value, expires),
        )
        self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self.purge(limit=PURGE_BATCH)

    async def delete(self, key: str) -> None:
        self._db().execute("DELETE FROM kv WHERE key = ?", (key,))

    def purge(self, *, limit: int | None = None) -> int:
        """Delete expired rows (at most ``limit``); returns how many."""
        now = self.clock.now()
        if limit is None:
            sql, params = "DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        else:
            sql = ("DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE expires_at IS NOT NULL "
                   "AND expires_at <= ? LIMIT ?)")
            params = (now, int(limit))  # type: ignore[assignment]
        return self._db().execute(sql, params).rowcount

    # -- reader ------------------------------------------------------------------------------------------
    #: :meth:`get` only wraps :meth:`get_sync` (no I/O to wait for): an async reader may call that directly.
    get_wraps_sync = True

    async def get(self, key: str) -> str | bytes | None:
        return self.get_sync(key)

    def get_sync(self, key: str) -> str | bytes | None:
        """The value under ``key``, or None if absent or expired. Cheap: one indexed read, through a cursor
        kept per thread (no cursor built per read; the read runs to its end: no transaction stays open)."""
        try:
            execute = self._local.execute
        except AttributeError:  # first read in this thread (or after close)
            execute = self._local.execute = self._db().cursor().execute
        now = self.clock.now()
        try:
            row = execute(_GET, (key, now)).fetchone()
        except sqlite3.OperationalError:  # its message holds the row's text: never let it out (below)
            row = _UNDECODABLE
        if row is _UNDECODABLE:
            # a value that is not UTF-8 (written by another program, a flipped byte): sqlite3's error quotes the
            # whole text, token and all; read it again as bytes, which the reader refuses for this key alone (a
            # failure of the file itself fails this read too, with its own error and without the first one)
            row = self._db().execute(_GET_BYTES, (key, now)).fetchone()
        return None if row is None else row[0]

    def __len__(self) -> int:
        now = self.clock.now()
        return int(self._db().execute(
            "SELECT COUNT(*) FROM kv WHERE expires_at IS NULL OR expires_at > ?", (now,)
        ).fetchone()[0])

    def checkpoint_stats(self) -> CheckpointStats | None:
        """What the background checkpointer did since the file was last opened (None: checkpoints in line, or a
        reader)."""
        cp = self._checkpointer
        return None if cp is None else cp.stats

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        for c in conns:
            try:
                c.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    async def aclose(self) -> None:
        self.close()
