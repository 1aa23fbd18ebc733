"""Benchmark: would a memory-mapped SQLite read (``PRAGMA mmap_size``) make the request path cheaper?

A question asked of the SQLite readers (docs/reading-tokens.md, "Memory-mapped reads: measured, not taken"): a raw
``SELECT value FROM kv WHERE key = ?`` through a connection with the default ``read()`` I/O against one with
``mmap_size`` = 1 GiB, same keys in the same order, interleaved, over a KV file the SDK wrote — first with no
writer, then with a writer in another process committing one record at a time at the given rates (what a running
runtime does: a fleet of N accounts with 1-hour tokens commits N / 3,600 KV writes a second).

Every commit makes each reader drop its view of the file at its next read (SQLite's WAL: the page cache is reset
and a map is unmapped, to be mapped and faulted in again), so the figure that matters is the one with a writer.

    python -m bench.sqlite_mmap                          # 100,000 keys; writer at 0, 28 and 280 commits/s
    python -m bench.sqlite_mmap --keys 10000 --rates 0 3
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from freshtoken.embedded import SQLiteKV

from . import _common as c
from .reader import key, record

NAME = "sqlite-mmap"
MAP = 1 << 30

WRITER = """
import random, sys, time
from freshtoken.embedded import SQLiteKV
from bench.reader import key, record
path, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
kv, rng, now = SQLiteKV(path), random.Random(2), time.time()
print("ready", flush=True)
next_at = time.monotonic()
while True:
    i = rng.randrange(n)
    kv.put_sync(key(i), record(i, 800, now), 7200)
    next_at += 1 / rate
    time.sleep(max(0.0, next_at - time.monotonic()))
"""


def measure(path: Path, n_keys: int, reads: int, rounds: int, rate: float) -> dict[str, Any]:
    writer = None
    if rate > 0:
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n_keys), str(rate)],
                                  stdout=subprocess.PIPE, text=True, cwd=c.ROOT)
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    try:
        conns = {}
        for name, pragma in (("read()", None), ("mmap 1 GiB", f"PRAGMA mmap_size={MAP}")):
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
            if pragma:
                conn.execute(pragma)
            conns[name] = conn
        mapped = conns["mmap 1 GiB"].execute("PRAGMA mmap_size").fetchone()
        rng = random.Random(n_keys)
        keys = [key(rng.randrange(n_keys)) for _ in range(reads)]
        chunk = max(1, reads // rounds)
        ns: dict[str, list[int]] = {name: [] for name in conns}
        for conn in conns.values():  # warm
            for k in keys[:2000]:
                conn.execute("SELECT value FROM kv WHERE key = ?", (k,)).fetchone()
        names = list(conns)
        pc = time.perf_counter_ns
        for r in range(rounds):
            part = keys[r * chunk:(r + 1) * chunk]
            for name in names[r % 2:] + names[:r % 2]:
                execute = conns[name].execute
                gc.collect()
                out = ns[name]
                for k in part:
                    t0 = pc()
                    execute("SELECT value FROM kv WHERE key = ?", (k,)).fetchone()
                    out.append(pc() - t0)
        for conn in conns.values():
            conn.close()
    finally:
        if writer is not None:
            writer.kill()
            writer.wait()
    us = {name: {k: (v / 1000 if k != "n" else v) for k, v in c.summary(s).items()} for name, s in ns.items()}
    base, mm = us["read()"], us["mmap 1 GiB"]
    return {"keys": n_keys, "writer_commits_per_s": rate, "mmap_in_force": bool(mapped and mapped[0]),
            "variants": us, "mmap_p50_ratio": mm["p50"] / base["p50"], "mmap_mean_ratio": mm["mean"] / base["mean"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.sqlite_mmap", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, default=100_000)
    p.add_argument("--rates", type=float, nargs="+", default=[0, 28, 280], help="writer commits per second")
    p.add_argument("--reads", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=10)
    a = p.parse_args(argv)
    started = time.monotonic()
    out: dict[str, Any] = c.envelope(NAME, dict(vars(a)))
    with tempfile.TemporaryDirectory(prefix="ft-bench-mmap-") as d:
        path = Path(d) / "kv.db"
        kv = SQLiteKV(path)
        db = kv._db()
        now = time.time()
        db.execute("BEGIN")
        for i in range(a.keys):
            kv.put_sync(key(i), record(i, 800, now), 7200)
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        out["runs"] = [measure(path, a.keys, a.reads, a.rounds, rate) for rate in a.rates]
        kv.close()
    c.finish(out, started)
    c.write_result(f"{NAME}-{a.keys}", out)
    rows = [[f"{r['keys']:,}", f"{r['writer_commits_per_s']:g}", f"{r['variants']['read()']['p50']:.1f}",
             f"{r['variants']['mmap 1 GiB']['p50']:.1f}", f"{r['mmap_p50_ratio']:.2f}×", f"{r['mmap_mean_ratio']:.2f}×"]
            for r in out["runs"]]
    print(f"# sqlite-mmap — {out['date']} — load {out['loadavg_start']} → {out['loadavg_end']}")
    print(c.table(["keys", "writer commits/s", "read() p50 µs", "mmap p50 µs", "mmap ÷ read() p50",
                   "mmap ÷ read() mean"], rows))
    return out


if __name__ == "__main__":
    main()
