"""A bounded history of what happened to each account, in its own table of the embedded state database.

:class:`AccountHistory` is a plugin of the event hooks: it records refreshes, failures (with their class and
whether they alerted), re-authorisation, the other alerts (token expired, refresh token expiring, answer not
durable), recovery, registration / replacement and removal. It keeps the last ``per_account`` events of each
account (``[history] per_account``, default 100); the events of a removed account stay (its ``removed`` event
last) within the same bound.

Off the refresh path: a hook only appends to an in-memory buffer; a background task writes the buffer every
``flush_interval`` seconds (or once ``max_batch`` events wait) in one transaction on a connection of its own, in a
worker thread, then trims each account it touched to its bound. Reads (:meth:`events`) write what waits first.
Another process (``freshtoken accounts events``) sees an event once it is flushed (within ``flush_interval``).

Never a secret: events carry none, and every text is redacted again (configured secrets in any encoding,
token-like runs masked) and capped before it is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..events import (
    AccountRecovered,
    AccountRegistered,
    AccountRemoved,
    Event,
    ReauthRequiredEvent,
    RefreshFailed,
    RefreshSucceeded,
    RefreshTokenExpiring,
    RotatedTokenNotDurable,
    TokenExpired,
)
from ..hookspecs import hookimpl
from ..kv.sqlite_files import connect
from ..redaction import redact

__all__ = ["DEFAULT_PER_ACCOUNT", "EVENT_TYPES", "AccountHistory"]

log = logging.getLogger("freshtoken.embedded.history")

DEFAULT_PER_ACCOUNT = 100
#: Longest text stored (a provider's error).
MAX_TEXT = 500
EVENT_TYPES = ("refreshed", "refresh_failed", "reauth_required", "token_expired", "refresh_token_expiring",
               "rotated_token_not_durable", "recovered", "registered", "replaced", "removed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS account_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at REAL NOT NULL,
    type TEXT NOT NULL,
    provider TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS account_events_key ON account_events(key, id);
"""
#: Event fields stored in columns (or not at all), not in ``data``.
_COLUMNS = ("key", "provider", "at")
#: Text fields that are identifiers, not free text: stored as they are (everything else is redacted again).
_IDENTIFIERS = frozenset({"kind", "endpoint", "status", "client", "previous_status", "via"})


class AccountHistory:
    """The per-account event history of one state database (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        per_account: int = DEFAULT_PER_ACCOUNT,
        secrets: Iterable[str] = (),
        flush_interval: float = 1.0,
        max_batch: int = 500,
        readonly: bool = False,
    ) -> None:
        if per_account < 0:
            raise ValueError(f"history per_account must be 0 or more, not {per_account}")
        self.path = Path(path)
        self.per_account = int(per_account)
        self.flush_interval = float(flush_interval)
        self.max_batch = max(1, int(max_batch))
        self.readonly = readonly
        self._secrets = [s for s in secrets if s]
        self._buffer: list[tuple[str, float, str, str, str]] = []
        self._lock = threading.Lock()  # the connection
        self._buffer_lock = threading.Lock()  # the buffer only: never held across I/O
        self._conn: sqlite3.Connection | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._kick: asyncio.Event | None = None
        self.written = 0
        if not readonly:
            self._db()  # the table exists from the start: a bad path is a start-up error

    # -- storage -----------------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = connect(self.path, readonly=self.readonly)
            if not self.readonly:
                conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def flush(self) -> int:
        """Write every buffered event in one transaction and trim the accounts touched; returns how many."""
        with self._buffer_lock:
            batch, self._buffer = self._buffer, []
        if not batch or self.readonly:
            return 0
        with self._lock:
            db = self._db()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT INTO account_events(key, at, type, provider, data) VALUES (?, ?, ?, ?, ?)",
                               batch)
                for key in {row[0] for row in batch}:
                    db.execute(
                        "DELETE FROM account_events WHERE key = ? AND id <= (SELECT id FROM account_events "
                        "WHERE key = ? ORDER BY id DESC LIMIT 1 OFFSET ?)", (key, key, self.per_account),
                    )
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                log.error("history: %d event(s) not recorded (%s)", len(batch), exc.__class__.__name__)
                return 0
            self.written += len(batch)
            return len(batch)

    def events(self, key: str, *, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` events of ``key`` (before event id ``before``), newest first."""
        self.flush()
        with self._lock:
            try:
                rows = self._db().execute(
                    "SELECT id, at, type, provider, data FROM account_events WHERE key = ? AND id < ? "
                    "ORDER BY id DESC LIMIT ?", (key, before if before is not None else 2**62, int(limit)),
                ).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise
        out = []
        for id_, at, type_, provider, data in rows:
            item: dict[str, Any] = {"id": id_, "key": key, "at": at, "type": type_, "provider": provider}
            item["data"] = json.loads(data)
            out.append(item)
        return out

    # -- recording ---------------------------------------------------------------------------------
    def _clean(self, value: str) -> str:
        return redact(value, self._secrets, limit=MAX_TEXT)

    def record(self, type_: str, event: Event, **extra: Any) -> None:
        """Buffer ``event`` as ``type_`` (never blocks on the database)."""
        if self.per_account == 0 or self.readonly:
            return
        data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name not in _COLUMNS}
        data.update(extra)
        data = {k: self._clean(v) if isinstance(v, str) and k not in _IDENTIFIERS else v for k, v in data.items()}
        row = (event.key, float(event.at), type_, event.provider, json.dumps(data, separators=(",", ":"), default=str))
        with self._buffer_lock:
            self._buffer.append(row)
        self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): write now
            self.flush()
            return
        if self._kick is None:
            self._kick = asyncio.Event()
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_loop(), name="freshtoken-history")
        if len(self._buffer) >= self.max_batch:
            self._kick.set()

    async def _flush_loop(self) -> None:
        assert self._kick is not None
        while self._buffer:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.flush_interval)
            self._kick.clear()
            await asyncio.to_thread(self.flush)

    async def aclose(self) -> None:
        """Write what waits, stop the background task, close the connection."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flusher
            self._flusher = None
        self.close()

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- event hooks ---------------------------------------------------------------------------------
    @hookimpl
    def freshtoken_refresh_succeeded(self, event: RefreshSucceeded) -> None:
        self.record("refreshed", event)

    @hookimpl
    def freshtoken_refresh_failed(self, event: RefreshFailed) -> None:
        self.record("refresh_failed", event)

    @hookimpl
    def freshtoken_reauth_required(self, event: ReauthRequiredEvent) -> None:
        self.record("reauth_required", event)

    @hookimpl
    def freshtoken_token_expired(self, event: TokenExpired) -> None:
        self.record("token_expired", event, alert=True)

    @hookimpl
    def freshtoken_refresh_token_expiring(self, event: RefreshTokenExpiring) -> None:
        self.record("refresh_token_expiring", event, alert=True)

    @hookimpl
    def freshtoken_rotated_token_not_durable(self, event: RotatedTokenNotDurable) -> None:
        self.record("rotated_token_not_durable", event, alert=True)

    @hookimpl
    def freshtoken_account_recovered(self, event: AccountRecovered) -> None:
        self.record("recovered", event)

    @hookimpl
    def freshtoken_account_registered(self, event: AccountRegistered) -> None:
        self.record("replaced" if event.replaced else "registered", event)

    @hookimpl
    def freshtoken_account_removed(self, event: AccountRemoved) -> None:
        self.record("removed", event)
