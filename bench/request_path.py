"""Benchmark 1 — the request path: how long a gateway waits for a valid token.

Two parts, one run:

**A. Gateway under load, tokens expiring during the run.** An open-loop gateway (Poisson arrivals,
``--rate`` requests/s spread evenly over ``--accounts`` accounts) obtains a token per request:

* freshtoken: ``TokenReader`` over the SQLite KV in process (``check(key, kv.get_sync(key))`` — the sync
  path — and ``await reader.get(key)`` — the async path), and over the Redis KV on loopback; meanwhile a
  separate process runs the embedded runtime, which refreshes every account ahead of expiry against the
  sandbox token endpoint (200 ms injected latency);
* baseline: authlib's ``AsyncOAuth2Client`` per account (``token_endpoint`` + ``update_token``, default
  ``leeway`` 60 s), the gateway calling ``ensure_active_token`` — on-demand refresh — against the same
  endpoint.

Tokens live ``--lifetime`` seconds (120: authlib refreshes after 60 s, freshtoken at half-life), each account
sees one request a second: ~60 requests per token, the same ratio as one request a minute with one-hour
tokens. Latency is the time to obtain the token (not queueing in the load generator).

**B. The reader's overhead over a raw read of the same backend** (no writer running): ``sqlite3`` SELECT by
key vs ``TokenReader`` over ``SQLiteKV``; redis-py ``GET`` vs ``TokenReader`` over the Redis KV. Target
≤ 1.5×. With a breakdown of where the reader's time goes and a measured proposal (a parse cache).

    python -m bench.request_path                 # ~6 minutes
    python -m bench.request_path --quick         # ~1.5 minutes, smaller
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import pstats
import random
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from freshtoken import KVRecord, TokenReader, TokenUnavailable
from freshtoken.embedded import SQLiteKV

from . import _common as c
from ._runtime import account_key, redis_kv_class
from .endpoint import CLIENT_ID, CLIENT_SECRET

NAME = "request_path"


def gateway_redis_kv(url: str, *, pool: int = 16) -> Any:
    """The Redis KV as a gateway opens it: ``RedisKV``'s own bounded pool that waits for a free connection
    (freshtoken_reader.redis_pool; redis-py's default pool failed bursts with ``Too many connections``),
    here of 16 connections."""
    from freshtoken.kv.redis import RedisKV

    return RedisKV(url, cluster=False, max_connections=pool)


# -- a reader with a parse cache: the proposed faster path ------------------------------------------------
class CachedTokenReader(TokenReader):
    """``TokenReader`` that re-validates a record only when its text changed (proposal, bench-only).

    A token changes once per refresh (~once an hour) but is read on every request: keep the last parsed
    record per key with its raw text; when the text read is equal (one memcmp), reuse the record. The
    expiry check still runs on every read.
    """

    def __init__(self, kv: Any, *, min_remaining: float = 5.0, max_entries: int = 100_000) -> None:
        super().__init__(kv, min_remaining=min_remaining)
        self._proposal_cache: dict[str, tuple[str | bytes, KVRecord]] = {}
        self._max = max_entries

    def check(self, key: str, text: str | bytes | None) -> KVRecord:
        if text is None:
            raise TokenUnavailable(f"no token in KV for {key!r}")
        hit = self._proposal_cache.get(key)
        if hit is not None and hit[0] == text:
            record = hit[1]
        else:
            record = KVRecord.loads(text)
            if len(self._proposal_cache) >= self._max:
                self._proposal_cache.pop(next(iter(self._proposal_cache)))
            self._proposal_cache[key] = (text, record)
        if record.expires_at is not None and record.expires_at - time.time() < self._min_remaining:
            raise TokenUnavailable(f"token for {key!r} is expired or about to expire")
        return record


class JsonTokenReader(TokenReader):
    """``TokenReader`` that parses and validates in one pass, ``KVRecord.model_validate_json`` (proposal,
    bench-only): pydantic-core's JSON parser builds the model directly, no intermediate dict."""

    def check(self, key: str, text: str | bytes | None) -> KVRecord:
        if text is None:
            raise TokenUnavailable(f"no token in KV for {key!r}")
        try:
            record = KVRecord.model_validate_json(text)
        except ValueError:
            record = KVRecord.loads(text)  # the slow path only to raise the precise TokenUnavailable
        if record.expires_at is not None and record.expires_at - time.time() < self._min_remaining:
            raise TokenUnavailable(f"token for {key!r} is expired or about to expire")
        return record


def record_text(i: int, token_bytes: int, now: float) -> str:
    token = f"at-{i}-".ljust(token_bytes, "x")
    return KVRecord(access_token=token, expires_at=int(now) + 7200, scope="email profile", generation=1,
                    refreshed_at=int(now)).dumps()


# -- B. micro-benchmarks ----------------------------------------------------------------------------------
def interleaved(variants: dict[str, Callable[[list[str]], list[int]]], keys: list[str], rounds: int
                ) -> dict[str, dict[str, float]]:
    """Run each variant on the same keys, interleaved over ``rounds`` so drift hits all alike."""
    samples: dict[str, list[int]] = {name: [] for name in variants}
    chunk = max(1, len(keys) // rounds)
    for r in range(rounds):
        part = keys[r * chunk:(r + 1) * chunk]
        for name, run in variants.items():
            samples[name] += run(part)
    return {name: c.us(s) for name, s in samples.items()}


def profile_reader(reader: TokenReader, kv: SQLiteKV, keys: list[str]) -> list[dict[str, Any]]:
    prof = cProfile.Profile()
    prof.enable()
    for k in keys:
        reader.check(k, kv.get_sync(k))
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(file).name}:{line}({func})", "calls": nc,
                     "self_us_per_read": tt / len(keys) * 1e6,
                     "cumulative_us_per_read": ct / len(keys) * 1e6})
    rows.sort(key=lambda r: r["self_us_per_read"], reverse=True)
    return rows[:12]


