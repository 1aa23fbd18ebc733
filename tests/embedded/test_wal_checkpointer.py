"""WAL checkpoints in a background thread (freshtoken.kv.wal_checkpointer): a writer never runs one in line, the
thread keeps up with it and never drops this process's locks on the file, nothing acknowledged is lost when the
process is killed mid-checkpoint, and a stopped process's checkpointer blocks no other writer or reader."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from freshtoken.embedded import AesGcmCodec, SQLiteKV, SQLiteStore
from freshtoken.kv.wal_checkpointer import (
    BURST_LOOKS,
    FALLBACK_PAGES,
    QUIET_LOOKS,
    TARGET_FRAMES,
    WalCheckpointer,
    _Pace,
)
from tests.raw_files import raw_file


def wal_pages(path: Path) -> int:
    """The longest the log has been: the ``-wal`` file's size in pages. SQLite writes the log over from its start
    after a checkpoint and never shortens the file. Read with ``stat``: a test, too, must not open SQLite's
    files while it holds connections to them (test_the_checkpointer_never_lets_go_of_this_process_locks)."""
    wal = path.with_name(path.name + "-wal")
    return (wal.stat().st_size - 32) // (4096 + 24) if wal.exists() else 0


def pending(path: Path) -> int:
    """Pages in the log not yet copied into the database: ``mxFrame - nBackfill`` from the wal-index header in
    the ``-shm`` file (https://www.sqlite.org/walformat.html), read through a child process (tests/raw_files.py)."""
    head = raw_file(path.with_name(path.name + "-shm"))[:136]
    max_frame, backfilled = (int.from_bytes(head[i:i + 4], sys.byteorder) for i in (16, 96))
    return max_frame - backfilled


def wait_until(predicate: object, seconds: float = 20.0) -> bool:
    """A liveness wait (the thread runs on its own schedule), not a timing assertion."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def put_many(kv: SQLiteKV, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        kv.put_sync(f"t:generic:acct-{i:07d}", '{"access_token":"' + "a" * 600 + f'","generation":{i}}}', 3600)


def test_a_writer_does_not_checkpoint_in_line(tmp_path: Path) -> None:
    """Fails first against the writer that checkpoints inside the commit that crosses 1,000 pages: there the log
    is copied back and restarted, and never holds more than ~1,000 pages."""
    kv = SQLiteKV(tmp_path / "kv.db")
    assert kv._checkpointer is not None and kv._checkpointer.running
    kv._checkpointer.stop()  # the thread is away: whatever checkpoints now is the writer itself
    put_many(kv, 1500)
    assert TARGET_FRAMES * 2 < wal_pages(kv.path) < FALLBACK_PAGES
    kv.close()


def test_the_checkpointer_keeps_up_with_a_writer(tmp_path: Path) -> None:
    kv = SQLiteKV(tmp_path / "kv.db")
    cp = kv._checkpointer
    assert cp is not None
    behind = []
    for batch in range(30):
        put_many(kv, 100, batch * 100)
        if batch % 5 == 4:
            behind.append(pending(kv.path))
        time.sleep(0.01)
    assert max(behind) < FALLBACK_PAGES // 2, behind  # the thread keeps up: little is left for the writer's fallback
    assert wait_until(lambda: pending(kv.path) == 0)  # and it copies the rest once the writes stop
    assert cp.stats.runs >= 1 and cp.stats.frames >= TARGET_FRAMES and cp.stats.errors == 0
    # every row is in the database file itself after a checkpoint: a fresh connection reads them all
    assert sqlite3.connect(kv.path).execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 3000
    kv.close()


def test_a_burst_after_a_quiet_spell_is_copied_as_it_comes(tmp_path: Path) -> None:
    """The pace is learnt from past checkpoints, so after a trickle it is slow; a sudden burst must not wait for it
    (nor for the 5 s timer): the thread copies the burst as it comes. Two rules see to it (each pinned by the
    test after this one): the log growing past its longest yet, and written looks in a row after a quiet spell.
    This test fails first without both (the thread copies none of the burst's ~21,000 pages, and the writer's own
    fallback checkpoint, on the event loop, has them all to copy).

    The burst is written in 12 runs of 500 records with 10 ms between them (~0.3 s in all). Written in one loop
    it took ~0.1 s, two of the thread's looks (every 50 ms), and whether the thread acted before the writer's
    fallback did was luck: it copied 0 frames in 2 of 8 runs (and 3,238 in one on the earlier table layout),
    and failed CI once with 2,799."""
    kv = SQLiteKV(tmp_path / "kv.db")
    cp = kv._checkpointer
    assert cp is not None
    for i in range(12):  # a trickle: the thread learns a pace of a few pages a second
        put_many(kv, 1, i)
        time.sleep(0.1)
    assert wait_until(lambda: cp.stats.runs >= 2)
    time.sleep(1.5)  # a quiet spell
    before = cp.stats.frames
    for chunk in range(12):  # then a burst: ~21,000 pages in ~0.3 s
        put_many(kv, 500, 100 + 500 * chunk)
        time.sleep(0.01)
    assert cp.stats.frames - before > 3 * TARGET_FRAMES, (before, cp.stats)
    kv.close()


def test_a_pace_learnt_before_a_burst_does_not_hold_it_back() -> None:
    """The two rules, each alone. After a trickle (a pace of 10 pages a second, which would wait ~100 s of writing
    for 1,000 pages): (1) on a file whose log was once long (its ``-wal`` file stays that big, so a burst never
    grows it past its longest), the fourth look in a row that finds the file written after a quiet spell
    takes a checkpoint, to learn the new pace; (2) on a file whose log has been short, a log grown by
    ``target`` pages past its longest takes one at once. Each fails first without its rule."""
    frame = 4096 + 24

    def after_a_trickle(wal: int) -> _Pace:
        pace = _Pace(TARGET_FRAMES, frame)
        assert pace.due(wal, 0.0, 5.0)  # nothing learnt yet: the first look checkpoints
        pace.looked(True, 1.0)
        pace.learn(10, wal)  # a trickle: 10 pages in a second of writing
        assert pace.rate == 10.0 and not pace.stale
        return pace

    long_wal = 9_000 * frame  # (1)
    pace = after_a_trickle(long_wal)
    for _ in range(QUIET_LOOKS):  # a quiet spell
        pace.looked(False, 0.05)
    decisions = []
    for i in range(BURST_LOOKS):  # then written at every look
        pace.looked(True, 0.05)
        decisions.append(pace.due(long_wal, 1.0 + 0.05 * i, 5.0))
    assert decisions == [False] * (BURST_LOOKS - 1) + [True]
    pace.learn(1_000, long_wal)  # what that checkpoint found: ~1,000 pages in 0.2 s of writing
    assert pace.rate is not None and pace.rate > 4_000 and not pace.stale
    pace.looked(True, 0.25)
    assert pace.due(long_wal, 1.5, 5.0)  # the new pace: ~1,000 pages again in a quarter of a second

    short_wal = 20 * frame  # (2)
    pace = after_a_trickle(short_wal)
    pace.looked(True, 0.05)  # no quiet spell: the pace is not stale
    assert not pace.due(short_wal + (TARGET_FRAMES - 1) * frame, 0.1, 5.0)
    assert pace.due(short_wal + TARGET_FRAMES * frame, 0.1, 5.0)


def test_an_idle_file_is_left_alone(tmp_path: Path) -> None:
    """No write, no checkpoint (each costs two fsyncs): the thread only looks at PRAGMA data_version."""
    kv = SQLiteKV(tmp_path / "kv.db", background_checkpoints=False)
    put_many(kv, 10)
    cp = WalCheckpointer(kv.path, target_frames=1, poll=0.01, max_interval=0.02, idle_interval=0.01)
    cp._thread.start()
    assert wait_until(lambda: cp.stats.runs >= 1)
    runs = cp.stats.runs
    time.sleep(0.3)  # ~30 looks at an idle file
    assert cp.stats.runs == runs
    put_many(kv, 1, 100)
    assert wait_until(lambda: cp.stats.runs == runs + 1)
    cp.stop()
    assert not cp.running
    kv.close()


def test_close_and_collection_stop_the_thread(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "state.db", codec)
    kv = SQLiteKV(tmp_path / "kv.db")
    threads = [store._checkpointer, kv._checkpointer]
    assert all(t is not None and t.running for t in threads)
    store.close()
    kv.close()
    assert not any(t.running for t in threads if t is not None)
    store._db()  # a closed store reopens on the next call, and so does its checkpointer
    assert store._checkpointer is not None and store._checkpointer.running
    store.close()

    dropped = SQLiteKV(tmp_path / "dropped.db")
    thread = dropped._checkpointer
    assert thread is not None
    del dropped
    gc.collect()
    thread._thread.join(5.0)
    assert not thread.running  # an owner collected without close() takes its thread with it

    # off where asked, and never for a reader or a database in memory
    assert SQLiteKV(tmp_path / "kv.db", readonly=True)._checkpointer is None
    assert SQLiteKV(tmp_path / "off.db", background_checkpoints=False)._checkpointer is None
    assert SQLiteStore(":memory:", codec)._checkpointer is None


_WRITER = r"""
import sys, time
from freshtoken.kv.wal_checkpointer import FALLBACK_PAGES, WalCheckpointer
from freshtoken.embedded import SQLiteKV
kv = SQLiteKV(sys.argv[1], background_checkpoints=False)  # the runtime's set-up, with a busier checkpointer:
kv._db().execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
WalCheckpointer.start_for(kv, kv.path, target_frames=int(sys.argv[4]), poll=0.001)
i = int(sys.argv[2])
while True:
    kv.put_sync(f"t:generic:acct-{i:07d}", '{"access_token":"' + "a" * 900 + f'","generation":{i}}}', 3600)
    print(i, flush=True)  # acknowledged: committed
    i += 1
    if sys.argv[3] == "bursts" and i % 400 == 0:
        print("burst", flush=True)  # no transaction open from here: only the checkpointer works on the file
        time.sleep(0.3)
"""


def _writer(path: Path, start: int, pace: str, target: int) -> subprocess.Popen[str]:
    """A process writing KV rows as fast as it can (``bursts``: 400 at a time, then 0.3 s of nothing), printing
    each one once committed; its checkpointer looks every millisecond and copies the log back once it holds
    ``target`` pages."""
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(start), pace, str(target)],
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _acknowledged(proc: subprocess.Popen[str], at_least: int) -> list[int]:
    assert proc.stdout is not None
    got: list[int] = []
    for line in proc.stdout:
        if line.strip() == "burst":
            if at_least == 0:
                break
            continue
        got.append(int(line))
        if at_least and len(got) >= at_least:
            break
    return got


def test_kill_9_mid_checkpoint_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """A writer killed six times while its checkpointer copies the log back every ~20 pages (so most kills land
    in or next to a checkpoint): the file is sound and holds every write the writer acknowledged. Fails first
    with a checkpointer that empties the log file itself after a checkpoint (a commit that lands in between is
    lost: "database disk image is malformed")."""
    path = tmp_path / "kv.db"
    SQLiteKV(path, background_checkpoints=False).close()
    acknowledged: list[int] = []
    start = 0
    for round_ in range(6):
        proc = _writer(path, start, "fast", target=20)
        acknowledged += _acknowledged(proc, 300 + 137 * round_)  # a different moment each round
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        acknowledged += [int(x) for x in out.split()]  # lines already written before the kill
        start = max(acknowledged) + 1
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    present = {int(k.rsplit("-", 1)[1]) for (k,) in db.execute("SELECT key FROM kv")}
    assert set(acknowledged) <= present
    db.close()


def test_a_stopped_writer_blocks_no_other_writer_or_reader(tmp_path: Path) -> None:
    """A gateway holds a read snapshot open (a slow read), so the writer's checkpoints cannot finish; the writer
    is SIGSTOPped right after each burst, its checkpointer likely inside a checkpoint: another process's writer
    and the readers of the file go on. Fails first with a checkpointer that takes the write lock and waits for
    readers (``wal_checkpoint(RESTART)``): the other writer gets "database is locked" after its 5 s busy
    timeout."""
    path = tmp_path / "kv.db"
    SQLiteKV(path, background_checkpoints=False).close()
    slow_read = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    slow_read.execute("BEGIN")
    slow_read.execute("SELECT COUNT(*) FROM kv").fetchone()  # a snapshot from before every write below
    proc = _writer(path, 0, "bursts", target=1000)  # a burst is ~1,200 pages: one checkpoint near its end
    other = SQLiteKV(path, background_checkpoints=False)  # a CLI command beside the server, say
    reader = SQLiteKV(path, readonly=True)
    try:
        for stop in range(6):
            seen = _acknowledged(proc, 0)  # up to the end of a burst
            assert len(seen) >= 100 and proc.poll() is None  # the writer itself goes on (its own lock waits)
            proc.send_signal(signal.SIGSTOP)
            put_many(other, 5, 1_000_000 + 5 * stop)
            assert all(reader.get_sync(f"t:generic:acct-{i:07d}") for i in seen[-20:])
            assert reader.get_sync(f"t:generic:acct-{1_000_000 + 5 * stop + 4:07d}") is not None
            proc.send_signal(signal.SIGCONT)
            if stop == 3:
                slow_read.execute("COMMIT")  # the snapshot goes: checkpoints can finish from here
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.communicate()
        slow_read.close()
        reader.close()
        other.close()


def test_threads_do_not_pile_up(tmp_path: Path) -> None:
    """Stores opened and closed over and over (CLI commands, tests) leave no thread behind."""
    before = threading.active_count()
    for i in range(20):
        kv = SQLiteKV(tmp_path / f"kv{i}.db")
        put_many(kv, 5)
        kv.close()
    assert threading.active_count() <= before


def test_a_failing_checkpointer_is_counted(tmp_path: Path) -> None:
    """An operator sees background checkpoints fail: ``errors`` counts them, and runtime.stats() and the metrics
    export it (tests/ops/test_metrics.py). Here the checkpointer cannot open its file at all."""
    kv = SQLiteKV(tmp_path / "kv.db", background_checkpoints=False)
    put_many(kv, 10)
    cp = WalCheckpointer(tmp_path / "missing" / "kv.db", poll=0.01, max_interval=0.02, idle_interval=0.01)
    cp._thread.start()
    assert wait_until(lambda: not cp.running)  # it cannot open the file: it says so, counts it and stops
    assert cp.stats.errors == 1 and cp.stats.runs == 0
    stats = SQLiteKV(tmp_path / "kv2.db").checkpoint_stats()
    assert stats is not None and stats.errors == 0
    assert SQLiteKV(tmp_path / "kv.db", readonly=True).checkpoint_stats() is None
    kv.close()


_TRY_WRITE = r"""
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
wrote = 0
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:  # "database is locked": the other process holds the write lock, as it should
        time.sleep(0.005)
        continue
    db.execute("INSERT INTO kv (key, value, expires_at) VALUES ('intruder-' || ?, 'x', 0)", (wrote,))
    db.execute("COMMIT")
    wrote += 1
print(wrote)
"""


def test_the_checkpointer_never_lets_go_of_this_process_locks(tmp_path: Path) -> None:
    """POSIX record locks belong to the process and to the file, not to a descriptor: closing *any* descriptor
    of SQLite's ``-shm`` file drops every lock the process holds on it (https://www.sqlite.org/howtocorrupt.html,
    2.2). A checkpointer that opens and closes the ``-shm`` file to read the log's length lets another process
    write while this one is inside a write transaction: that write is lost, or the file is corrupted, and a
    process that finds no lock re-initialises the ``-shm`` mapping under us (SIGBUS). Fails first against the
    checkpointer that read the ``-shm`` header with ``open()``."""
    kv = SQLiteKV(tmp_path / "kv.db")
    cp = kv._checkpointer
    assert cp is not None and cp.running
    put_many(kv, 50)  # the checkpointer sees the file written and looks at it every 50 ms from here
    db = kv._db()
    db.execute("BEGIN IMMEDIATE")  # this process holds the write lock ...
    db.execute("INSERT INTO kv (key, value, expires_at) VALUES ('ours', 'x', 0)")
    try:
        other = subprocess.run([sys.executable, "-c", _TRY_WRITE, str(kv.path), "1.5"],
                               capture_output=True, text=True, timeout=60)
    finally:
        db.execute("COMMIT")
    assert other.returncode == 0, other.stderr[-500:]
    assert int(other.stdout) == 0  # ... and nobody else wrote while it held it
    check = sqlite3.connect(kv.path)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert check.execute("SELECT COUNT(*) FROM kv").fetchone()[0] == 51
    check.close()
    kv.close()


_BUSY_OWNER = r"""
import sys, time
from freshtoken.embedded import SQLiteKV
kv = SQLiteKV(sys.argv[1])  # the runtime's KV writer, its checkpointer on
i = 0
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    kv.put_sync(f"t:generic:acct-{i % 500:07d}", '{"access_token":"' + "a" * 300 + f'","generation":{i}}}', 3600)
    kv.get_sync(f"t:generic:acct-{(i * 7) % 500:07d}")
    i += 1
