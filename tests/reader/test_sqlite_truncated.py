"""A KV file cut short behind SQLite's back (another program truncates it while the runtime holds it open): the
SQLite readers raise ``sqlite3.DatabaseError`` for the keys they cannot read, and their process goes on.

This is why neither reader maps the file (``PRAGMA mmap_size``, docs/reading-tokens.md): a mapped reader dies of
SIGBUS here. The adversary runs in a child process (a SIGBUS would take pytest down with it); these tests fail
when the readers' connections map the file (seen: the child dies of SIGBUS).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from freshtoken import KVRecord
from freshtoken.kv.sqlite import SQLiteKV

ROOT = Path(__file__).resolve().parents[2]
KEYS = 8000  # ~5 MB: more than a connection's page cache (2 MB), so reads after the cut go to the file


def _kv_file(path: Path, n: int) -> SQLiteKV:
    """A KV file of ``n`` records and its writer, left open (as a running runtime keeps it: WAL, ``-shm``)."""
    kv = SQLiteKV(path)
    db = kv._db()
    now = int(time.time())
    db.execute("BEGIN")
    for i in range(n):
        kv.put_sync(f"k{i}", KVRecord(access_token=f"at-{i}-".ljust(600, "x"), expires_at=now + 3600, scope="s",
                                      generation=1, refreshed_at=now).dumps(), 86_400)
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the main file
    return kv


#: The child: read keys, cut the file short behind SQLite's back, read them again; report what each read gave.
CHILD = textwrap.dedent("""
    import json, os, sys
    from freshtoken_reader import Reader, SQLiteSource
    from freshtoken.kv.sqlite import SQLiteKV
    path, how = sys.argv[1], sys.argv[2]
    if how == "light":
        read = Reader(SQLiteSource(path)).read
        answer = lambda k: read(k).reason.value
    else:
        kv = SQLiteKV(path, readonly=True)
        answer = lambda k: "ok" if kv.get_sync(k) else "none"
    keys = [f"k{i}" for i in range(0, int(sys.argv[3]), 3)]
    before = [answer(k) for k in keys]
    os.truncate(path, 8 * 4096)  # behind SQLite's back: no lock, no WAL
    after = []
    for k in keys:
        try:
            after.append(answer(k))
        except Exception as exc:  # what a gateway sees for that one request
            after.append(type(exc).__name__)
    print(json.dumps({"before": sorted(set(before)), "after": sorted(set(after))}))
""")


@pytest.mark.parametrize("how", ["light", "sdk"])
def test_reader_survives_a_file_cut_short(tmp_path: Path, how: str):
    path = tmp_path / "kv.db"
    writer = _kv_file(path, KEYS)
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(path), how, str(KEYS)], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
    finally:
        writer.close()
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])  # -7: SIGBUS
    result = json.loads(out.stdout)
    assert result["before"] == ["ok"]
    assert "DatabaseError" in result["after"]  # a clear error for the reads that hit the missing pages