def micro_sqlite(tmp: Path, n_keys: int, iterations: int, token_bytes: int, rounds: int) -> dict[str, Any]:
    path = tmp / "micro-kv.db"
    kv = SQLiteKV(path)
    now = time.time()
    texts = {account_key(i): record_text(i, token_bytes, now) for i in range(n_keys)}
    for k, v in texts.items():
        kv.put_sync(k, v, 7200)
    kv.close()
    reader_kv = SQLiteKV(path, readonly=True)  # how a gateway opens it
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    raw.execute("PRAGMA busy_timeout=5000")
    reader = TokenReader(reader_kv)
    cached = CachedTokenReader(reader_kv)
    onepass = JsonTokenReader(reader_kv)
    rng = random.Random(1)
    keys = [account_key(rng.randrange(n_keys)) for _ in range(iterations)]
    sample_text = next(iter(texts.values()))

    def raw_select(k: str) -> Any:
        return raw.execute("SELECT value FROM kv WHERE key = ?", (k,)).fetchone()

    async def async_reader(k: str) -> Any:
        return await reader.get(k)

    def run_async(part: list[str]) -> list[int]:
        return asyncio.run(c.time_async(async_reader, part))

    for k in keys[:2000]:  # warm caches
        raw_select(k)
        reader.check(k, reader_kv.get_sync(k))
        onepass.check(k, reader_kv.get_sync(k))
    for k in texts:  # steady state: a record changes once per refresh, is read on every request
        cached.check(k, reader_kv.get_sync(k))
    timer = c.time_sync(lambda k: None, keys[:20000])
    results = interleaved({
        "raw sqlite3 SELECT": lambda p: c.time_sync(raw_select, p),
        "SQLiteKV.get_sync": lambda p: c.time_sync(reader_kv.get_sync, p),
        "TokenReader sync: check(get_sync)": lambda p: c.time_sync(lambda k: reader.check(k, reader_kv.get_sync(k)), p),
        "TokenReader async: await get": run_async,
        "proposal A: one-pass model_validate_json (sync)": lambda p: c.time_sync(
            lambda k: onepass.check(k, reader_kv.get_sync(k)), p),
        "proposal B: parse-cached reader (sync)": lambda p: c.time_sync(
            lambda k: cached.check(k, reader_kv.get_sync(k)), p),
    }, keys, rounds)
    parts = interleaved({
        "json.loads(record)": lambda p: c.time_sync(lambda k: json.loads(sample_text), p),
        "KVRecord.loads(record)": lambda p: c.time_sync(lambda k: KVRecord.loads(sample_text), p),
        "KVRecord.model_validate_json(record)": lambda p: c.time_sync(
            lambda k: KVRecord.model_validate_json(sample_text), p),
        "TokenReader.check(record)": lambda p: c.time_sync(lambda k: reader.check(k, sample_text), p),
    }, keys[: iterations // 2], rounds)
    profile = profile_reader(reader, reader_kv, keys[:50000])
    raw.close()
    reader_kv.close()
    return {"timer_overhead_us": c.us(timer), "variants": results, "breakdown": parts, "profile_top": profile,
            "record_bytes": len(sample_text)}


async def micro_redis(url: str, n_keys: int, iterations: int, token_bytes: int, rounds: int) -> dict[str, Any]:
    import redis.asyncio as aioredis

    kv = gateway_redis_kv(url)
    now = time.time()
    for i in range(n_keys):
        await kv.put(account_key(i), record_text(i, token_bytes, now), 7200)
    raw = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(url, max_connections=16, timeout=5))
    # find the stored key (the KV may prefix keys)
    probe = account_key(0)
    stored = [k async for k in raw.scan_iter(match=f"*{probe}")]
    prefix = stored[0].decode()[: -len(probe)] if stored else ""
    reader = TokenReader(kv)
    cached = CachedTokenReader(kv)
    onepass = JsonTokenReader(kv)
    rng = random.Random(2)
    keys = [account_key(rng.randrange(n_keys)) for _ in range(iterations)]

    async def raw_get(k: str) -> Any:
        return await raw.get(prefix + k)

    async def cached_get(k: str) -> Any:
        return cached.check(k, await kv.get(k))

    for k in keys[:1000]:
        await raw_get(k)
        await reader.get(k)
    for i in range(n_keys):
        await cached_get(account_key(i))
    fns: dict[str, Callable[[str], Awaitable[Any]]] = {
        "raw redis-py GET": raw_get, "Redis KV get": kv.get, "TokenReader async: await get": reader.get,
        "proposal A: one-pass model_validate_json": onepass.get,
        "proposal B: parse-cached reader": cached_get,
    }
    samples: dict[str, list[int]] = {n: [] for n in fns}
    chunk = max(1, len(keys) // rounds)
    for r in range(rounds):
        part = keys[r * chunk:(r + 1) * chunk]
        for name, fn in fns.items():
            samples[name] += await c.time_async(fn, part)
    await raw.aclose()
    await kv.aclose()
    return {"key_prefix": prefix, "variants": {n: c.us(s) for n, s in samples.items()}}


# -- A. the gateway under load -----------------------------------------------------------------------------
async def open_loop(obtain: Callable[[str], Any], is_async: bool, n_accounts: int, rate: float, duration: float,
                    seed: int, warmup: float = 3.0) -> dict[str, Any]:
    """Poisson arrivals at ``rate``/s for ``warmup + duration`` s, each obtaining the token of a random account.

    Requests arriving during the first ``warmup`` seconds are not recorded (connection pools fill up).
    """
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    lat: list[int] = []
    errors: Counter[str] = Counter()
    warmup_errors: Counter[str] = Counter()
    pc = time.perf_counter_ns
    tasks: set[asyncio.Task[None]] = set()

    async def one(key: str, record: bool) -> None:
        t0 = pc()
        try:
            if is_async:
                await obtain(key)
            else:
                obtain(key)
        except TokenUnavailable:
            errors["token_unavailable"] += 1
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__
            name = type(exc).__name__ + (f"({type(cause).__name__}: {str(cause)[:60]})" if cause else "")
            (errors if record else warmup_errors)[name] += 1
        if record:
            lat.append(pc() - t0)

    start = loop.time()
    t = start
    while True:
        t += rng.expovariate(rate)
        if t - start > warmup + duration:
            break
        delay = t - loop.time()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        task = loop.create_task(one(account_key(rng.randrange(n_accounts)), t - start >= warmup))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    elapsed = loop.time() - start - warmup
    out = c.us(lat)
    return {"latency_us": out, "requests": len(lat), "achieved_rate": len(lat) / elapsed,
            "errors": dict(errors), "warmup_errors": dict(warmup_errors),
            "slow_over_1ms": sum(1 for x in lat if x > 1_000_000)}


@contextlib.contextmanager
def refresher_process(tmp: Path, name: str, token_url: str, mint_url: str, accounts: int, kv_spec: str,
                      ) -> Iterator[dict[str, Any]]:
    ready, report = tmp / f"{name}.ready", tmp / f"{name}.report"
    info: dict[str, Any] = {}
    args = c.python_module("bench._refresher", "--token-url", token_url, "--mint-url", mint_url, "--accounts",
                           str(accounts), "--state", str(tmp / f"{name}-state.db"), "--kv", kv_spec,
                           "--ready", str(ready), "--report", str(report))
    with c.process(args, quiet=False) as proc:
        deadline = time.monotonic() + 300
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"refresher {name} exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"refresher {name} did not get ready")
            time.sleep(0.1)
        info["ready"] = json.loads(ready.read_text())
        yield info
    with contextlib.suppress(OSError, ValueError):
        st = json.loads(report.read_text())
        info["runtime_stats"] = {k: st.get(k) for k in ("refreshes_ok", "refreshes_failed", "errors", "alarms_fired",
                                                        "outcomes", "peak_in_flight", "accounts")}


async def authlib_gateway(token_url: str, mint_url: str, accounts: int, rate: float, duration: float,
                          lifetime_max: float, min_expiry: float, seed: int) -> dict[str, Any]:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    rng = random.Random(seed)
    grants: list[dict[str, Any]] = []
    async with httpx.AsyncClient(trust_env=False) as hc:
        while len(grants) < accounts:
            grants += (await hc.post(f"{mint_url}?n={min(500, accounts - len(grants))}")).json()
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=200, max_keepalive_connections=200))
    updates = Counter[str]()
    saved: dict[str, dict[str, Any]] = {}
    clients: dict[str, Any] = {}
    now = time.time()
    for i, g in enumerate(grants):
        key = account_key(i)

        async def update_token(token: dict[str, Any], refresh_token: str | None = None,
                               access_token: str | None = None, _key: str = key) -> None:
            saved[_key] = dict(token)  # what an app persists
            updates["update_token"] += 1

        clients[key] = AsyncOAuth2Client(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_endpoint=token_url, update_token=update_token,
            token={"access_token": g["access_token"], "refresh_token": g["refresh_token"], "token_type": "Bearer",
                   "expires_at": int(now + rng.uniform(min_expiry, lifetime_max))},
            transport=transport, trust_env=False,
        )

    async def obtain(key: str) -> str:
        cl = clients[key]
        await cl.ensure_active_token(cl.token)
        return f"{cl.token['token_type']} {cl.token['access_token']}"

    result = await open_loop(obtain, True, accounts, rate, duration, seed)
    result["update_token_calls"] = updates["update_token"]
    await transport.aclose()  # shared by every client
    return result