kv.close()
print(i)
"""

_COMERS = r"""
import sqlite3, sys, time
deadline = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < deadline:  # gateways, CLI commands: each opens the file, reads, closes
    db = sqlite3.connect(sys.argv[1], timeout=5)
    db.execute("SELECT COUNT(*) FROM kv").fetchone()
    db.close()
    n += 1
print(n)
"""


def test_other_processes_opening_the_file_do_not_crash_its_writer(tmp_path: Path) -> None:
    """The failure CI saw (``make: *** [test] Bus error``), replayed: a writer process with its checkpointer on,
    and processes that keep opening the file. A process that finds nobody holding the ``-shm`` file's
    "in use" lock truncates it to 3 bytes and starts it over; if the writer's process had dropped that lock
    (by closing a descriptor of the file), its next touch of the mapping is SIGBUS. Fails first (the writer
    dies of SIGBUS, exit -7) against the checkpointer that read the ``-shm`` header with ``open()``."""
    path = tmp_path / "kv.db"
    SQLiteKV(path, background_checkpoints=False).close()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    owner = subprocess.Popen([sys.executable, "-c", _BUSY_OWNER, str(path), "6"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    comers = [subprocess.Popen([sys.executable, "-c", _COMERS, str(path), "5"], stdout=subprocess.PIPE, text=True,
                               env=env) for _ in range(2)]
    out, err = owner.communicate(timeout=120)
    opened = [int(c.communicate(timeout=120)[0]) for c in comers]
    assert owner.returncode == 0, (owner.returncode, err[-500:])
    assert int(out) > 100 and min(opened) > 10
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
