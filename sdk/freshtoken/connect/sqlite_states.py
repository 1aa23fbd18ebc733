"""Pending connections in the embedded SQLite database (its own table, ``connect_states``), for the admin API: a
restart between ``POST /connect`` and the provider's redirect loses nothing, and several server processes on
one database share them.

A row is found by the SHA-256 of its ``state`` (the state itself is not stored), and holds the whole
:class:`~.pending.PendingConnection` encrypted by the store's codec, bound to that row (the PKCE verifier is a
secret). ``take`` deletes the row in the same transaction that reads it: a state is used once, by one process.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .pending import PendingConnection

if TYPE_CHECKING:
    from ..embedded.sqlite_store import SQLiteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS connect_states (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS connect_states_expiry ON connect_states(expires_at);
"""

#: Associated data prefix of a pending connection's ciphertext (never the same as an account key's).
AAD_PREFIX = "connect-state:"


def state_id(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class SQLiteStateStore:
    """:class:`~.state_store.StateStore` in the database of a :class:`~freshtoken.embedded.SQLiteStore`."""

    def __init__(self, store: SQLiteStore) -> None:
        from ..kv.sqlite_files import connect

        if str(store.path) in ("", ":memory:"):
            raise ConfigError("SQLiteStateStore needs a database file (not ':memory:')")
        self._store = store
        self._lock = threading.Lock()
        try:
            self._conn = connect(store.path)
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the connect-state table in {str(store.path)!r}: {exc}") from None

    def _codec_id(self, row_id: str) -> str:
        return AAD_PREFIX + row_id

    def put(self, pending: PendingConnection, now: float) -> None:
        row_id = state_id(pending.state)
        data = self._store.codec_for(self._codec_id(row_id)).encode(pending.to_json())
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("DELETE FROM connect_states WHERE expires_at <= ?", (now,))
                self._conn.execute("INSERT INTO connect_states(id, data, expires_at) VALUES (?, ?, ?)",
                                   (row_id, data, pending.expires_at))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def take(self, state: str) -> PendingConnection | None:
        row_id = state_id(state)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute("SELECT data FROM connect_states WHERE id = ?", (row_id,)).fetchone()
                if row is not None:
                    self._conn.execute("DELETE FROM connect_states WHERE id = ?", (row_id,))
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        if row is None:
            return None
        text = self._store.codec_for(self._codec_id(row_id)).decode(str(row[0]))
        pending = PendingConnection.from_json(text)
        return pending if pending.state == state else None

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM connect_states").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()
