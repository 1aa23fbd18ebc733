"""Benchmark 3 — scale: 10 k, 100 k and 1 M registered accounts in the embedded runtime.

For each size, in fresh processes:

1. **populate** (not timed as start-up): the accounts go into a SQLite store through the store's API in bulk
   (``save_state`` + ``set_alarm``, secrets AES-GCM encrypted, batched in transactions — what ``register``
   leaves behind, minus one commit per row). Alarms are spread evenly at ``--rate`` per second: account ``i``
   is due at ``V0 + i / rate`` — for 1 M accounts at 300/s that is 55 minutes, i.e. 1 M accounts with one-hour
   tokens;
2. **run**: a new process opens the store and starts ``EmbeddedRuntime.run()`` for real against the fast
   loopback token endpoint (``bench.endpoint fast``, its own process). Start-up time = from spawning the
   process to the scheduler running (interpreter, imports, opening the store, the runtime's start-up pass);
   then the runtime works through ``--window`` seconds of alarms (``rate × window`` refreshes) and we record
   resident memory (sampled every 0.5 s from outside, and the kernel's peak) and each alarm's lateness:
   when its refresh started minus when it was due (from the ``freshtoken_refresh_succeeded`` event:
   ``at - duration``). Alarms due in the window that had not fired by its end count with the lateness they
   had reached (no survivorship bias).

The runtime's clock is the system clock shifted by a constant so that the first alarm falls due just after
start-up (time runs at the real rate; only its origin moves, so populating can take as long as it takes).

    python -m bench.scale                           # 10k, 100k, 1M: ~8-12 minutes on 2 cores
    python -m bench.scale --sizes 10000,100000      # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

NAME = "scale"
V0 = 2_000_000_000.0  # virtual epoch of the first alarm


# -- child: populate ------------------------------------------------------------------------------------------
def populate(a: argparse.Namespace) -> None:
    from freshtoken.embedded import AesGcmCodec, SQLiteStore

    from ._bulk import insert_accounts

    store = SQLiteStore(a.db, AesGcmCodec.from_env())
    rate, prefix = a.rate, f"s{a.accounts}x"
    secs = insert_accounts(store, 0, a.accounts, alarm_at=lambda i: V0 + i / rate,
                           refresh_token=lambda i: f"rt.{prefix}{i}.0", batch=10_000)
    store._exec("ANALYZE")
    store.close()
    print(json.dumps({"populate_seconds": secs, "db_bytes": os.path.getsize(a.db)}), flush=True)


# -- child: run -----------------------------------------------------------------------------------------------
class ShiftedClock:
    """The system clock plus a settable offset (time runs at the real rate)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    async def sleep_until(self, when: float) -> None:
        delay = when - self.now()
        if delay > 0:
            await asyncio.sleep(delay)


def _mib() -> dict[str, float]:
    from ._common import rss_mib

    return rss_mib()


