"""The KV and state tables are rowid tables; files of the earlier layout (``WITHOUT ROWID``) are rebuilt at open,
in one transaction, losing nothing: under kill -9 at any step, a full disk, two writers at once, a gateway reading.

Why (freshtoken/kv/sqlite_layout.py): a ``WITHOUT ROWID`` table keeps whole rows in its interior pages and spills
rows over ~1 KB to overflow pages; SQLite advises it for rows under ~1/20 of a page
(https://www.sqlite.org/withoutrowid.html, section 4). A KV record is ~1 KB, a state row a few KB.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from freshtoken import AccountState, KVRecord, Status
from freshtoken.embedded import AesGcmCodec, SQLiteKV, SQLiteStore
from freshtoken.kv import sqlite as kv_sqlite
from freshtoken.kv.sqlite_layout import create_or_rebuild, without_rowid
from freshtoken_reader import Reader, SQLiteSource

ROOT = Path(__file__).resolve().parents[2]

#: The tables as the earlier releases created them (sdk/freshtoken/kv/sqlite.py, embedded/sqlite_store.py).
OLD_KV = ("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL) WITHOUT ROWID",
          "CREATE INDEX kv_expiry ON kv(expires_at) WHERE expires_at IS NOT NULL")
OLD_ACCOUNTS = (
    "CREATE TABLE accounts (key TEXT PRIMARY KEY, client TEXT NOT NULL, status TEXT NOT NULL, state TEXT NOT NULL, "
    "alarm_at REAL, lease_owner TEXT, lease_until REAL, in_flight_since REAL, updated_at REAL) WITHOUT ROWID",
    "CREATE INDEX accounts_alarm ON accounts(alarm_at) WHERE alarm_at IS NOT NULL",
    "CREATE INDEX accounts_status ON accounts(status, key)",
    "CREATE INDEX accounts_lease ON accounts(lease_owner) WHERE lease_owner IS NOT NULL",
    "CREATE INDEX accounts_in_flight ON accounts(in_flight_since) WHERE in_flight_since IS NOT NULL",
)


def child_env() -> dict[str, str]:
    """The environment of a child process that imports this checkout's freshtoken."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "sdk"), str(ROOT)])}


def record(i: int, size: int = 800) -> str:
    return KVRecord(access_token=f"at-{i}-".ljust(size, "x"), expires_at=2_000_000_000, generation=1,
                    refreshed_at=1_900_000_000).dumps()


#: Every row, its value's bytes and type and its TTL.
ROWS = "SELECT key, CAST(value AS BLOB), typeof(value), expires_at FROM kv"


