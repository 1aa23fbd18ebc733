"""Benchmark — the onboarding herd (issue 17): N accounts onboarded at once against a 200 ms token endpoint, on the
real embedded runtime, then the simulator's prediction for the same parameters.

The token endpoint is ``bench.endpoint fast --latency L`` in its own process: a real HTTP endpoint on 127.0.0.1
that answers each request after L seconds (asyncio ``call_later``), with rotating refresh tokens and reuse
detection. The runtime (SQLite state and KV in a temporary directory, the wall clock) registers the N accounts
with an access token each, all at once (a bulk import), and runs its scheduler for ``--cycles`` token lifetimes.
Meanwhile a reader task reads ``--reads-per-second`` sampled keys from the KV (in batches every 100 ms), through
the :class:`TokenReader` (a refusal: no usable token) and raw (a token served expired: the record's
``expires_at`` has passed).

**Time scaling.** Virtual time is impossible across real HTTP, so token lifetimes are scaled down (default
``--lifetime 150 --lead 40``: an hour and ten minutes shrunk ~24× and 15×) while the provider latency stays real
(200 ms). The figures that carry over are the ones in units of the runtime's capacity (``concurrency / latency``
= 160 refreshes/s at the defaults): the herd's drain time against the lead, and the demand per second against
the capacity. With the defaults the planner's window before the deadline (lifetime - lead = 110 s) holds the
herd at the planner's initial guess (0.8 × 32 / 0.5 s = 51/s: 5,000 in 98 s); 20,000 need ``--lifetime 600
--lead 120`` (window 480 s, baseline drain 125 s > lead), about 25 minutes for two cycles.

Per refresh (from the ``refresh_succeeded`` events): lateness = when the refresh started - its deadline
(``expiry - lead`` of the token it replaced); delay = when the token landed - the alarm that produced it; lapsed =
landed after the old token expired. Peak demand = refreshes landed per second, in the first and in the next
cycle. The simulator (``freshtoken simulate``'s engine: the real refresher and planner in virtual time) runs the
same parameters; both are printed side by side. The simulator models the provider's latency and the slots, not
the host's CPU unless ``--sim-cpu`` hands it the runtime's measured CPU seconds per refresh: on a machine so busy
that the runtime's event loop lags (its measured exchange latency far above the endpoint's), the runtime is
CPU-bound and the two part ways; the ``latency_estimate`` printed says which case a run was.

    python -m bench.herd                                        # 5,000 accounts, ~5 min
    python -m bench.herd --accounts 20000 --lifetime 600 --lead 120
    python -m bench.herd --planner deadline                     # every alarm at its deadline (before issue 17)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from freshtoken import Plugins, TokenHTTP
from freshtoken.embedded import EmbeddedRuntime, SQLiteKV, SQLiteStore
from freshtoken.hookspecs import hookimpl
from freshtoken.lead import refresh_at
from freshtoken.providers import generic
from freshtoken.reader import TokenReader

from . import _common as c
from ._runtime import CLIENT_NAME, codec, oauth_client


class Recorder:
    """Every refresh (landed, duration, new expiry, next alarm) and every backlog alert."""

    def __init__(self) -> None:
        self.refreshes: list[tuple[str, float, float, float | None, float | None]] = []
        self.alerts: list[dict[str, Any]] = []
        self.expired_events = 0

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: Any) -> None:
        self.refreshes.append((event.key, event.at, event.duration, event.expires_at, event.next_refresh_at))

    @hookimpl
    def freshtoken_backlog_rising(self, event: Any) -> None:
        self.alerts.append({"at": event.at, "due": event.due, "drain_seconds": event.drain_seconds,
                            "ratio": event.ratio})

    @hookimpl
    def freshtoken_token_expired(self, event: Any) -> None:
        self.expired_events += 1


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def read_load(kv: SQLiteKV, keys: list[str], stop: asyncio.Event, counts: Counter[str], per_tick: int,
                    firsts: dict[str, float]) -> None:
    reader = TokenReader(kv, min_remaining=0)
    rng = random.Random(7)
    while not stop.is_set():
        now = time.time()
        for key in rng.sample(keys, min(per_tick, len(keys))):
            raw = await kv.get(key)
            try:
                await reader.get(key)
                counts["served"] += 1
            except Exception:
                counts["refused"] += 1
                firsts.setdefault("refused", now)
            if raw is not None:
                rec = json.loads(raw)
                if "access_token" in rec and rec.get("expires_at") is not None and rec["expires_at"] <= now:
                    counts["served_expired_raw"] += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def run_runtime(args: argparse.Namespace, token_url: str, tmp: Path) -> dict[str, Any]:
    rec = Recorder()
    plugins = Plugins(entry_points=False)
    plugins.register(generic, name="generic")
    plugins.register(rec)
    kv = SQLiteKV(tmp / "kv.db")
    client = oauth_client(token_url, lead=args.lead, timeout=30.0)
    rt = EmbeddedRuntime(
        store=SQLiteStore(tmp / "state.db", codec()), kv=kv, clients={CLIENT_NAME: client}, plugins=plugins,
        http=TokenHTTP(max_connections=args.concurrency), concurrency=args.concurrency, startup_spread=0.0,
        kv_margin=0.0, plan_capacity=args.planner == "capacity", max_idle=1.0,
    )
    keys = [f"bench:generic:herd-{i:07d}" for i in range(args.accounts)]
    onboard_start = time.time()
    issued: dict[str, tuple[float, float]] = {}
    for i, key in enumerate(keys):
        now = time.time()
        await rt.register(key, client=CLIENT_NAME, refresh_token=f"rt.h{i}.0", access_token=f"at.h{i}.0",
                          expires_in=args.lifetime)
        issued[key] = (now, now + args.lifetime)
    onboard_seconds = time.time() - onboard_start
    alarms = [rt.store.get_alarm(k) for k in keys]
    planned = Counter(int(a) for a in alarms if a is not None)
    stop = asyncio.Event()
    counts: Counter[str] = Counter()
    end = onboard_start + args.cycles * args.lifetime + args.lead
    firsts: dict[str, float] = {}
    reader = asyncio.create_task(read_load(kv, keys, stop, counts, max(1, args.reads_per_second // 10), firsts))
    cpu0 = c.cpu_seconds()
    sched = asyncio.create_task(rt.run(stop))
    await asyncio.sleep(max(0.0, end - time.time()))
    stop.set()
    await sched
    await reader
    cpu = c.cpu_seconds() - cpu0
    stats = rt.stats()
    await rt.aclose()
    # per refresh: lateness, delay, lapse
    late, delay, lapsed = [], [], 0
    next_alarm: dict[str, float | None] = {k: a for k, a in zip(keys, alarms, strict=True)}
    first_cycle, next_cycle = Counter(), Counter()
    for key, at, duration, expires_at, next_at in sorted(rec.refreshes, key=lambda r: r[1]):
        prev_issued, prev_exp = issued[key]
        started = at - duration
        late.append(max(0.0, started - refresh_at(prev_issued, prev_exp, args.lead, margin=0.0)))
        alarm = next_alarm.get(key)
        if alarm is not None:
            delay.append(at - alarm)
        if at > prev_exp:
            lapsed += 1
            firsts.setdefault("lapse", prev_exp)
        (first_cycle if at < onboard_start + args.lifetime else next_cycle)[int(at)] += 1
        issued[key] = (at, expires_at if expires_at is not None else at + args.lifetime)
        next_alarm[key] = next_at
    # tokens that expired during the run and were never replaced in it lapsed too
    never = [exp for _, exp in issued.values() if exp < end]
    if never:
        firsts["lapse"] = min(firsts.get("lapse", math.inf), min(never))

    def since(t: float | None) -> float | None:
        return None if t is None else t - onboard_start

    first_alert = min((a["at"] for a in rec.alerts), default=None)
    return {
        "onboard_seconds": onboard_seconds,
        "expired_unreplaced_at_end": len(never),
        "first_lapse_after_onboard_start": since(firsts.get("lapse")),
        "first_alert_after_onboard_start": since(first_alert),
        "first_refusal_after_onboard_start": since(firsts.get("refused")),
        "alert_before_first_lapse": None if first_alert is None else first_alert < firsts.get("lapse", math.inf),
        "cpu_seconds_per_refresh": cpu / max(1, len(rec.refreshes)),
        "planned_peak_per_second": max(planned.values(), default=0),
        "refreshes": len(rec.refreshes),
        "lateness_p50": pct(late, 0.5), "lateness_p99": pct(late, 0.99), "lateness_max": max(late, default=0.0),
        "delay_p50": pct(delay, 0.5), "delay_p99": pct(delay, 0.99),
        "lapsed_tokens": lapsed,
        "peak_demand_first_cycle": max(first_cycle.values(), default=0),
        "peak_demand_next_cycle": max(next_cycle.values(), default=0),
        "reads": counts["served"] + counts["refused"],
        "reads_refused": counts["refused"],
        "reads_served_expired_raw": counts["served_expired_raw"],
        "token_expired_events": rec.expired_events,
        "backlog_alerts": rec.alerts,
        "capacity_estimate": stats.get("capacity_per_second"),
        "latency_estimate": stats.get("latency_estimate"),
        "refreshes_failed": stats.get("refreshes_failed"),
    }


def run_simulator(args: argparse.Namespace, cpu_per_refresh: float) -> dict[str, Any]:
    from freshtoken.simulate import ProviderProfile, Scenario, Simulation

    profile = ProviderProfile(name="generic", accounts=args.accounts, lifetime=args.lifetime, latency=args.latency,
                              jitter=0.0)
    return Simulation(Scenario(providers=[profile], concurrency=args.concurrency, lead=args.lead, kv_margin=0.0,
                               duration=args.cycles * args.lifetime + args.lead,
                               planner=args.planner == "capacity", cpu_per_refresh=cpu_per_refresh)).run()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=5_000)
    p.add_argument("--latency", type=float, default=0.2, help="endpoint latency per request, seconds")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--lifetime", type=int, default=150, help="access-token lifetime (scaled down), seconds")
    p.add_argument("--lead", type=float, default=40.0, help="refresh lead (scaled down), seconds")
    p.add_argument("--cycles", type=int, default=2, help="token lifetimes to run after onboarding")
    p.add_argument("--planner", choices=["capacity", "deadline"], default="capacity")
    p.add_argument("--no-simulator", action="store_true")
    p.add_argument("--reads-per-second", type=int, default=200, help="reads through the reader during the run")
    p.add_argument("--sim-cpu", action="store_true",
                   help="give the simulator the runtime's measured CPU seconds per refresh (--cpu-per-refresh)")
    args = p.parse_args(argv)
    params = vars(args).copy()
    name = "herd" if args.planner == "capacity" else "herd-deadline"
    data = c.envelope(name if args.accounts == 20_000 else f"{name}-{args.accounts}", params)
    started = time.monotonic()
    port = c.free_port()
    with c.process(c.python_module("bench.endpoint", "fast", "--port", str(port), "--lifetime", str(args.lifetime),
                                   "--latency", str(args.latency)), port=port), \
            tempfile.TemporaryDirectory() as tmp:
        runtime = asyncio.run(run_runtime(args, f"{c.sandbox_url(port)}/token", Path(tmp)))
    data["runtime"] = runtime
    data["capacity_per_second"] = args.concurrency / args.latency
    if not args.no_simulator:
        data["simulator"] = run_simulator(args, runtime["cpu_seconds_per_refresh"] if args.sim_cpu else 0.0)
    c.finish(data, started)
    path = c.write_result(data["benchmark"], data)
    sim = data.get("simulator", {})
    rows = []
    for name in ("refreshes", "lapsed_tokens", "lateness_p50", "lateness_p99", "lateness_max", "delay_p50",
                 "delay_p99", "peak_demand_first_cycle"):
        rows.append([name, c.fmt(runtime.get(name)), c.fmt(sim.get(name))])
    rows.append(["peak_demand_next_cycle", c.fmt(runtime["peak_demand_next_cycle"]),
                 c.fmt(sim.get("peak_demand_after_first_cycle"))])
    print(c.table(["figure", "runtime", "simulator"], rows))
    print(f"runtime: latency estimate {runtime['latency_estimate']}, capacity estimate {runtime['capacity_estimate']}, "
          f"CPU per refresh {runtime['cpu_seconds_per_refresh'] * 1000:.2f} ms (reader load included)")
    print(f"first lapse {c.fmt(runtime['first_lapse_after_onboard_start'])} s, first backlog alert "
          f"{c.fmt(runtime['first_alert_after_onboard_start'])} s, first refusal "
          f"{c.fmt(runtime['first_refusal_after_onboard_start'])} s after onboarding began; tokens expired and not "
          f"replaced at the end: {runtime['expired_unreplaced_at_end']}")
    print(f"capacity {data['capacity_per_second']:.0f}/s; reads {runtime['reads']}, refused "
          f"{runtime['reads_refused']}, served expired (raw) {runtime['reads_served_expired_raw']}; backlog alerts "
          f"{len(runtime['backlog_alerts'])} (simulator {len(sim.get('backlog_alerts', []))})")
    print(f"load average start {data['loadavg_start']} end {data['loadavg_end']}; wrote {path}")


if __name__ == "__main__":
    main()
