"""Benchmark: the SQLite KV's table layout — the earlier ``WITHOUT ROWID`` table against the rowid table.

Two KV files with the same records (written in a shuffled key order, as accounts register), one per layout:
the earlier ``CREATE TABLE kv (...) WITHOUT ROWID`` and the current one (``freshtoken.kv.sqlite``, written by
``SQLiteKV``). For each: the file's size, a raw ``SELECT value FROM kv WHERE key = ?`` (a cursor kept, as the
SQLite sources read), the light ``Reader(SQLiteSource).read``, and a refresh's KV write (``SQLiteKV.put_sync`` of
an existing key, one commit each). Keys are read uniformly at random; variants alternate in rounds.

A ``WITHOUT ROWID`` table keeps whole rows in its interior pages and spills rows over ~1 KB (4 KiB pages) to
overflow pages (https://www.sqlite.org/withoutrowid.html, section 4): token sizes either side of that matter.

    python -m bench.kv_layout                                   # 10,000 and 100,000 keys; 800- and 2,000-byte tokens
    python -m bench.kv_layout --keys 10000 --token-bytes 2000
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freshtoken.embedded import SQLiteKV
from freshtoken_reader import Reader, SQLiteSource

from . import _common as c
from .reader import key, must_be_ok, record

NAME = "kv-layout"
OLD = ("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL) WITHOUT ROWID",
       "CREATE INDEX kv_expiry ON kv(expires_at) WHERE expires_at IS NOT NULL")


def fill(path: Path, n: int, token_bytes: int, old: bool) -> None:
    """The table in the earlier layout (``old``) or as ``SQLiteKV`` creates it now, then ``n`` records written in a
    shuffled key order (as accounts register), in one transaction."""
    if old:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        for statement in OLD:
            db.execute(statement)
        db.close()
    else:
        SQLiteKV(path).close()
    now = time.time()
    order = list(range(n))
    random.Random(n).shuffle(order)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    for i in order:
        db.execute("INSERT INTO kv(key, value, expires_at) VALUES (?, ?, ?)",
                   (key(i), record(i, token_bytes, now), now + 7200))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def bench(tmp: Path, n: int, token_bytes: int, reads: int, writes: int, rounds: int) -> dict[str, Any]:
    files = {"WITHOUT ROWID (before)": tmp / f"old-{n}-{token_bytes}.db",
             "rowid (now)": tmp / f"new-{n}-{token_bytes}.db"}
    for layout, path in files.items():
        fill(path, n, token_bytes, old=layout.startswith("WITHOUT"))
    rng = random.Random(n + token_bytes)
    keys = [key(rng.randrange(n)) for _ in range(reads)]
    wkeys = [key(rng.randrange(n)) for _ in range(writes)]
    now = time.time()
    variants: dict[str, Callable[[list[str]], list[int]]] = {}
    writers: dict[str, Any] = {}
    for layout, path in files.items():
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        execute = conn.cursor().execute
        light = Reader(SQLiteSource(path))

        def raw(k: str, execute: Any = execute) -> Any:
            return execute("SELECT value FROM kv WHERE key = ?", (k,)).fetchone()

        def read(k: str, light: Reader = light) -> None:
            must_be_ok(light.read(k))

        variants[f"{layout}: raw SELECT"] = lambda p, f=raw: c.time_sync(f, p)  # type: ignore[misc]
        variants[f"{layout}: light Reader.read"] = lambda p, f=read: c.time_sync(f, p)  # type: ignore[misc]
        if layout.startswith("WITHOUT"):  # SQLiteKV would rebuild this file: write it as SQLiteKV writes
            wconn = sqlite3.connect(path, isolation_level=None)
            wconn.execute("PRAGMA synchronous=NORMAL")

            def put(k: str, db: Any = wconn) -> None:
                db.execute("INSERT INTO kv(key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE "
                           "SET value = excluded.value, expires_at = excluded.expires_at",
                           (k, record(int(k.rsplit("-", 1)[1]), token_bytes, now), now + 7200))
        else:
            kv = SQLiteKV(path, background_checkpoints=False)
            writers[layout] = kv

            def put(k: str, kv: SQLiteKV = kv) -> None:
                kv.put_sync(k, record(int(k.rsplit("-", 1)[1]), token_bytes, now), 7200)
        variants[f"{layout}: KV write (put, one commit)"] = lambda p, f=put: c.time_sync(f, p)  # type: ignore[misc]
    for run in variants.values():
        run(keys[:1000])
    samples: dict[str, list[int]] = {name: [] for name in variants}
    names = list(variants)
    rchunk, wchunk = max(1, len(keys) // rounds), max(1, len(wkeys) // rounds)
    for r in range(rounds):
        turn = r % len(names)
        for name in names[turn:] + names[:turn]:
            gc.collect()
            part = wkeys[r * wchunk:(r + 1) * wchunk] if "write" in name else keys[r * rchunk:(r + 1) * rchunk]
            samples[name] += variants[name](part)
    for kv in writers.values():
        kv.close()
    out = {name: c.us(s) for name, s in samples.items()}
    sizes = {layout: path.stat().st_size for layout, path in files.items()}
    return {"keys": n, "token_bytes": token_bytes, "file_bytes": sizes, "variants": out}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.kv_layout", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--token-bytes", type=int, nargs="+", default=[800, 2000])
    p.add_argument("--reads", type=int, default=100_000)
    p.add_argument("--writes", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=10)
    a = p.parse_args(argv)
    started = time.monotonic()
    out: dict[str, Any] = c.envelope(NAME, dict(vars(a)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="ft-bench-layout-") as d:
        for n in a.keys:
            for tb in a.token_bytes:
                res = bench(Path(d), n, tb, a.reads, a.writes, a.rounds)
                rows.append(res)
                old, new = "WITHOUT ROWID (before)", "rowid (now)"
                v = res["variants"]
                line = [f"{n:,} keys, {tb} B tokens",
                        f"{res['file_bytes'][old] / 2**20:.1f} / {res['file_bytes'][new] / 2**20:.1f} MiB"]
                for what in ("raw SELECT", "light Reader.read", "KV write (put, one commit)"):
                    b, a_ = v[f"{old}: {what}"]["p50"], v[f"{new}: {what}"]["p50"]
                    line.append(f"{b:.2f} -> {a_:.2f} ({a_ / b:.2f}x)")
                print(" | ".join(line), flush=True)
    out["results"] = rows
    c.finish(out, started)
    path = c.write_result(NAME, out)
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