def old_kv_file(path: Path, n: int, *, size: int = 800) -> dict[str, list[object]]:
    """A KV file as the earlier release wrote it: n records, one value that is not UTF-8, one without a TTL."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in OLD_KV:
        db.execute(statement)
    db.execute("BEGIN")
    for i in range(n):
        db.execute("INSERT INTO kv VALUES (?, ?, ?)", (f"k{i}", record(i, size), 2_000_000_000.0 + i))
    db.execute("INSERT INTO kv VALUES ('bad', CAST(X'7b22ff' AS TEXT), 2000000000.0)")
    db.execute("INSERT INTO kv VALUES ('forever', ?, NULL)", (record(-1),))
    db.execute("COMMIT")
    rows = {k: rest for k, *rest in db.execute(ROWS)}
    db.close()
    assert without_rowid(sqlite3.connect(path), "kv")
    return rows


def kv_rows(path: Path) -> dict[str, list[object]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {k: rest for k, *rest in db.execute(ROWS)}
    finally:
        db.close()


def intact(path: Path) -> bool:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


def tables(path: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {name: sql for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}
    finally:
        db.close()


def test_a_new_kv_and_store_are_rowid_tables(tmp_path: Path, codec: AesGcmCodec) -> None:
    SQLiteKV(tmp_path / "kv.db").close()
    SQLiteStore(tmp_path / "s.db", codec).close()
    assert not without_rowid(sqlite3.connect(tmp_path / "kv.db"), "kv")
    assert not without_rowid(sqlite3.connect(tmp_path / "s.db"), "accounts")
    assert {"kv", "kv_expiry"} <= set(tables(tmp_path / "kv.db"))
    assert {"accounts", "accounts_alarm", "accounts_status", "accounts_lease", "accounts_in_flight",
            "meta"} <= set(tables(tmp_path / "s.db"))


def test_an_old_kv_file_is_rebuilt_at_open_with_every_row(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    before = old_kv_file(path, 500)
    gateway = Reader(SQLiteSource(path))  # a gateway that opened the file before the writer came up
    assert gateway.read("k7").ok
    kv = SQLiteKV(path)
    assert not without_rowid(kv._db(), "kv")
    assert kv_rows(path) == before  # byte for byte, TTLs included
    assert "kv_expiry" in tables(path) and "_freshtoken_rebuild" not in tables(path) and intact(path)
    assert kv.get_sync("k7") == record(7) and gateway.read("k7").token.access_token.startswith("at-7-")  # type: ignore[union-attr]
    assert gateway.read("bad").reason.value == "unsupported_version"  # the undecodable value, for its key alone
    kv.put_sync("k7", record(70), 60)
    assert gateway.read("k7").token.access_token.startswith("at-70-")  # type: ignore[union-attr]
    kv.close()
    SQLiteKV(path).close()  # opening again changes nothing
    assert len(kv_rows(path)) == 502


_CHILD = """
import os, sqlite3, sys
from freshtoken.kv import sqlite as kv_sqlite
from freshtoken.kv.sqlite_layout import create_or_rebuild
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
steps = int(sys.argv[2])
conn.set_progress_handler(lambda: os.kill(os.getpid(), 9), steps)  # kill -9 after `steps` VM steps
create_or_rebuild(conn, "kv", kv_sqlite._CREATE, kv_sqlite._COLUMNS, kv_sqlite._INDEXES)
print("done")
"""


def test_kill_9_at_any_step_of_the_rebuild_loses_no_row(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    before = old_kv_file(path, 3000)
    env = child_env()
    kills = 0
    steps = 64
    while True:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(steps)], env=env,
                              capture_output=True, text=True, timeout=120)
        after = kv_rows(path)
        assert after == before, f"rows changed after a kill at {steps} steps"
        assert intact(path)
        if proc.returncode == 0:
            assert proc.stdout.strip() == "done"
            break
        assert proc.returncode == -9, proc.stderr[-2000:]
        kills += 1
        assert without_rowid(sqlite3.connect(path), "kv")  # killed before its commit: the old table, whole
        steps *= 3
    assert kills >= 5  # killed in the checks, the copy, the count, the drop... before one run got through
    assert not without_rowid(sqlite3.connect(path), "kv")
    assert "kv_expiry" in tables(path)


def test_a_full_disk_during_the_rebuild_leaves_the_old_table_working(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "kv.db"
    before = old_kv_file(path, 2000)
    conn = sqlite3.connect(path, isolation_level=None)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 50}")  # no room for a copy of the table
    with caplog.at_level(logging.WARNING, "freshtoken.embedded.files"):
        assert create_or_rebuild(conn, "kv", kv_sqlite._CREATE, kv_sqlite._COLUMNS, kv_sqlite._INDEXES) is False
    assert "not rebuilt" in caplog.text and "full" in caplog.text
    assert "at-" not in caplog.text  # no record in the log
    assert not conn.in_transaction
    conn.execute("INSERT INTO kv VALUES ('new', 'v', NULL)")  # the old table takes writes
    conn.execute("DELETE FROM kv WHERE key = 'new'")
    conn.close()
    assert without_rowid(sqlite3.connect(path), "kv") and kv_rows(path) == before
    SQLiteKV(path).close()  # with room again, the next open rebuilds it
    assert not without_rowid(sqlite3.connect(path), "kv") and kv_rows(path) == before


def test_two_writers_opening_an_old_file_at_once_rebuild_it_once(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    before = old_kv_file(path, 3000)
    start = threading.Barrier(4)
    opened: list[SQLiteKV] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(SQLiteKV(path))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(opened) == 4
    assert kv_rows(path) == before and not without_rowid(sqlite3.connect(path), "kv")
    for kv in opened:
        assert kv.get_sync("k5") == record(5)
        kv.close()


def old_store_file(path: Path, codec: AesGcmCodec, n: int) -> dict[str, AccountState]:
    """A state database in the earlier layout: written by the store, then its table put back as it was."""
    store = SQLiteStore(path, codec)
    states = {}
    for i in range(n):
        key = f"t:acme:u{i}"
        st = AccountState(key=key, client="acme", status=Status.ACTIVE, generation=i,
                          refresh_token=SecretStr(f"rt-{i}-".ljust(1500, "r")),
                          access_token=SecretStr(f"at-{i}-".ljust(2000, "a")), expires_at=2_000_000_000.0)
        store.save_state(key, st)
        store.set_alarm(key, 1_900_000_000.0 + i)
        states[key] = st
    store.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    db.execute("ALTER TABLE accounts RENAME TO accounts_now")
    for name in ("accounts_alarm", "accounts_status", "accounts_lease", "accounts_in_flight"):
        db.execute(f"DROP INDEX {name}")
    for statement in OLD_ACCOUNTS:
        db.execute(statement)
    db.execute("INSERT INTO accounts SELECT key, client, status, state, alarm_at, lease_owner, lease_until, "
               "in_flight_since, updated_at FROM accounts_now")
    db.execute("DROP TABLE accounts_now")
    db.execute("COMMIT")
    db.close()
    assert without_rowid(sqlite3.connect(path), "accounts")
    return states


def test_an_old_state_database_is_rebuilt_and_every_account_reads_back(tmp_path: Path, codec: AesGcmCodec) -> None:
    path = tmp_path / "s.db"
    states = old_store_file(path, codec, 300)
    store = SQLiteStore(path, codec)
    assert not without_rowid(store._db(), "accounts")
    for key, st in states.items():
        loaded = store.load_state(key)
        assert loaded is not None
        assert loaded.refresh_token is not None and st.refresh_token is not None
        assert loaded.refresh_token.get_secret_value() == st.refresh_token.get_secret_value()
        assert loaded.generation == st.generation
    assert store.next_alarm_at(0.0) == 1_900_000_000.0
    due = store.lease_due(1_900_000_009.5, "me", 1_900_000_100.0, limit=100)
    assert [r.key for r in due] == [f"t:acme:u{i}" for i in range(10)]  # oldest alarm first, from the index
    assert {"accounts_alarm", "accounts_status", "accounts_lease", "accounts_in_flight"} <= set(tables(path))
    assert intact(path)
    store.close()


_GATEWAY = """
import sys, time
from freshtoken_reader import Reader, SQLiteSource
reader = Reader(SQLiteSource(sys.argv[1]), clock=lambda: 1_900_000_000.0)
n, bad, reads = int(sys.argv[2]), [], 0
print("reading", flush=True)
deadline = time.monotonic() + float(sys.argv[3])
while time.monotonic() < deadline:
    i = reads % n
    try:
        r = reader.read(f"k{i}")
        if not r.ok:
            bad.append(f"k{i}: {r.reason.value}")
    except Exception as exc:
        bad.append(f"k{i}: {exc.__class__.__name__}: {exc}")
    reads += 1
