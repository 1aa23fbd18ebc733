"""Benchmark: SQLite's WAL checkpoints in line (inside a commit on the event loop) or in a thread of their own.

Two parts, each alternating the two set-ups (``background_checkpoints=False`` / ``True`` on the store and the KV):

* ``commits``: one state store, ``set_alarm`` on random accounts, one commit each: the time of every commit
  (mean, p50, p99, p99.9, max). In line, about one commit in 300 also copies the log back and syncs the files.
* ``runtime``: the embedded runtime refreshing ``--accounts`` due accounts against ``bench.endpoint fast`` at
  ``--concurrency`` (as ``bench.throughput`` does): refreshes per second, CPU per refresh, and how late a 2 ms
  timer fires on the runtime's event loop (every refresh in flight waits as long).

    python -m bench.checkpoints                      # ~2 minutes
    python -m bench.checkpoints --rounds 10 --accounts 1500
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from freshtoken.embedded import SQLiteStore

from . import _common as c
from ._bulk import insert_accounts
from ._runtime import account_key, codec
from .throughput import run_runtime, warm

NAME = "checkpoints"
SETUPS = {False: "in line", True: "in a thread"}


def commits(tmp: Path, n_accounts: int, n_commits: int, rounds: int) -> dict[str, Any]:
    rng = random.Random(7)
    out: dict[str, list[dict[str, float]]] = {name: [] for name in SETUPS.values()}
    for rnd in range(rounds):
        for background in (rnd % 2 == 1, rnd % 2 == 0):  # who goes first alternates
            store = SQLiteStore(tmp / f"commits-{rnd}-{background}.db", codec(),
                                background_checkpoints=background)
            insert_accounts(store, 0, n_accounts, alarm_at=lambda i: time.time() + 1000,
                            refresh_token=lambda i: f"rt.ck{i}.0")
            keys = [account_key(rng.randrange(n_accounts)) for _ in range(n_commits)]
            times = []
            for k in keys:
                t = time.perf_counter()
                store.set_alarm(k, 1.0)
                times.append(time.perf_counter() - t)
            store.close()
            stats = c.summary([t * 1e6 for t in times])
            out[SETUPS[background]].append({**{f"{k}_us": v for k, v in stats.items() if k != "n"},
                                            "loadavg": c.loadavg()})
    return out


async def runtime(tmp: Path, token_url: str, n: int, concurrency: int, rounds: int) -> dict[str, Any]:
    await warm(token_url)
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in SETUPS.values()}
    for rnd in range(rounds):
        background = rnd % 2 == 1
        r = await run_runtime(tmp, token_url, rnd * n, n, concurrency, rnd, background_checkpoints=background)
        r["loadavg"] = c.loadavg()
        out[SETUPS[background]].append(r)
        print(f"  round {rnd}: {SETUPS[background]}: {r['rate']:.0f}/s, {r['cpu_ms_per_refresh']:.2f} CPU ms, loop lag "
              f"p99 {r['loop_lag_ms']['p99']:.1f} ms, max {r['loop_lag_ms']['max']:.1f} ms", flush=True)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.checkpoints", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=1500, help="refreshes per runtime round")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=8, help="runtime rounds (alternating set-ups)")
    p.add_argument("--commits", type=int, default=6000, help="commits per set-up per round (commits part)")
    a = p.parse_args(argv)
    started = time.monotonic()
    out = c.envelope(NAME, vars(a).copy())
    with tempfile.TemporaryDirectory(prefix="ft-bench-") as d:
        out["commits"] = commits(Path(d), 2000, a.commits, 2)
        port = c.free_port()
        with c.process(c.python_module("bench.endpoint", "fast", "--port", str(port)), port=port):
            out["runtime"] = asyncio.run(runtime(Path(d), f"http://127.0.0.1:{port}/token", a.accounts,
                                                 a.concurrency, a.rounds))
    out["summary"] = {name: {"rate_median": statistics.median(r["rate"] for r in rs),
                             "loop_lag_p99_ms": [r["loop_lag_ms"]["p99"] for r in rs]}
                      for name, rs in out["runtime"].items()}
    c.finish(out, started)
    c.write_result(NAME, out)
    print(render(out))
    return out


def render(out: dict[str, Any]) -> str:
    rows = []
    for name in SETUPS.values():
        cm = out["commits"][name]
        rs = out["runtime"][name]
        rates = ", ".join(f"{r['rate']:.0f}" for r in rs)
        rows.append([name, ", ".join(f"{x['mean_us']:.0f}" for x in cm), ", ".join(f"{x['p999_us']:,.0f}" for x in cm),
                     ", ".join(f"{x['max_us']:,.0f}" for x in cm),
                     f"{out['summary'][name]['rate_median']:.0f} ({rates})",
                     ", ".join(f"{r['loop_lag_ms']['p99']:.1f}" for r in rs)])
    return "\n".join([
        f"# checkpoints — {out['date']} — `{out['command']}`", "",
        f"load average (1, 5, 15 min) at start {out.get('loadavg_start')}, at end {out.get('loadavg_end')}", "",
        c.table(["checkpoints", "commit mean µs", "commit p99.9 µs", "commit max µs",
                 f"runtime refreshes/s, median (rounds), concurrency {out['parameters']['concurrency']}",
                 "event-loop lag p99 ms per round"], rows),
    ])


if __name__ == "__main__":
    main()
