# ruff: noqa: ASYNC210, ASYNC220, ASYNC251, ASYNC110, ASYNC240 - a benchmark script, blocking on purpose
"""Benchmarks of the embedded runtime (not collected by pytest). Run:

    .venv/bin/python tests/embedded/bench_embedded.py sandbox [N] [CONCURRENCY]   # refreshes/s vs the loopback sandbox
    .venv/bin/python tests/embedded/bench_embedded.py memory N [MINUTES]          # RSS with N accounts, a virtual hour

``sandbox`` runs the sandbox in its own process (so it does not share the GIL), registers N accounts whose
alarms are all due, and times the runtime refreshing every one of them. ``memory`` stores N accounts with
alarms spread over an hour, runs a virtual hour through the scheduler (every account refreshed once) with an
in-process token endpoint, and reports peak RSS: it should not grow with N.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from freshtoken import AccountState, ManualClock, OAuthClient, Plugins, Status, SystemClock, TokenHTTP
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore, generate_key
from freshtoken.http import TokenResponse
from freshtoken.providers import generic

SANDBOX = """
import json, sys
from freshtoken.sandbox.server import SandboxServer
import uvicorn
n, port = int(sys.argv[1]), int(sys.argv[2])
s = SandboxServer(port=port, lifetime=3600, rotate=True)
print(json.dumps([s.mint()["refresh_token"] for _ in range(n)]), flush=True)
uvicorn.Server(s._config()).run()
"""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plugins() -> Plugins:
    p = Plugins(entry_points=False)
    p.register(generic, name="generic")
    return p


async def bench_sandbox(n: int, concurrency: int) -> dict[str, Any]:
    from freshtoken.sandbox.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SANDBOX, str(n), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        tokens = json.loads(proc.stdout.readline())
        import httpx

        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(url + "/_sandbox/stats")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        with tempfile.TemporaryDirectory() as tmp:
            client = OAuthClient(name="sb", provider="generic", client_id="sandbox-client",
                                 client_secret="sandbox-secret", provider_options={"token_url": url + "/token"})
            rt = EmbeddedRuntime(
                store=SQLiteStore(Path(tmp) / "state.db", AesGcmCodec.from_spec(generate_key())),
                kv=SQLiteKV(Path(tmp) / "kv.db"), clients={"sb": client}, plugins=plugins(),
                clock=SystemClock(), concurrency=concurrency, startup_spread=0,
            )
            t0 = time.perf_counter()
            for i, rt_token in enumerate(tokens):
                await rt.register(f"t:sb:u{i}", client="sb", refresh_token=rt_token)
            t_reg = time.perf_counter() - t0
            t0 = time.perf_counter()
            fired = await rt.run_due()
            t_run = time.perf_counter() - t0
            stats = rt.stats()
            sb = httpx.get(url + "/_sandbox/stats").json()
            await rt.aclose()
        return {
            "accounts": n, "concurrency": concurrency, "register_per_s": round(n / t_reg),
            "refreshes": fired, "refreshes_ok": stats["refreshes_ok"], "seconds": round(t_run, 2),
            "refreshes_per_s": round(fired / t_run), "sandbox_overlaps": sb["overlaps"],
            "sandbox_reuse_detected": sb["reuse_detected"], "sandbox_peak_rate": sb["peak_rate"],
        }
    finally:
        proc.terminate()
        proc.wait()


class InstantHTTP(TokenHTTP):
    """A token endpoint inside the process: every refresh succeeds at once with a rotated refresh token."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    async def send(self, request: Any, client: Any, *, timeout: float = 30.0) -> TokenResponse:
        self.n += 1
        body = {"access_token": f"at-{self.n}", "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": f"rt-{self.n}-{os.urandom(6).hex()}"}
        return TokenResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())


async def bench_memory(n: int, minutes: float = 60.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock()
        codec = AesGcmCodec.from_spec(generate_key())
        store = SQLiteStore(Path(tmp) / "state.db", codec)
        rng = random.Random(5)
        t0 = time.perf_counter()
        batch = []
        for i in range(n):
            key = f"t:sb:user-{i:07d}"
            at = clock.now() + rng.uniform(0, 3600)
            st = AccountState(key=key, client="sb", status=Status.ACTIVE, refresh_token=SecretStr(f"rt-{i}"),
                              access_token=SecretStr(f"at-{i}"), expires_at=at + 600, issued_at=at - 3000,
                              next_refresh_at=at, generation=1)
            batch.append((key, "sb", "active", st.dump(store.codec_for(key)), at))
            if len(batch) == 5000 or i == n - 1:
                with store._tx() as db:
                    db.executemany("INSERT INTO accounts(key, client, status, state, alarm_at) VALUES (?,?,?,?,?)",
                                   batch)
                batch.clear()
        t_fill = time.perf_counter() - t0
        rss_filled = rss_mb()
        client = OAuthClient(name="sb", provider="generic", client_id="c", client_secret="s",
                             provider_options={"token_url": "http://127.0.0.1:9/token"})
        http = InstantHTTP()
        rt = EmbeddedRuntime(store=store, kv=SQLiteKV(Path(tmp) / "kv.db", clock=clock), clients={"sb": client},
                             plugins=plugins(), clock=clock, http=http, concurrency=32, startup_spread=0)
        stop = asyncio.Event()
        task = asyncio.create_task(rt.run(stop))
        start = clock.now()
        t0 = time.perf_counter()
        samples = []
        while clock.now() < start + minutes * 60 + 1:
            # let the scheduler fire what is due and go back to sleep on the clock
            while rt._alarm_tasks or not ((clock.next_deadline() or 0) > clock.now()):
                await asyncio.sleep(0)
            clock.advance(10)
            if int(clock.now() - start) % 600 == 0:
                samples.append(round(rss_mb(), 1))
        while rt._alarm_tasks:
            await asyncio.sleep(0)
        t_run = time.perf_counter() - t0
        stop.set()
        await task
        stats = rt.stats()
        await rt.aclose()
        t0 = time.perf_counter()
        for _ in range(100):
            store.due(clock.now() + 1800, 32)
        due_ms = (time.perf_counter() - t0) * 10
        t0 = time.perf_counter()
        store.count_by_status()
        count_ms = (time.perf_counter() - t0) * 1000
        db_mb = sum(os.path.getsize(p) for p in Path(tmp).glob("*.db*")) / 1e6
        return {
            "accounts": n, "fill_seconds": round(t_fill, 1), "refreshed": stats["refreshes_ok"],
            "refreshes_per_s_runtime_only": round(stats["refreshes_ok"] / t_run),
            "rss_after_fill_mb": round(rss_filled, 1), "rss_samples_mb": samples, "peak_rss_mb": round(peak_mb(), 1),
            "db_files_mb": round(db_mb, 1), "errors": stats["errors"], "virtual_minutes": minutes,
            "due_query_ms": round(due_ms, 3), "count_by_status_ms": round(count_ms, 1),
        }


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "sandbox"
    if mode == "sandbox":
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
        c = int(sys.argv[3]) if len(sys.argv) > 3 else 32
        print(json.dumps(asyncio.run(bench_sandbox(n, c))))
    else:
        n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
        minutes = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
        print(json.dumps(asyncio.run(bench_memory(n, minutes))))


if __name__ == "__main__":
    main()