print(reads, len(bad), bad[:5], flush=True)
"""


def test_a_gateway_reading_in_another_process_sees_every_token_through_the_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    n = 20_000
    old_kv_file(path, n)
    env = child_env()
    gateway = subprocess.Popen([sys.executable, "-c", _GATEWAY, str(path), str(n), "4"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert gateway.stdout is not None
    assert gateway.stdout.readline().strip() == "reading"
    kv = SQLiteKV(path)  # the rebuild, while the gateway reads
    assert not without_rowid(kv._db(), "kv")
    kv.put_sync("k1", record(100), None)  # and a write after it
    out, err = gateway.communicate(timeout=60)
    kv.close()
    reads, bad, first = out.strip().split(" ", 2)
    assert int(reads) > 1000 and int(bad) == 0, (first, err[-2000:])


@pytest.mark.parametrize("addition", [
    "ALTER TABLE kv ADD COLUMN note TEXT DEFAULT 'kept'",
    "CREATE TRIGGER kv_audit AFTER UPDATE ON kv BEGIN SELECT 1; END",
])
def test_a_table_someone_extended_is_left_as_it_is(tmp_path: Path, addition: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """A rebuild copies the columns this release knows: a column or a trigger added by hand would be lost."""
    path = tmp_path / "kv.db"
    old_kv_file(path, 50)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(addition)
    db.close()
    before = tables(path)
    with caplog.at_level(logging.WARNING, "freshtoken.embedded.files"):
        kv = SQLiteKV(path)
    assert "not rebuilt" in caplog.text and ("note" in caplog.text or "kv_audit" in caplog.text)
    assert tables(path) == before and without_rowid(kv._db(), "kv")
    kv.put_sync("k1", record(11), 60)  # and it works as it is
    assert kv.get_sync("k1") == record(11)
    kv.close()


_WRITER = """
import sqlite3, sys, time
# no busy timeout: a locked write is tried again at once (SQLite's own busy handler sleeps up to 100 ms between
# tries, and could sleep through a short window in which the table is not locked)
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0.0)
conn.execute("PRAGMA journal_mode=WAL")
n, last, failed = int(sys.argv[2]), {}, 0
busy = locked = False  # locked: a write waited for the rebuild's lock (the two ran at the same time)
print("writing", flush=True)
deadline, i = time.monotonic() + float(sys.argv[3]), 0
while time.monotonic() < deadline:
    # every other write a new key (a write lost in the rebuild stays lost), the others rewrite old ones
    key, value = (f"new{i}" if i % 2 else f"k{i % n}"), f"w{i}"
    while True:
        try:  # what an older release's writer does: one upsert, autocommit
            conn.execute("INSERT INTO kv(key, value, expires_at) VALUES (?, ?, NULL) ON CONFLICT(key) DO UPDATE "
                         "SET value = excluded.value, expires_at = excluded.expires_at", (key, value))
            last[key] = value  # acknowledged
            locked = locked or busy
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                failed += 1
                break
            busy = True
            time.sleep(0.0002)
    busy = False
    i += 1
    time.sleep(0.001)  # a busy writer, not a tight loop (SQLite lets no other writer in against that)
