"""What the operator features cost per refresh: the embedded runtime with and without them, same endpoint, same run.

Variants, alternating within each round (``--accounts`` due grants each, ``--concurrency`` at once):

* ``bare``: ``EmbeddedRuntime.run_due()`` with the default plugins (what ``bench.throughput`` measures);
* ``ops``: the same plus what ``freshtoken serve`` registers for operators: the per-refresh log line
  (``RefreshLog``) through the JSON formatter at INFO (to /dev/null, scrubbing three configured secrets), the
  Prometheus ``Metrics`` (counters and histograms) and the per-account ``AccountHistory`` (buffered, written in
  batches on its own connection).

Reported: the median refresh rate and CPU ms per refresh of each, and the history rows written (every refresh
must leave one). The endpoint is ``bench.endpoint fast`` in its own process.

    python -m bench.ops_overhead --accounts 2000 --rounds 3
    python -m bench.ops_overhead --per-event        # CPU µs per refresh event of each plugin alone, no endpoint
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from freshtoken.embedded import EmbeddedRuntime, SQLiteKV, SQLiteStore
from freshtoken.embedded.history import AccountHistory
from freshtoken.events import RefreshSucceeded
from freshtoken.observability.logs import JsonFormatter, RefreshLog
from freshtoken.observability.metrics import Metrics
from freshtoken.plugins import Plugins

from . import _common as c
from ._bulk import insert_accounts
from ._runtime import CLIENT_NAME, codec, oauth_client

NAME = "ops_overhead"


async def run(tmp: Path, token_url: str, first: int, n: int, concurrency: int, tag: str, ops: bool) -> dict[str, Any]:
    db = tmp / f"state-{tag}.db"
    store = SQLiteStore(db, codec())
    kv = SQLiteKV(tmp / f"kv-{tag}.db")
    past = time.time() - 1.0
    insert_accounts(store, first, n, alarm_at=lambda i: past, refresh_token=lambda i: f"rt.ft{i}.0")
    plugins = Plugins()
    history = None
    if ops:
        metrics = Metrics()
        history = AccountHistory(db)
        for name, plugin in (("log", RefreshLog()), ("metrics", metrics), ("history", history)):
            plugins.register(plugin, name=f"ops.{name}")
    runtime = EmbeddedRuntime(store=store, kv=kv, clients={CLIENT_NAME: oauth_client(token_url)},
                              concurrency=concurrency, startup_spread=0.0, plugins=plugins)
    cpu0, t0 = c.cpu_seconds(), time.perf_counter()
    await runtime.run_due()
    t1 = time.perf_counter()
    if history is not None:
        await history.aclose()  # the last batch is part of the cost
    cpu1 = c.cpu_seconds()
    st = runtime.stats()
    await runtime.aclose()
    return {"refreshed": st["refreshes_ok"], "seconds": t1 - t0, "rate": st["refreshes_ok"] / (t1 - t0),
            "cpu_ms_per_refresh": (cpu1 - cpu0) / n * 1e3, "history_rows": history.written if history else 0}


async def bench(a: argparse.Namespace, tmp: Path, token_url: str) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "ops": []}
    for rnd in range(a.rounds):
        order = ["bare", "ops"] if rnd % 2 == 0 else ["ops", "bare"]
        for name in order:
            first = (rnd * 2 + order.index(name)) * a.accounts
            r = await run(tmp, token_url, first, a.accounts, a.concurrency, f"{name}{rnd}", name == "ops")
            r["round"], r["loadavg"] = rnd, c.loadavg()
            runs[name].append(r)
            print(f"  round {rnd}: {name}: {r['rate']:.0f}/s, {r['cpu_ms_per_refresh']:.3f} CPU ms/refresh, "
                  f"{r['history_rows']} history rows (load {r['loadavg'][0]:.2f})", flush=True)
    return runs


async def per_event(tmp: Path, n: int = 5000) -> dict[str, float]:
    """CPU µs per ``freshtoken_refresh_succeeded`` event through each operator plugin alone (JSON log at INFO)."""
    now = time.time()
    event = RefreshSucceeded("bench:generic:acct-0000001", "generic", now, 3, now + 3600, now + 3000, True, 0.01,
                             "127.0.0.1:8080/token", 0.5)
    out = {}
    for name, plugin in (("log", RefreshLog()), ("metrics", Metrics()), ("history", AccountHistory(tmp / "h.db"))):
        plugins = Plugins(entry_points=False)
        plugins.register(plugin, name=name)
        cpu0 = time.process_time()
        for _ in range(n):
            await plugins.emit("freshtoken_refresh_succeeded", event)
        if isinstance(plugin, AccountHistory):
            await plugin.aclose()  # its batched writes are part of the cost
        out[name] = (time.process_time() - cpu0) / n * 1e6
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.ops_overhead", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--per-event", action="store_true", help="only the per-event cost of each plugin")
    a = p.parse_args(argv)
    started = time.monotonic()
    out = c.envelope(NAME, vars(a).copy())
    devnull = open(os.devnull, "w")
    handler = logging.StreamHandler(devnull)
    # as serve does: every line scrubbed of the configured secrets (a client secret, an admin token, a webhook key)
    handler.setFormatter(JsonFormatter(secrets=["bench-client-secret-0001", "bench-admin-token-0002",
                                                "bench-webhook-key-0003"]))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    if a.per_event:
        try:
            with tempfile.TemporaryDirectory(prefix="ft-bench-") as d:
                cost = asyncio.run(per_event(Path(d)))
        finally:
            root.removeHandler(handler)
            devnull.close()
        print({k: f"{v:.1f} CPU us/event" for k, v in cost.items()}, "load", c.loadavg())
        return {"per_event_us": cost}
    port = c.free_port()
    try:
        with tempfile.TemporaryDirectory(prefix="ft-bench-") as d, \
                c.process(c.python_module("bench.endpoint", "fast", "--port", str(port)), port=port):
            runs = asyncio.run(bench(a, Path(d), f"http://127.0.0.1:{port}/token"))
    finally:
        root.removeHandler(handler)
        devnull.close()
    out["runs"] = runs
    med = {k: {"rate": statistics.median(r["rate"] for r in v),
               "cpu_ms_per_refresh": statistics.median(r["cpu_ms_per_refresh"] for r in v)} for k, v in runs.items()}
    out["summary"] = {"median": med,
                      "cpu_ms_added_per_refresh": med["ops"]["cpu_ms_per_refresh"] - med["bare"]["cpu_ms_per_refresh"],
                      "rate_ratio_ops_vs_bare": med["ops"]["rate"] / med["bare"]["rate"],
                      "history_rows_per_refresh": min(r["history_rows"] / r["refreshed"] for r in runs["ops"])}
    c.finish(out, started)
    c.write_result(NAME, out)
    print(out["summary"])
    return out


if __name__ == "__main__":
    main()
