"""Tables whose rows hold tokens are rowid tables: :func:`create_or_rebuild` makes one, and rebuilds a table an
older release created ``WITHOUT ROWID``.

A ``WITHOUT ROWID`` table is a clustered index: SQLite keeps whole rows in its interior pages as well as its
leaves, and spills any row over ~1 KB (with 4 KiB pages) to overflow pages. SQLite advises it only for rows under
about a twentieth of a page (https://www.sqlite.org/withoutrowid.html, section 4). A KV record with a 800-byte
token is ~1 KB; a 2 KB JWT makes every row overflow, and a read three times as dear (bench/README.md, "The SQLite
tables' layout"). A rowid table keeps rows of up to ~4 KB in one leaf page, and its key index holds only the keys.

The rebuild is SQLite's documented way to change a table's layout (https://www.sqlite.org/lang_altertable.html,
"Making Other Kinds Of Table Schema Changes"): create the new table, copy the rows, drop the old one, rename the
new one, create the indexes — in one write transaction, so a crash (kill -9 included) leaves the old table whole
and the next open does it again. Readers in other processes keep reading the old table until the commit. If the
rebuild fails (a full disk, a locked file), nothing is lost: the old table stays, and works, and the failure is
logged; the next open tries again. A table with a column or a trigger this release did not create is left as it
is (a rebuild would lose them), and logged.

What it costs, once (measured on the bench machine): ~4 s per 100,000 KV records of 1 KB, ~9 s per 100,000
accounts with 6 KB of state; other writers of the file wait for it (their busy timeout is 5 s). The disk needs room
for a second copy of the table (in the WAL, then in the file); the old table's pages stay in the file as free
pages, reused by later writes.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence

log = logging.getLogger("freshtoken.embedded.files")

_NEW = "_freshtoken_rebuild"


def without_rowid(conn: sqlite3.Connection, table: str) -> bool:
    """True when ``table`` exists and was created ``WITHOUT ROWID``."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is not None and "WITHOUT ROWID" in " ".join(str(row[0]).upper().split())


def create_or_rebuild(conn: sqlite3.Connection, table: str, create: str, columns: Sequence[str],
                      indexes: Sequence[str]) -> bool:
    """Create ``table`` (``create``: its ``CREATE TABLE IF NOT EXISTS {table} (...)`` statement) and its
    ``indexes`` (``CREATE INDEX IF NOT EXISTS`` statements); a ``WITHOUT ROWID`` table of that name is rebuilt
    first, its ``columns`` copied. ``conn`` is in autocommit mode. True when a table was rebuilt."""
    rebuilt = False
    if without_rowid(conn, table):
        rebuilt = _rebuild(conn, table, create, columns, indexes)
    conn.execute(create)
    for statement in indexes:
        conn.execute(statement)
    return rebuilt


def _not_ours(conn: sqlite3.Connection, table: str, columns: Sequence[str]) -> str:
    """What a rebuild would lose: columns besides ``columns``, triggers on the table ("" when none)."""
    extra = [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in columns]
    triggers = [str(r[0]) for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,))]
    parts = [f"{what} {', '.join(names)}" for what, names in (("columns", extra), ("triggers", triggers)) if names]
    return " and ".join(parts)


def _rebuild(conn: sqlite3.Connection, table: str, create: str, columns: Sequence[str],
             indexes: Sequence[str]) -> bool:
    cols = ", ".join(columns)
    new_create = create.replace(f"IF NOT EXISTS {table} ", f"{_NEW} ", 1)
    if new_create == create:
        raise ValueError(f"create_or_rebuild: {create!r} is not 'CREATE TABLE IF NOT EXISTS {table} (...)'")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        log.warning("%s: not rebuilt as a rowid table this time (%s); it works as it is", table, exc)
        return False
    try:
        if not without_rowid(conn, table):  # another process did it while this one waited for the lock
            conn.execute("ROLLBACK")
            return False
        foreign = _not_ours(conn, table, columns)
        if foreign:  # a column or trigger someone added: a rebuild would drop it; leave the table as it is
            conn.execute("ROLLBACK")
            log.warning("%s: not rebuilt as a rowid table: it has %s this release did not create; it works as it is",
                        table, foreign)
            return False
        log.warning("%s: rebuilding the table as a rowid table (once, after an upgrade): other writers of this file "
                    "wait until it is done (~4 s per 100,000 KV records on the bench machine)", table)
        started = time.monotonic()
        conn.execute(f"DROP TABLE IF EXISTS {_NEW}")
        conn.execute(new_create)
        conn.execute(f"INSERT INTO {_NEW} ({cols}) SELECT {cols} FROM {table}")
        copied = conn.execute(f"SELECT COUNT(*) FROM {_NEW}").fetchone()[0]
        had = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        if copied != had:
            raise sqlite3.DatabaseError(f"copied {copied} of {had} rows")
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {_NEW} RENAME TO {table}")
        for statement in indexes:
            conn.execute(statement)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:  # (some errors, a full disk among them, end the transaction themselves)
            conn.execute("ROLLBACK")
        log.warning("%s: not rebuilt as a rowid table this time (%s: %s); it works as it is, nothing was changed",
                    table, exc.__class__.__name__, exc)
        return False
    log.warning("%s: rebuilt as a rowid table (%d rows, %.1f s); the old table's pages stay in the file as free "
                "pages for later writes (VACUUM, with the runtime stopped, gives them back)", table, copied,
                time.monotonic() - started)
    return True
