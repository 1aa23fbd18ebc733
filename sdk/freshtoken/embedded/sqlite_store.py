"""Durable account state and alarms in one SQLite table (WAL).

One row per account: the state JSON (secrets encrypted by the codec, bound to the account key when the codec
supports it), the client and status copied into columns for listing, the one alarm (``alarm_at``, indexed,
NULL when none) and a lease (``lease_owner``/``lease_until``) so that two processes on the same file (the
server and a CLI ``accounts refresh``) never refresh one account at the same time.

Due alarms are read from the index in batches (:meth:`SQLiteStore.due`), so memory does not grow with the
number of accounts. Statements are short and run on the calling thread (sub-millisecond in WAL mode with
``synchronous=NORMAL``, which survives a process crash; only an OS crash or power loss may drop the last
commits); the WAL checkpoints, which sync the files, run in a thread of the store's own
(:mod:`freshtoken.kv.wal_checkpointer`).

At open the store checks that the configured keys decrypt it (a key-check value in ``meta``, sealed under the
primary key at creation and by :meth:`SQLiteStore.rewrap`: wrong keys are a :class:`WrongKeys` start-up error,
not a failure at every alarm), then imports the encrypted recovery file ``<database>.recovery``
(:mod:`.recovery`): provider answers that could not be saved before the last process stopped.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ConfigError, StateConflict
from ..kv.sqlite_files import connect
from ..kv.sqlite_layout import create_or_rebuild
from ..kv.wal_checkpointer import CheckpointStats, WalCheckpointer, checkpoint_in_background
from ..state import SECRET_FIELDS, AccountState
from ..storage import SecretCodec
from .crypto import seal_key_check, verify_key_check
from .recovery import AAD_PREFIX, DEFAULT_SLOTS, RecoveryError, RecoveryFile, import_entries, recovery_path

log = logging.getLogger("freshtoken.embedded.store")

SCHEMA_VERSION = 1
#: Summary fields copied from the state JSON for listings (never a secret).
SUMMARY_FIELDS = (
    "status", "client", "expires_at", "generation", "refresh_count", "failures", "last_error",
    "last_error_kind", "last_success_at", "next_refresh_at", "registered_at", "refresh_token_expires_at",
)

#: A rowid table, not ``WITHOUT ROWID``: a row holds the encrypted state, refresh and access tokens, a few KB
#: (:mod:`freshtoken.kv.sqlite_layout`).
_CREATE = """CREATE TABLE IF NOT EXISTS accounts (
    key TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    alarm_at REAL,
    lease_owner TEXT,
    lease_until REAL,
    in_flight_since REAL,
    updated_at REAL
)"""
_COLUMNS = ("key", "client", "status", "state", "alarm_at", "lease_owner", "lease_until", "in_flight_since",
            "updated_at")
_INDEXES = (
    # (alarm_at, key): what the WITHOUT ROWID table's index held, so that ties page in key order without a sort
    "CREATE INDEX IF NOT EXISTS accounts_alarm ON accounts(alarm_at, key) WHERE alarm_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS accounts_status ON accounts(status, key)",
    "CREATE INDEX IF NOT EXISTS accounts_lease ON accounts(lease_owner) WHERE lease_owner IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS accounts_in_flight ON accounts(in_flight_since) WHERE in_flight_since IS NOT NULL",
)
_META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"


class Unset(Enum):
    """The type of :data:`UNSET`: no alarm was set (keep the stored one)."""

    UNSET = "unset"


#: "No alarm set": :meth:`SQLiteStore.finish` keeps the stored alarm.
UNSET = Unset.UNSET


class DueRow(NamedTuple):
    """A due account leased by :meth:`SQLiteStore.lease_due`: its alarm, client and state JSON (encrypted)."""

    key: str
    alarm_at: float
    client: str
    state: str


class Generation(Enum):
    """``expected`` of :meth:`SQLiteStore.save_state` when no generation is to be compared."""

    ANY = "any"


class SQLiteStore:
    """Account state, alarms and leases for every account, in one SQLite file."""

    def __init__(self, path: str | os.PathLike[str], codec: SecretCodec, *,
                 recovery_slots: int = DEFAULT_SLOTS, background_checkpoints: bool = True) -> None:
        """``background_checkpoints``: WAL checkpoints from a thread of the store's own
        (:mod:`freshtoken.kv.wal_checkpointer`), not inside a commit on the caller's thread."""
        if codec is None:
            raise ConfigError("SQLiteStore needs a SecretCodec (e.g. AesGcmCodec.from_env()); no plaintext fallback")
        self.path = Path(path)
        self.codec = codec
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._background_checkpoints = background_checkpoints
        self._checkpointer: WalCheckpointer | None = None
        self._db()  # create the schema now: a bad path is a start-up error
        self._check_keys()  # wrong keys are a start-up error too
        self.recovery = self._open_recovery(recovery_slots)
        if self.recovery is not None:  # answers a stopped process could not save: before any alarm
            import_entries(self, self.recovery)

    # -- connection ---------------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = connect(self.path)
                create_or_rebuild(conn, "accounts", _CREATE, _COLUMNS, _INDEXES)
                conn.execute(_META)
                conn.execute(
                    "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot open the state database {str(self.path)!r}: {exc}") from None
            if self._background_checkpoints:
                self._checkpointer = checkpoint_in_background(self, conn, self.path, self._checkpointer)
            self._conn = conn
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One write transaction around several calls on this store (a bulk import): they commit together, or
        not at all. Inside, :meth:`savepoint` undoes one item without the others. Keep it short: other writers
        of the file wait for it."""
        with self._tx():
            yield

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside :meth:`batch`: the writes of the block are undone if it raises; the batch goes on."""
        with self._lock:
            db = self._db()
            db.execute("SAVEPOINT item")
            try:
                yield
            except BaseException:
                db.execute("ROLLBACK TO item")
                db.execute("RELEASE item")
                raise
            db.execute("RELEASE item")

    def _exec(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db().execute(sql, params)

    def checkpoint_stats(self) -> CheckpointStats | None:
        """What the background checkpointer did since the file was last opened (None: checkpoints in line)."""
        cp = self._checkpointer
        return None if cp is None else cp.stats

    def close(self) -> None:
        """Close the connection (the next call reopens it)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
            if self.recovery is not None:
                self.recovery.close()

    # -- key check and recovery file ------------------------------------------------------------------------
    def check_keys(self) -> None:
        """:class:`WrongKeys` unless the configured keys open this database (readiness probes)."""
        self._check_keys()

    def probe_write(self, now: float) -> None:
        """One write transaction (an upsert in the meta table): raises when the database does not take writes."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('ready_probe', ?)", (repr(float(now)),))

    def _check_keys(self, codec: SecretCodec | None = None) -> None:
        """Verify the key-check value (or, in a store from before it existed, one stored secret); seal one
        under the primary key when there is none."""
        c = codec or self.codec
        what = f"the state database {str(self.path)!r}"
        row = self._exec("SELECT value FROM meta WHERE name = 'key_check'").fetchone()
        if row is not None:
            verify_key_check(c, str(row[0]), what=what)
            return
        failed: str | None = None
        for key, text in self._exec("SELECT key, state FROM accounts LIMIT 20").fetchall():
            if not any(json.loads(text).get(name) for name in SECRET_FIELDS):
                continue
            try:
                AccountState.load(text, self.codec_for(key, c))
            except Exception:
                failed = text
                continue
            failed = None  # one row decrypts: these are its keys
            break
        if failed is not None:
            verify_key_check(c, _first_secret(failed), what=what)  # raises WrongKeys, naming the kid
        try:
            self._exec("INSERT OR IGNORE INTO meta(name, value) VALUES ('key_check', ?)", (seal_key_check(c),))
        except sqlite3.Error as exc:  # e.g. a full disk: checked again at the next open
            log.warning("could not store the key-check value (%s)", exc)

    def _open_recovery(self, slots: int) -> RecoveryFile | None:
        if str(self.path) == ":memory:":
            return None
        path = recovery_path(self.path)
        existed = path.exists()
        try:
            return RecoveryFile(path, lambda key: self.codec_for(AAD_PREFIX + key), slots=slots)
        except OSError as exc:
            if existed:  # it may hold answers: starting without them would replay rotated tokens
                raise ConfigError(f"cannot open the recovery file {str(path)!r}: {exc.strerror or exc}") from None
            log.warning("cannot create the recovery file %s (%s): a provider answer that cannot be saved is "
                        "then held in memory only", path, exc.strerror or exc)
            return None

    def rescue_state(self, key: str, state: AccountState) -> None:
        """Write ``state`` to the recovery file (durable, encrypted) because the database would not take it."""
        if self.recovery is None:
            raise RecoveryError(f"{key}: there is no recovery file for {str(self.path)!r}")
        self.recovery.put(key, state.generation, state.dump(self.codec_for(key)))

    def drop_rescue(self, key: str, generation: int) -> None:
        """The database holds ``key`` at ``generation`` or newer: clear its recovery entries.

        With ``synchronous=NORMAL`` that commit may not be on disk yet (an OS crash could drop it), so one
        commit with ``synchronous=FULL`` first syncs the whole WAL; if that fails the entry stays (the next
        open compares generations and clears it)."""
        if self.recovery is None:
            return
        with self._lock:
            db = self._db()
            db.execute("PRAGMA synchronous=FULL")
            try:
                db.execute("UPDATE meta SET value = value WHERE name = 'schema_version'")
            finally:
                db.execute("PRAGMA synchronous=NORMAL")
        self.recovery.drop(key, generation)

    def codec_for(self, key: str, codec: SecretCodec | None = None) -> SecretCodec:
        """The codec for one account: bound to the account key as associated data when supported."""
        c = codec or self.codec
        bound = getattr(c, "bound", None)
        return bound(key) if callable(bound) else c

    # -- one account ----------------------------------------------------------------------------------
    def storage(
        self, key: str, *, owner: str | None = None, lease_until: Callable[[], float] | None = None,
        defer_alarm: bool = False,
    ) -> SQLiteAccountStorage:
        """The :class:`~freshtoken.storage.AccountStorage` of one account.

        With ``owner`` (a lease owner, see :meth:`try_lease`) every write is a compare-and-swap: it lands only
        while ``owner`` holds the account's lease and the stored generation is the one this storage last loaded
        or saved; otherwise :class:`~freshtoken.errors.StateConflict` and nothing is written. A state saved where
        there was no row (a new account) is inserted leased to ``owner`` until ``lease_until()``, and each save
        extends the lease to ``lease_until()`` (never shortens it). Without ``owner``: plain writes (tests,
        tools that own the file). With ``defer_alarm`` (only with ``owner``): alarm changes wait for the lease
        release (:meth:`SQLiteAccountStorage.take_pending_alarm`, :meth:`finish`).
        """
        return SQLiteAccountStorage(self, str(key), owner=owner, lease_until=lease_until, defer_alarm=defer_alarm)

    def load_state(self, key: str) -> AccountState | None:
        row = self._exec("SELECT state FROM accounts WHERE key = ?", (key,)).fetchone()
        return None if row is None else AccountState.load(row[0], self.codec_for(key))

    def save_state(
        self,
        key: str,
        state: AccountState,
        *,
        now: float | None = None,
        owner: str | None = None,
        expected: int | Generation | None = Generation.ANY,
        lease_until: float | None = None,
    ) -> None:
        """Write ``state``. With ``owner``: a compare-and-swap (see :meth:`storage`) on the lease owner and, unless
        ``expected`` is :attr:`Generation.ANY`, on the stored generation (``None``: there must be no row yet)."""
        text = state.dump(self.codec_for(key))
        if owner is not None:
            self._save_if_owner(key, state, text, now, owner, expected, lease_until)
            return
        self._exec(
            "INSERT INTO accounts(key, client, status, state, in_flight_since, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET client = excluded.client, status = excluded.status, "
            "state = excluded.state, in_flight_since = excluded.in_flight_since, updated_at = excluded.updated_at",
            (key, state.client, state.status.value, text, state.in_flight_since, now),
        )

    def _save_if_owner(self, key: str, state: AccountState, text: str, now: float | None, owner: str,
                       expected: int | Generation | None, lease_until: float | None) -> None:
        if expected is None or (expected is Generation.ANY and not self.exists(key)):
            try:
                self._exec(
                    "INSERT INTO accounts(key, client, status, state, in_flight_since, updated_at, lease_owner, "
                    "lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, state.client, state.status.value, text, state.in_flight_since, now, owner, lease_until),
                )
            except sqlite3.IntegrityError:
                raise StateConflict(f"{key}: another process registered this account meanwhile") from None
            return
        # the row is found by its primary key: json_extract reads one row's generation, no index needed
        sql = (
            "UPDATE accounts SET client = ?, status = ?, state = ?, in_flight_since = ?, updated_at = ?, "
            "lease_until = CASE WHEN ? IS NULL THEN lease_until ELSE MAX(COALESCE(lease_until, 0), ?) END "
            "WHERE key = ? AND lease_owner = ?"
        )
        params: list[Any] = [state.client, state.status.value, text, state.in_flight_since, now,
                                      lease_until, lease_until, key, owner]
        if isinstance(expected, int):
            sql += " AND json_extract(state, '$.generation') = ?"
            params.append(expected)
        if self._exec(sql, params).rowcount != 1:
            raise StateConflict(self._conflict(key, owner, expected))

    def _conflict(self, key: str, owner: str, expected: int | Generation | None) -> str:
        """Why a compare-and-swap on ``key`` failed (lease owners and generations only: nothing secret)."""
        row = self._exec(
            "SELECT lease_owner, json_extract(state, '$.generation') FROM accounts WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return f"{key}: the account was removed meanwhile"
        holder, generation = row
        if holder != owner:
            who = f"process {holder}" if holder else "nobody (it was released)"
            return f"{key}: this process ({owner}) no longer holds the lease; it is held by {who}"
        return f"{key}: the stored generation is {generation}, not {expected}: another process refreshed it"

    def delete_account(self, key: str, *, owner: str | None = None) -> bool:
        """Delete the account. With ``owner``: only while the lease is ``owner``'s or free (else
        :class:`~freshtoken.errors.StateConflict`: another process is refreshing it)."""
        if owner is None:
            return self._exec("DELETE FROM accounts WHERE key = ?", (key,)).rowcount > 0
        if self._exec(
            "DELETE FROM accounts WHERE key = ? AND (lease_owner IS NULL OR lease_owner = ?)", (key, owner)
        ).rowcount > 0:
            return True
        if self.exists(key):
            raise StateConflict(self._conflict(key, owner, Generation.ANY))
        return False

    def exists(self, key: str) -> bool:
        return self._exec("SELECT 1 FROM accounts WHERE key = ?", (key,)).fetchone() is not None

    def client_of(self, key: str) -> str | None:
        """The configured client an account refreshes with (read without decrypting anything)."""
        row = self._exec("SELECT client FROM accounts WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def get_alarm(self, key: str) -> float | None:
        row = self._exec("SELECT alarm_at FROM accounts WHERE key = ?", (key,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def set_alarm(self, key: str, at: float | None) -> None:
        """Set (or with None clear) the alarm. An account without state has no alarm to keep."""
        self._exec("UPDATE accounts SET alarm_at = ? WHERE key = ?", (None if at is None else float(at), key))

    # -- scheduling -------------------------------------------------------------------------------------
    def due(self, now: float, limit: int = 100) -> list[str]:
        """Up to ``limit`` keys whose alarm is due at ``now`` and that nobody holds a lease on, oldest first."""
        return [k for k, _ in self.due_with_times(now, limit)]

    def due_with_times(self, now: float, limit: int = 100) -> list[tuple[str, float]]:
        return [(k, a) for k, a, _ in self.due_rows(now, limit)]

    def due_rows(
        self, now: float, limit: int = 100, *, exclude_clients: Collection[str] = ()
    ) -> list[tuple[str, float, str]]:
        """(key, alarm_at, client) of due, unleased accounts, oldest first, skipping ``exclude_clients``
        (clients at their in-flight cap: excluded in the query, so that LIMIT finds the others)."""
        excluded = sorted(exclude_clients)
        clause = f" AND client NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        rows = self._exec(
            "SELECT key, alarm_at, client FROM accounts INDEXED BY accounts_alarm "
            "WHERE alarm_at IS NOT NULL AND alarm_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
            f"{clause} ORDER BY alarm_at LIMIT ?",
            (now, now, *excluded, int(limit)),
        ).fetchall()
        return [(str(k), float(a), str(c)) for k, a, c in rows]

    def count_due(self, now: float) -> int:
        """How many alarms are due at ``now`` (a range count on the alarm index)."""
        return int(self._exec(
            "SELECT COUNT(*) FROM accounts INDEXED BY accounts_alarm WHERE alarm_at IS NOT NULL AND alarm_at <= ?",
            (now,),
        ).fetchone()[0])

    def alarm_rows(self, since: float, *, batch: int = 5000) -> Iterator[tuple[str, float, str]]:
        """(key, alarm_at, client) of every alarm at or after ``since``, in time order, read in batches (the
        capacity planner's ledger is rebuilt from them at start-up)."""
        after, last = since, ""
        while True:
            rows = self._exec(
                "SELECT key, alarm_at, client FROM accounts INDEXED BY accounts_alarm WHERE alarm_at IS NOT NULL "
                "AND (alarm_at > ? OR (alarm_at = ? AND key > ?)) ORDER BY alarm_at, key LIMIT ?",
                (after, after, last, int(batch)),
            ).fetchall()
            for k, a, c in rows:
                yield str(k), float(a), str(c)
            if len(rows) < batch:
                return
            after, last = float(rows[-1][1]), str(rows[-1][0])

    def next_alarm_at(self, now: float | None = None) -> float | None:
        """The earliest alarm (not leased at ``now``, when given)."""
        if now is None:
            row = self._exec("SELECT MIN(alarm_at) FROM accounts WHERE alarm_at IS NOT NULL").fetchone()
        else:
            row = self._exec(
                "SELECT alarm_at FROM accounts INDEXED BY accounts_alarm WHERE alarm_at IS NOT NULL "
                "AND (lease_until IS NULL OR lease_until <= ?) ORDER BY alarm_at LIMIT 1",
                (now,),
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def spread_overdue(self, now: float, spread: float, rng: random.Random | None = None,
                       *, batch: int = 1000) -> int:
        """Move every alarm due before ``now`` to a random moment in ``[now, now + spread)``.

        At start-up, after downtime, this keeps a thundering herd off the provider; works in batches.
        """
        r = rng or random.Random()
        moved = 0
        while True:
            with self._tx() as db:
                keys = [k for (k,) in db.execute(
                    "SELECT key FROM accounts INDEXED BY accounts_alarm WHERE alarm_at IS NOT NULL "
                    "AND alarm_at < ? ORDER BY alarm_at LIMIT ?", (now, batch),
                )]
                db.executemany(
                    "UPDATE accounts SET alarm_at = ? WHERE key = ?",
                    [(now + r.uniform(0.0, max(0.0, spread)), k) for k in keys],
                )
            moved += len(keys)
            if len(keys) < batch:
                return moved

    def interrupted(self, limit: int = 100) -> list[str]:
        """Accounts whose last refresh started and never finished (the host died in it), oldest first.

        With a provider that rotates refresh tokens without a grace window, such a grant may be gone: the
        provider may have rotated it and the answer never arrived. The next refresh tells (re-auth required).
        """
        return [str(k) for (k,) in self._exec(
            "SELECT key FROM accounts INDEXED BY accounts_in_flight WHERE in_flight_since IS NOT NULL "
            "ORDER BY in_flight_since LIMIT ?", (int(limit),),
        )]

    def count_interrupted(self) -> int:
        return int(self._exec(
            "SELECT COUNT(*) FROM accounts INDEXED BY accounts_in_flight WHERE in_flight_since IS NOT NULL"
        ).fetchone()[0])

    # -- leases (cross-process single flight) -------------------------------------------------------------
    def try_lease(self, key: str, owner: str, until: float, *, now: float | None = None) -> bool:
        """Atomically take the lease on ``key`` until ``until`` if it is free, expired, or already ours."""
        t = time.time() if now is None else now
        cur = self._exec(
            "UPDATE accounts SET lease_owner = ?, lease_until = ? WHERE key = ? AND "
            "(lease_owner IS NULL OR lease_until IS NULL OR lease_until <= ? OR lease_owner = ?)",
            (owner, float(until), key, t, owner),
        )
        return cur.rowcount == 1

    def lease_due(
        self, now: float, owner: str, until: float, limit: int = 100, *, exclude_clients: Collection[str] = ()
    ) -> list[DueRow]:
        """Take the lease on up to ``limit`` due, unleased accounts in ONE statement and return them with their
        state: ``(key, alarm_at, client, state JSON)``, oldest alarm first, skipping ``exclude_clients``.

        The dispatch of the embedded runtime: one ``UPDATE … RETURNING`` replaces the read of the due index, a
        lease per row, the client lookup and the load of each state. It is one write transaction, so the rows
        it returns were due and free when it took them, and the state returned is the state under that lease.
        """
        excluded = sorted(exclude_clients)
        clause = f" AND client NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        rows = self._exec(
            "UPDATE accounts SET lease_owner = ?, lease_until = ? WHERE key IN ("
            "SELECT key FROM accounts INDEXED BY accounts_alarm "
            "WHERE alarm_at IS NOT NULL AND alarm_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"
            f"{clause} ORDER BY alarm_at LIMIT ?) RETURNING key, alarm_at, client, state",
            (owner, float(until), now, now, *excluded, int(limit)),
        ).fetchall()
        out = [DueRow(str(k), float(a), str(c), str(t)) for k, a, c, t in rows]
        out.sort(key=lambda r: r.alarm_at)  # RETURNING has no order
        return out

    def finish(self, key: str, owner: str, alarm: float | Unset | None = UNSET) -> bool:
        """Release ``owner``'s lease on ``key`` and, unless ``alarm`` is :data:`UNSET`, set (None: clear) its
        alarm, in ONE statement. Nothing changes when ``owner`` no longer holds the lease (another process
        took the account over: its alarm stands). False then."""
        if alarm is UNSET:
            return self._exec(
                "UPDATE accounts SET lease_owner = NULL, lease_until = NULL WHERE key = ? AND lease_owner = ?",
                (key, owner),
            ).rowcount == 1
        return self._exec(
            "UPDATE accounts SET alarm_at = ?, lease_owner = NULL, lease_until = NULL "
            "WHERE key = ? AND lease_owner = ?",
            (None if alarm is None else float(alarm), key, owner),
        ).rowcount == 1

    def renew_lease(self, key: str, owner: str, until: float) -> bool:
        """Extend ``owner``'s lease on ``key`` to ``until`` (never shorten it). False when ``owner`` does not
        hold it (any more): another process took it over, or the account is gone."""
        cur = self._exec(
            "UPDATE accounts SET lease_until = MAX(COALESCE(lease_until, 0), ?) WHERE key = ? AND lease_owner = ?",
            (float(until), key, owner),
        )
        return cur.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        self._exec(
            "UPDATE accounts SET lease_owner = NULL, lease_until = NULL WHERE key = ? AND lease_owner = ?",
            (key, owner),
        )

    def lease_of(self, key: str) -> tuple[str | None, float | None]:
        row = self._exec("SELECT lease_owner, lease_until FROM accounts WHERE key = ?", (key,)).fetchone()
        return (None, None) if row is None else (row[0], row[1])

    def lease_owners(self) -> list[str]:
        return [str(o) for (o,) in self._exec(
            "SELECT DISTINCT lease_owner FROM accounts WHERE lease_owner IS NOT NULL"
        )]

    def release_owner(self, owner: str) -> int:
        """Drop every lease ``owner`` holds (it is known to be dead)."""
        return self._exec(
            "UPDATE accounts SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", (owner,)
        ).rowcount

    # -- listing ----------------------------------------------------------------------------------------
    def summaries(self, limit: int = 100, after: str | None = None, status: str | None = None,
                  ) -> list[dict[str, Any]]:
        """Public summaries (no secret, nothing decrypted), in key order; ``after`` pages (keyset)."""
        sql = "SELECT key, client, status, state, alarm_at, lease_owner, lease_until FROM accounts"
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if after is not None:
            where.append("key > ?")
            params.append(after)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY key LIMIT ?"
        params.append(max(0, int(limit)))
        out = []
        for key, client, st, text, alarm_at, lease_owner, lease_until in self._exec(sql, params).fetchall():
            out.append(summary(key, client, st, text, alarm_at, lease_owner, lease_until))
        return out

    def states(self, *, batch: int = 1000) -> Iterator[tuple[str, str, str]]:
        """(key, client, state JSON with its secrets encrypted) of every account, in key order, read in batches
        (an export: memory does not grow with the number of accounts)."""
        after = ""
        while True:
            rows = self._exec("SELECT key, client, state FROM accounts WHERE key > ? ORDER BY key LIMIT ?",
                              (after, batch)).fetchall()
            for k, c, t in rows:
                yield str(k), str(c), str(t)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def count_by_status(self) -> dict[str, int]:
        return {str(s): int(n) for s, n in self._exec("SELECT status, COUNT(*) FROM accounts GROUP BY status")}

    def count(self) -> int:
        return int(self._exec("SELECT COUNT(*) FROM accounts").fetchone()[0])

    def keys(self, *, batch: int = 1000) -> Iterator[str]:
        """Every key, in order, read in batches."""
        after = ""
        while True:
            rows = self._exec("SELECT key FROM accounts WHERE key > ? ORDER BY key LIMIT ?", (after, batch)).fetchall()
            for (k,) in rows:
                yield str(k)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    # -- key rotation -----------------------------------------------------------------------------------
    def rewrap(self, codec: SecretCodec | None = None, *, batch: int = 500) -> int:
        """Re-encrypt every secret under ``codec``'s primary key (``codec`` must also hold the old keys).

        Afterwards the store uses ``codec``. Rows already under the primary key are left alone. Returns the
        number of rows rewritten. Safe to run while a runtime uses the file: each batch is one transaction.
        """
        new = codec or self.codec
        primary = getattr(new, "primary_kid", None)
        rewritten = 0
        after = ""
        while True:
            with self._tx() as db:
                rows = db.execute(
                    "SELECT key, state FROM accounts WHERE key > ? ORDER BY key LIMIT ?", (after, batch)
                ).fetchall()
                updates = []
                for key, text in rows:
                    if primary is not None and _all_under(text, primary):
                        continue
                    state = AccountState.load(text, self.codec_for(key, new))
                    updates.append((state.dump(self.codec_for(key, new)), key))
                db.executemany("UPDATE accounts SET state = ? WHERE key = ?", updates)
            rewritten += len(updates)
            if len(rows) < batch:
                break
            after = rows[-1][0]
        self._exec("INSERT OR REPLACE INTO meta(name, value) VALUES ('key_check', ?)", (seal_key_check(new),))
        self.codec = new
        return rewritten


def _first_secret(text: str) -> str:
    data = json.loads(text)
    return next(str(data[n]) for n in SECRET_FIELDS if data.get(n))


def _all_under(text: str, kid: str) -> bool:
    data = json.loads(text)
    for name in SECRET_FIELDS:
        value = data.get(name)
        if value is not None and not (isinstance(value, str) and value.startswith(f"v1.{kid}.")):
            return False
    return True


def summary(key: str, client: str, status: str, text: str, alarm_at: float | None,
            lease_owner: str | None = None, lease_until: float | None = None) -> dict[str, Any]:
    """The public summary of one row, from the state JSON without decrypting it."""
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    out: dict[str, Any] = {"key": key}
    for name in SUMMARY_FIELDS:
        out[name] = data.get(name)
    out["client"], out["status"] = client, status
    out["has_refresh_token"] = data.get("refresh_token") is not None
    out["has_access_token"] = data.get("access_token") is not None
    out["alarm_at"] = alarm_at
    out["leased_by"] = lease_owner
    out["lease_until"] = lease_until
    return out


class SQLiteAccountStorage:
    """The :class:`freshtoken.storage.AccountStorage` of one account in a :class:`SQLiteStore`; bound to a lease
    owner, a compare-and-swap on (generation, lease owner) (see :meth:`SQLiteStore.storage`)."""

    def __init__(self, store: SQLiteStore, key: str, *, owner: str | None = None,
                 lease_until: Callable[[], float] | None = None, defer_alarm: bool = False) -> None:
        self.store = store
        self.key = key
        self.owner = owner
        self._lease_until = lease_until
        #: The generation last loaded or saved (None: there was no row); ANY before the first load.
        self.expected: int | Generation | None = Generation.ANY
        #: With ``defer_alarm`` (the runtime's alarm path, which holds the lease): alarm changes are kept here
        #: and written with the lease release, in one statement (:meth:`SQLiteStore.finish`).
        self.defer_alarm = defer_alarm
        self.pending_alarm: float | Unset | None = UNSET
        self._preloaded: str | None = None

    def preload(self, text: str) -> None:
        """The state JSON read with the lease (:meth:`SQLiteStore.lease_due`): the next :meth:`load` decodes it
        instead of reading the row again. Also forgets a pending alarm (a new alarm run starts)."""
        self._preloaded = text
        self.pending_alarm = UNSET
        self.expected = Generation.ANY

    async def load(self) -> AccountState | None:
        text, self._preloaded = self._preloaded, None
        if text is not None:
            state: AccountState | None = AccountState.load(text, self.store.codec_for(self.key))
        else:
            state = self.store.load_state(self.key)
        self.expected = None if state is None else state.generation
        return state

    async def save(self, state: AccountState) -> None:
        if self.owner is None:
            self.store.save_state(self.key, state)
            return
        until = self._lease_until() if self._lease_until is not None else None
        self.store.save_state(self.key, state, owner=self.owner, expected=self.expected, lease_until=until)
        self.expected = state.generation

    async def delete(self) -> None:
        self.store.delete_account(self.key, owner=self.owner)
        self.expected = None

    async def rescue(self, state: AccountState) -> None:
        """:class:`freshtoken.storage.RescueStorage`: keep ``state`` in the encrypted recovery file."""
        self.store.rescue_state(self.key, state)

    async def drop_rescue(self, state: AccountState) -> None:
        self.store.drop_rescue(self.key, state.generation)

    async def get_alarm(self) -> float | None:
        if self.pending_alarm is not UNSET:
            return self.pending_alarm
        return self.store.get_alarm(self.key)

    async def set_alarm(self, at: float) -> None:
        if self.defer_alarm:
            self.pending_alarm = float(at)
            return
        self.store.set_alarm(self.key, at)

    async def delete_alarm(self) -> None:
        if self.defer_alarm:
            self.pending_alarm = None
            return
        self.store.set_alarm(self.key, None)

    def take_pending_alarm(self) -> float | Unset | None:
        """The alarm set since the last :meth:`preload` (:data:`UNSET`: none), for :meth:`SQLiteStore.finish`;
        forgets it."""
        at, self.pending_alarm = self.pending_alarm, UNSET
        return at