async def gateway_runs(a: argparse.Namespace, tmp: Path, redis_url: str | None, notes: list[str]
                       ) -> dict[str, Any]:
    sport = c.free_port()
    runs: dict[str, Any] = {}
    sandbox_args = c.python_module("bench.endpoint", "sandbox", "--port", str(sport), "--latency", str(a.latency),
                                   "--lifetime", str(a.lifetime))
    with c.process(sandbox_args, port=sport):
        base = c.sandbox_url(sport)
        token_url, mint_url = f"{base}/token", f"{base}/_bench/mint"
        common = dict(n_accounts=a.accounts, rate=a.rate, duration=a.duration)
        # freshtoken over SQLite: the refresher in its own process, the gateway reads the file
        kv_path = tmp / "gateway-kv.db"
        with refresher_process(tmp, "sqlite", token_url, mint_url, a.accounts, f"sqlite:{kv_path}") as info:
            kv = SQLiteKV(kv_path, readonly=True)
            reader = TokenReader(kv)
            runs["freshtoken: SQLite KV, sync"] = await open_loop(
                lambda k: reader.check(k, kv.get_sync(k)), False, seed=11, **common)  # type: ignore[arg-type]
            runs["freshtoken: SQLite KV, async"] = await open_loop(reader.get, True, seed=12, **common)  # type: ignore[arg-type]
            kv.close()
        runs["freshtoken: SQLite KV, sync"]["refresher"] = info
        if redis_url is not None:
            with refresher_process(tmp, "redis", token_url, mint_url, a.accounts, f"redis:{redis_url}") as info:
                rkv = gateway_redis_kv(redis_url)
                rreader = TokenReader(rkv)
                runs["freshtoken: Redis KV (loopback)"] = await open_loop(rreader.get, True, seed=13, **common)  # type: ignore[arg-type]
                await rkv.aclose()
            runs["freshtoken: Redis KV (loopback)"]["refresher"] = info
        runs["authlib AsyncOAuth2Client: on-demand refresh"] = await authlib_gateway(
            token_url, mint_url, a.accounts, a.rate, a.duration, a.lifetime, 60.0, seed=14)
        async with httpx.AsyncClient(trust_env=False) as hc:
            runs["sandbox_stats"] = (await hc.get(f"{base}/_sandbox/stats")).json()
    return runs


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.request_path", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=500)
    p.add_argument("--rate", type=float, default=500.0, help="gateway requests per second (Poisson)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds per gateway variant")
    p.add_argument("--lifetime", type=int, default=120, help="access token lifetime at the sandbox, seconds")
    p.add_argument("--latency", type=float, default=0.2, help="injected token endpoint latency, seconds")
    p.add_argument("--keys", type=int, default=10_000, help="records in the KV for the overhead measurement")
    p.add_argument("--iterations", type=int, default=200_000, help="reads per variant (SQLite); Redis: a tenth")
    p.add_argument("--token-bytes", type=int, default=800, help="access token length (a JWT is ~800-1200)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="smaller: 20 s per gateway variant, fewer reads")
    p.add_argument("--skip-gateway", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.duration, a.iterations, a.accounts, a.rate = 20.0, 50_000, 300, 300.0
    started = time.monotonic()
    notes: list[str] = []
    params = {k: v for k, v in vars(a).items()}
    params["authlib_leeway"] = 60
    out: dict[str, Any] = c.envelope(NAME, params)
    try:
        redis_kv_class()
        have_redis = True
    except ImportError as exc:
        have_redis = False
        notes.append(f"Redis KV not measured: {exc}")
    with tempfile.TemporaryDirectory(prefix="ft-bench-") as d, contextlib.ExitStack() as stack:
        tmp = Path(d)
        redis_url = stack.enter_context(c.redis_server()) if have_redis else None
        gc.collect()
        out["overhead_sqlite"] = micro_sqlite(tmp, a.keys, a.iterations, a.token_bytes, a.rounds)
        if redis_url is not None:
            out["overhead_redis"] = asyncio.run(micro_redis(redis_url, a.keys, max(10_000, a.iterations // 10),
                                                            a.token_bytes, a.rounds))
        if not a.skip_gateway:
            out["gateway"] = asyncio.run(gateway_runs(a, tmp, redis_url, notes))
    out["notes"] = notes
    out["summary"] = summarise(out)
    c.finish(out, started)
    c.write_result(NAME, out)
    print(render(out))
    return out


def summarise(out: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    gw = out.get("gateway")
    if gw:
        base = gw["authlib AsyncOAuth2Client: on-demand refresh"]["latency_us"]
        s["gateway"] = {}
        for name, run in gw.items():
            if not isinstance(run, dict) or "latency_us" not in run or name.startswith("authlib"):
                continue
            lat = run["latency_us"]
            s["gateway"][name] = {
                "p50_us": lat["p50"], "p99_us": lat["p99"], "max_us": lat["max"],
                "authlib_p50_over_this": base["p50"] / lat["p50"], "authlib_p99_over_this": base["p99"] / lat["p99"],
                "authlib_max_over_this": base["max"] / lat["max"],
                "errors": run["errors"],
            }
        s["authlib"] = {"p50_us": base["p50"], "p99_us": base["p99"], "max_us": base["max"]}
    ov = {}
    sq = out.get("overhead_sqlite")
    if sq:
        v = sq["variants"]
        raw = v["raw sqlite3 SELECT"]
        for name in ("TokenReader sync: check(get_sync)", "TokenReader async: await get",
                     "proposal A: one-pass model_validate_json (sync)", "proposal B: parse-cached reader (sync)"):
            ov[f"SQLite / {name}"] = {"p50_ratio": v[name]["p50"] / raw["p50"],
                                      "p99_ratio": v[name]["p99"] / raw["p99"],
                                      "mean_ratio": v[name]["mean"] / raw["mean"], "target": 1.5}
    rd = out.get("overhead_redis")
    if rd:
        v = rd["variants"]
        raw = v["raw redis-py GET"]
        for name in ("TokenReader async: await get", "proposal A: one-pass model_validate_json",
                     "proposal B: parse-cached reader"):
            ov[f"Redis / {name}"] = {"p50_ratio": v[name]["p50"] / raw["p50"], "p99_ratio": v[name]["p99"] / raw["p99"],
                                     "mean_ratio": v[name]["mean"] / raw["mean"], "target": 1.5}
    s["overhead"] = ov
    return s


def render(out: dict[str, Any]) -> str:
    lines = [f"# request_path — {out['date']} — `{out['command']}`", ""]
    gw = out.get("gateway")
    if gw:
        base = gw["authlib AsyncOAuth2Client: on-demand refresh"]["latency_us"]
        rows = []
        for name, run in gw.items():
            if not isinstance(run, dict) or "latency_us" not in run:
                continue
            lat = run["latency_us"]
            rows.append([name, lat["p50"], lat["p99"], lat["p999"], lat["max"], run["requests"],
                         sum(run["errors"].values()), f"{base['p50'] / lat['p50']:.3g}×",
                         f"{base['p99'] / lat['p99']:.3g}×"])
        lines += ["Gateway: time to obtain a valid token (µs), tokens expiring during the run", "",
                  c.table(["variant", "p50", "p99", "p99.9", "max", "requests", "errors", "authlib p50 ÷ this",
                           "authlib p99 ÷ this"], rows), ""]
    for label, key, raw_name in (("SQLite", "overhead_sqlite", "raw sqlite3 SELECT"),
                                 ("Redis", "overhead_redis", "raw redis-py GET")):
        part = out.get(key)
        if not part:
            continue
        v = part["variants"]
        raw = v[raw_name]
        rows = [[n, x["p50"], x["p99"], x["mean"], f"{x['p50'] / raw['p50']:.2f}×", f"{x['mean'] / raw['mean']:.2f}×"]
                for n, x in v.items()]
        lines += [f"Reader overhead over a raw {label} read (µs; target ≤ 1.5×)", "",
                  c.table(["variant", "p50", "p99", "mean", "p50 ÷ raw", "mean ÷ raw"], rows), ""]
        if "breakdown" in part:
            rows = [[n, x["p50"], x["mean"]] for n, x in part["breakdown"].items()]
            lines += [f"Where the reader's time goes ({part['record_bytes']}-byte record, µs)", "",
                      c.table(["step", "p50", "mean"], rows), ""]
    for n in out.get("notes", []):
        lines.append(f"note: {n}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