def run(a: argparse.Namespace) -> None:
    t_spawn = float(a.spawned_at)
    t_main = time.time()
    from freshtoken import hookimpl
    from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore
    from freshtoken.plugins import default_plugins

    from ._runtime import CLIENT_NAME, account_index, oauth_client

    t_imported = time.time()
    mem_imported = _mib()
    rate = a.rate
    late: list[float] = []
    last_at = [V0]
    first_due = V0
    window_end = V0 + a.window

    class Probe:
        @hookimpl
        def freshtoken_refresh_succeeded(self, event: Any) -> None:
            due = first_due + account_index(event.key) / rate
            late.append(event.at - event.duration - due)
            last_at[0] = max(last_at[0], event.at)

    clock = ShiftedClock(-1e9)  # nothing due until start-up is over
    plugins = default_plugins()
    plugins.register(Probe(), name="bench-probe")

    async def main() -> dict[str, Any]:
        store = SQLiteStore(a.db, AesGcmCodec.from_env())
        kv = SQLiteKV(a.kv)
        runtime = EmbeddedRuntime(store=store, kv=kv, clients={CLIENT_NAME: oauth_client(a.token_url)},
                                  plugins=plugins, clock=clock, concurrency=a.concurrency)
        t_constructed = time.time()
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        while not getattr(runtime, "_started", True) and not task.done():  # noqa: ASYNC110 - a private flag
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)  # let the scheduler reach its first wait
        t_ready = time.time()
        mem_ready = _mib()
        print(json.dumps({"event": "ready", "pid": os.getpid()}), flush=True)
        # start the alarm stream: the first alarm falls due 0.5 s from now
        clock.offset = V0 - 0.5 - time.time()
        runtime.wake()
        samples = []
        while clock.now() < window_end:
            await asyncio.sleep(0.5)
            samples.append({"t": round(clock.now() - V0, 1), "refreshed": len(late), **_mib()})
        end_virtual = clock.now()
        stop.set()
        await task
        st = runtime.stats()
        await runtime.aclose()
        due_in_window = min(a.accounts, int(a.window * rate) + 1)
        fired = [x for x in late]
        missing = max(0, due_in_window - len(fired))
        # alarms due in the window that never fired: late by at least (end - due)
        fired_keys = len(fired)
        unfired = [end_virtual - (first_due + i / rate) for i in range(fired_keys, fired_keys + missing)]
        return {
            "startup": {
                "interpreter_and_imports_s": t_imported - t_spawn,
                "open_store_and_construct_s": t_constructed - t_imported,
                "runtime_startup_pass_s": t_ready - t_constructed,
                "total_s": t_ready - t_spawn,
                "python_started_s": t_main - t_spawn,
            },
            "memory_mib": {"after_imports": mem_imported, "ready": mem_ready, "end": _mib()},
            "timeline": samples,
            "lateness_s": sorted(fired) + sorted(unfired),
            "refreshed": len(fired),
            "last_refresh_s": last_at[0] - V0,
            "due_in_window": due_in_window,
            "never_fired_in_window": missing,
            "runtime_stats": {k: st.get(k) for k in ("refreshes_ok", "refreshes_failed", "errors", "alarms_fired",
                                                     "outcomes", "peak_in_flight", "last_loop_lag")},
        }

    result = asyncio.run(main())
    print(json.dumps({"event": "done", **result}), flush=True)


# -- parent ---------------------------------------------------------------------------------------------------------
def measure_size(n: int, a: argparse.Namespace, tmp: Path, token_url: str, env: dict[str, str]) -> dict[str, Any]:
    from . import _common as c

    db, kv = tmp / f"state-{n}.db", tmp / f"kv-{n}.db"
    print(f"[{n:,}] populating ...", flush=True)
    out = subprocess.run(c.python_module("bench.scale", "populate", "--db", str(db), "--accounts", str(n),
                                         "--rate", str(a.rate)), cwd=c.ROOT, env=env, check=True,
                         capture_output=True, text=True)
    pop = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"[{n:,}] populated in {pop['populate_seconds']:.0f}s ({pop['db_bytes'] / 2**20:.0f} MiB); running ...",
          flush=True)
    spawned = time.time()
    proc = subprocess.Popen(
        c.python_module("bench.scale", "run", "--db", str(db), "--kv", str(kv), "--accounts", str(n),
                        "--rate", str(a.rate), "--window", str(a.window), "--token-url", token_url,
                        "--concurrency", str(a.concurrency), "--spawned-at", repr(spawned)),
        cwd=c.ROOT, env=env, stdout=subprocess.PIPE, text=True)
    outside: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):
                outside.append(c.rss_mib(proc.pid)["rss"])
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result: dict[str, Any] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        msg = json.loads(line)
        if msg.get("event") == "ready":
            pass
        elif msg.get("event") == "done":
            result = msg
    proc.wait()
    done.set()
    sampler.join()
    if proc.returncode != 0 or not result:
        raise RuntimeError(f"scale run for {n} accounts failed ({proc.returncode})")
    lat = result.pop("lateness_s")
    result["lateness_ms"] = {k: (v * 1000 if k != "n" else v) for k, v in c.summary(sorted(lat)).items()}
    # refreshes per second from the first alarm's due time to the last refresh (or the window's end)
    result["achieved_rate"] = result["refreshed"] / max(min(a.window, n / a.rate), result.get("last_refresh_s", 0.0))
    result["rss_mib_sampled_max"] = max(outside) if outside else None
    result["rss_mib_peak"] = result["memory_mib"]["end"]["peak"]
    result["populate"] = pop
    for p in (db, kv):
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{p}{suffix}").unlink()
    print(f"[{n:,}] start-up {result['startup']['total_s']:.2f}s, peak RSS {result['rss_mib_peak']:.0f} MiB, "
          f"p99 lateness {result['lateness_ms']['p99']:.0f} ms, {result['achieved_rate']:.0f} refreshes/s", flush=True)
    return result