print(i, failed, int(locked), ";".join(f"{k}={v}" for k, v in last.items()), flush=True)
"""


def test_every_write_acknowledged_by_another_process_during_the_rebuild_is_kept(tmp_path: Path) -> None:
    """A writer of the earlier release (another process, as in a rolling upgrade) keeps writing while this one
    rebuilds the table: each write lands before the rebuild (and is copied) or after it (in the new table)."""
    path = tmp_path / "kv.db"
    old_kv_file(path, 20_000)
    env = child_env()
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), "500", "3"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "writing"
    kv = SQLiteKV(path)  # the rebuild, between the other process's writes
    assert not without_rowid(kv._db(), "kv")
    out, err = writer.communicate(timeout=60)
    writes, failed, locked, acknowledged = out.strip().split(" ", 3)
    assert int(writes) > 500 and int(failed) == 0 and locked == "1", (writes, failed, locked, err[-2000:])
    for pair in acknowledged.split(";"):
        key, value = pair.split("=")
        assert kv.get_sync(key) == value, key
    assert len(kv_rows(path)) == 20_002 + int(writes) // 2 and intact(path)
    kv.close()


def test_the_store_reads_a_herd_through_its_indexes(tmp_path: Path, codec: AesGcmCodec) -> None:
    """Every statement the store runs on a herd (accounts sharing one alarm time, as an import or an onboarding
    leaves them) finds its rows through an index and sorts nothing: a rowid table's index on ``alarm_at`` alone
    orders ties by rowid, and paging the alarms in (alarm_at, key) order then sorted each page's ties (3.4x the
    time for 100,000 tied alarms)."""
    store = SQLiteStore(tmp_path / "s.db", codec)
    with store.batch():
        for i in range(300):
            key = f"t:acme:u{i:04d}"
            store.save_state(key, AccountState(key=key, client="acme", status=Status.ACTIVE,
                                               refresh_token=SecretStr(f"rt-{i}")))
            store.set_alarm(key, 1_900_000_000.0)
    statements: list[str] = []
    db = store._db()
    db.set_trace_callback(statements.append)
    assert len(list(store.alarm_rows(0.0, batch=50))) == 300
    assert len(store.due_rows(1_900_000_001.0, 100)) == 100
    store.count_due(1_900_000_001.0)
    store.next_alarm_at(1_900_000_001.0)
    store.interrupted()
    store.summaries(limit=50, after="t:acme:u0100")
    list(store.keys(batch=100))
    due = store.lease_due(1_900_000_001.0, "me", 1_900_000_100.0, limit=20)
    assert len(due) == 20
    store.finish(due[0].key, "me", 1_900_003_600.0)
    db.set_trace_callback(None)
    checked = 0
    for sql in statements:
        if "accounts" not in sql or not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            continue
        plan = " | ".join(str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "TEMP B-TREE" not in plan, (sql, plan)
        assert not any(step.strip().startswith("SCAN accounts") and "INDEX" not in step for step in plan.split("|")), \
            (sql, plan)
        checked += 1
    assert checked >= 10
    store.close()
