"""Benchmark — the simulator itself (issue 17): wall time of simulated fleets, and the 100,000-account herd.

``scale``: one provider, 1-hour tokens, 200 ms, concurrency 32 (``--concurrency``, ``--hosts``), the capacity
planner; for each ``--accounts`` N it simulates ``--duration`` of virtual time (default one day) and reports wall
seconds, refreshes, wall microseconds per refresh and per event (a refresh or a registration), and the wall time a
day of 1,000,000 accounts would take at
that cost per event (about 30 events per account per day: its onboarding, then a refresh every 50 minutes).
The simulator runs the real refresher per event, so most of its cost per event is the refresher's own (request
building and client authentication, response parsing, the KV record, the planner); see docs/capacity.md.
``--cohort N`` runs cohort mode (an approximation: one refresher per N identical accounts; rows say so);
``--serialise-state`` keeps each state serialised, as the simulator did before it held them as objects.
``--workers N`` splits the hosts over N processes (the same report; rows give wall and CPU seconds).

``herd``: N accounts (default 100,000) onboarded at once with tokens issued at once, 200 ms, concurrency 32, lead
600 s: once with every alarm at its deadline (before issue 17), once with the capacity planner; reports when the
backlog alert fired and when the first token lapsed (the issue's arithmetic: a herd over lead × capacity =
96,000 lapses without the planner).

    python -m bench.simulate_scale scale --accounts 20000 100000 --duration 3600
    python -m bench.simulate_scale scale --accounts 1000000 --hosts 16 --cohort 32   # a day, cohort mode
    python -m bench.simulate_scale scale --accounts 1000000 --hosts 16 --cohort 32 --workers 2
    python -m bench.simulate_scale herd --accounts 100000
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from freshtoken.simulate import ProviderProfile, Scenario, Simulation

from . import _common as c

KEEP = ("accounts", "planner", "refreshes", "peak_demand_first_cycle", "peak_demand_after_first_cycle",
        "capacity_per_second", "lateness_p50", "lateness_p99", "lapsed_tokens", "first_lapse_at", "first_alert_at",
        "alert_before_first_lapse", "wall_seconds", "cpu_seconds", "workers", "wall_us_per_refresh")


def scale(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for n in args.accounts:
        r = Simulation(Scenario(providers=[ProviderProfile(accounts=n, lifetime=3600, latency=0.2)],
                                concurrency=args.concurrency, hosts=args.hosts, duration=args.duration,
                                cohort=args.cohort, workers=args.workers),
                       serialise_state=args.serialise_state).run()
        per_refresh = r["wall_seconds"] / max(1, r["refreshes"] + n)
        r["wall_us_per_event"] = 1e6 * per_refresh
        r["projected_day_1m_seconds"] = per_refresh * 1_000_000 * (1 + 86_400 / 3_000)
        r["wall_us_per_simulated_event"] = 1e6 * r["wall_seconds"] / max(
            1, r["simulated_accounts"] * (1 + r["refreshes"] / max(1, n)))
        rows.append({k: r[k] for k in ("mode", "simulated_accounts", *KEEP, "wall_us_per_event",
                                       "wall_us_per_simulated_event", "projected_day_1m_seconds", "events")})
        print(f"N={n} ({r['mode']}, {r['workers']} worker(s)): {r['refreshes']} refreshes in "
              f"{r['wall_seconds']:.1f}s wall, {r['cpu_seconds']:.1f}s CPU "
              f"({r['wall_us_per_event']:.0f} us per refresh or registration); a 1M-account day would take "
              f"~{r['projected_day_1m_seconds'] / 60:.0f} min", flush=True)
    return {"runs": rows}


def herd(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for planner in (False, True):
        profile = ProviderProfile(accounts=args.accounts[0], lifetime=3600, latency=0.2, jitter=0.0)
        r = Simulation(Scenario(providers=[profile], concurrency=args.concurrency, duration=args.duration,
                                planner=planner)).run()
        rows.append({k: r[k] for k in KEEP} | {"backlog_alerts": r["backlog_alerts"][:3]})
        print(c.table(["figure", "value"], [[k, c.fmt(v)] for k, v in rows[-1].items() if k != "backlog_alerts"]),
              flush=True)
    return {"runs": rows}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["scale", "herd"])
    p.add_argument("--accounts", type=int, nargs="+", default=None)
    p.add_argument("--duration", type=float, default=None, help="virtual seconds (scale: 86400; herd: 4500)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--hosts", type=int, default=1, help="scale: hosts sharing the accounts")
    p.add_argument("--cohort", type=int, default=1,
                   help="cohort mode (an approximation): each simulated account stands for this many identical ones")
    p.add_argument("--workers", type=int, default=1, help="scale: processes to split the hosts over")
    p.add_argument("--serialise-state", action="store_true",
                   help="keep each account's state serialised (MemoryStorage), as before the simulator held objects")
    args = p.parse_args(argv)
    if args.accounts is None:
        args.accounts = [20_000, 100_000, 1_000_000] if args.mode == "scale" else [100_000]
    if args.duration is None:
        args.duration = 86_400.0 if args.mode == "scale" else 4_500.0  # herd: the drain after the deadline
    data = c.envelope(f"simulate-{args.mode}", vars(args).copy())
    started = time.monotonic()
    data.update(scale(args) if args.mode == "scale" else herd(args))
    c.finish(data, started)
    path = c.write_result(data["benchmark"], data)
    print(f"load average start {data['loadavg_start']} end {data['loadavg_end']}; wrote {path}")


if __name__ == "__main__":
    main()