def parent(a: argparse.Namespace) -> dict[str, Any]:
    from freshtoken.embedded import generate_key

    from . import _common as c

    started = time.monotonic()
    sizes = [int(s) for s in a.sizes.split(",")]
    params = {"sizes": sizes, "rate": a.rate, "window": a.window, "concurrency": a.concurrency,
              "kv": "SQLiteKV", "store": "SQLiteStore (AES-GCM)", "endpoint": "bench.endpoint fast (lifetime 3600)"}
    out = c.envelope(NAME, params)
    env = {**os.environ, "FRESHTOKEN_ENCRYPTION_KEYS": generate_key("bench")}
    port = c.free_port()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ft-bench-scale-") as d, \
            c.process(c.python_module("bench.endpoint", "fast", "--port", str(port)), port=port):
        for n in sizes:
            results[str(n)] = measure_size(n, a, Path(d), f"http://127.0.0.1:{port}/token", env)
            out["sizes"] = results
            c.write_result(result_name(a), c.finish(out, started))  # partial results as they come
    peak = {n: r["rss_mib_peak"] for n, r in results.items()}
    out["summary"] = {
        "rss_peak_mib": peak,
        "rss_target_mib_at_1M": 300,
        "rss_met": all(v < 300 for v in peak.values()),
        "startup_s": {n: r["startup"]["total_s"] for n, r in results.items()},
        "p99_lateness_ms": {n: r["lateness_ms"]["p99"] for n, r in results.items()},
        "achieved_rate": {n: r["achieved_rate"] for n, r in results.items()},
    }
    c.finish(out, started)
    c.write_result(result_name(a), out)
    print(render(out))
    return out


def result_name(a: argparse.Namespace) -> str:
    return NAME if a.concurrency == 32 else f"{NAME}-c{a.concurrency}"


def render(out: dict[str, Any]) -> str:
    from . import _common as c

    rows = []
    for n, r in out["sizes"].items():
        lat = r["lateness_ms"]
        rows.append([f"{int(n):,}", r["startup"]["total_s"], r["memory_mib"]["ready"]["rss"], r["rss_mib_peak"],
                     r["achieved_rate"], lat["p50"], lat["p99"], lat["max"], r["never_fired_in_window"],
                     r["runtime_stats"]["refreshes_failed"]])
    p = out["parameters"]
    return "\n".join([
        f"# scale — {out['date']} — `{out['command']}`", "",
        f"alarms due at {p['rate']:.0f}/s, {p['window']:.0f} s window, runtime concurrency {p['concurrency']}", "",
        c.table(["accounts", "start-up s", "RSS ready MiB", "RSS peak MiB", "refreshes/s", "lateness p50 ms",
                 "p99 ms", "max ms", "not fired", "failed"], rows),
    ])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", nargs="?", default="parent", choices=["parent", "populate", "run"])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--rate", type=float, default=300.0, help="alarms due per second")
    p.add_argument("--window", type=float, default=60.0, help="seconds of alarms to run through")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--db")
    p.add_argument("--kv")
    p.add_argument("--accounts", type=int, default=0)
    p.add_argument("--token-url")
    p.add_argument("--spawned-at", type=float, default=0.0)
    a = p.parse_args(argv)
    if a.mode == "populate":
        populate(a)
    elif a.mode == "run":
        run(a)
    else:
        parent(a)


if __name__ == "__main__":
    sys.exit(main())
