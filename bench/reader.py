"""Benchmark: each reader's overhead over a raw GET of the same backend, at 10,000 and 100,000 keys.

One row per reader, against the raw read in its own language, same keys in the same order, interleaved in
rounds so that drift and other load hit every variant alike (no writer running):

* SQLite (in process): ``sqlite3`` ``SELECT value FROM kv WHERE key = ?`` + ``fetchone()`` on the connection
  (the baseline, as a gateway writes it; a cursor per read) vs the light reader
  ``freshtoken_reader.Reader(SQLiteSource)``, the SDK's ``TokenReader`` sync path
  (``reader.judge(key, kv.get_sync(key))``) and async path (``await reader.read(key)``) — all as a gateway
  gets them, with the default automatic parse cache (16,384 keys: at 10,000 keys every key's reading is kept
  after its first read; at 100,000 keys read evenly it fills, is set aside and pauses, and every read is
  parsed); and the light reader with the cache off (``cache_size=0``): the parse alone, on every read.
  Beside the baseline, as a reference (not a row): the same raw read through one cursor kept between reads,
  as the SQLite sources read.
* Redis (loopback redis-server): redis-py ``GET`` vs ``Reader(RedisSource)`` (sync), redis-py asyncio ``GET``
  vs ``TokenReader(RedisKV).read`` (async); Node: ``client.get`` (npm ``redis``) vs the Node reader; Go: a
  RESP ``GET`` over ``net.Conn`` vs the Go reader (readers/go).

Keys are read uniformly at random (the worst case for any cache). Records: 800-byte access tokens (a JWT is
~800-1200 bytes). Target: ≤ 1.5× (issue 17). Figures: wall time per read (µs); met when p50 and mean are ≤ 1.5×.

    python -m bench.reader                       # 10k and 100k keys, ~6 minutes
    python -m bench.reader --keys 100000 --quick
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freshtoken import KVRecord, TokenReader
from freshtoken.embedded import SQLiteKV
from freshtoken_reader import Reader, RedisSource, SQLiteSource

from . import _common as c

NAME = "reader"
#: Shown beside the baseline, not a row of its own: the same raw read through one cursor kept between reads
#: (as the SQLite sources read), so that the table shows how much of a reader's figure is the parse and checks.
REFERENCE = "raw sqlite3 SELECT, one cursor kept"
ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.5
#: The light reader with its parse cache off: what the parse alone costs on every read.
PARSE_ONLY = "light Reader, parse cache off (cache_size=0)"


def key(i: int) -> str:
    return f"bench:acct-{i}"  # the Node and Go benches read the same keys


def record(i: int, token_bytes: int, now: float) -> str:
    return KVRecord(access_token=f"at-{i}-".ljust(token_bytes, "x"), expires_at=int(now) + 7200,
                    scope="email profile", generation=1, refreshed_at=int(now)).dumps()


def must_be_ok(reading: Any) -> None:
    if not reading.ok:
        raise RuntimeError(f"bench: reader answered {reading.reason.value}")


# -- SQLite -------------------------------------------------------------------------------------------------
def bench_sqlite(tmp: Path, n_keys: int, reads: int, token_bytes: int, rounds: int) -> dict[str, Any]:
    path = tmp / f"kv-{n_keys}.db"
    kv = SQLiteKV(path)
    now = time.time()
    db = kv._db()
    db.execute("BEGIN")
    for i in range(n_keys):
        kv.put_sync(key(i), record(i, token_bytes, now), 7200)
    db.execute("COMMIT")
    kv.close()
    gateway_kv = SQLiteKV(path, readonly=True)  # how a gateway opens it with the SDK
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    light = Reader(SQLiteSource(path))
    light_parsing = Reader(SQLiteSource(path), cache_size=0)
    sdk = TokenReader(gateway_kv)
    rng = random.Random(n_keys)
    keys = [key(rng.randrange(n_keys)) for _ in range(reads)]

    def raw_get(k: str) -> Any:
        return raw.execute("SELECT value FROM kv WHERE key = ?", (k,)).fetchone()

    kept = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    kept_execute = kept.cursor().execute

    def raw_get_kept_cursor(k: str) -> Any:  # a reference, not the baseline: what the SQLite sources do
        return kept_execute("SELECT value FROM kv WHERE key = ?", (k,)).fetchone()

    def light_read(k: str) -> None:
        must_be_ok(light.read(k))

    def light_read_parsing(k: str) -> None:
        must_be_ok(light_parsing.read(k))

    def sdk_sync(k: str) -> None:
        must_be_ok(sdk.judge(k, gateway_kv.get_sync(k)))

    async def sdk_async(k: str) -> None:
        must_be_ok(await sdk.read(k))

    variants: dict[str, Callable[[list[str]], list[int]]] = {
        "raw sqlite3 SELECT": lambda p: c.time_sync(raw_get, p),
        REFERENCE: lambda p: c.time_sync(raw_get_kept_cursor, p),
        "light Reader(SQLiteSource).read": lambda p: c.time_sync(light_read, p),
        PARSE_ONLY: lambda p: c.time_sync(light_read_parsing, p),
        "TokenReader sync: judge(get_sync)": lambda p: c.time_sync(sdk_sync, p),
        "TokenReader async: await read": lambda p: asyncio.run(c.time_async(sdk_async, p)),
    }
    for run in variants.values():  # warm: page cache, statements
        run(keys[:2000])
    out = interleaved(variants, keys, rounds)
    raw.close()
    kept.close()
    gateway_kv.close()
    return {"keys": n_keys, "raw": "raw sqlite3 SELECT", "references": [REFERENCE], "variants": out}


def interleaved(variants: dict[str, Callable[[list[str]], list[int]]], keys: list[str], rounds: int
                ) -> dict[str, dict[str, float]]:
    samples: dict[str, list[int]] = {name: [] for name in variants}
    chunk = max(1, len(keys) // rounds)
    names = list(variants)
    for r in range(rounds):
        part = keys[r * chunk:(r + 1) * chunk]
        turn = r % len(names)  # each round starts with the next variant: no variant always runs first
        for name in names[turn:] + names[:turn]:
            gc.collect()
            samples[name] += variants[name](part)
    return {name: c.us(s) for name, s in samples.items()}


# -- Redis --------------------------------------------------------------------------------------------------
def fill_redis(url: str, n_keys: int, token_bytes: int) -> None:
    import redis

    r = redis.Redis.from_url(url)
    r.flushdb()
    now = time.time()
    pipe = r.pipeline(transaction=False)
    for i in range(n_keys):
        pipe.set(key(i), record(i, token_bytes, now), ex=7200)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    r.close()


def bench_redis_python(url: str, n_keys: int, reads: int, rounds: int) -> dict[str, Any]:
    import redis.asyncio as aioredis

    import redis
    from freshtoken.kv.redis import RedisKV

    raw = redis.Redis.from_url(url)
    light = Reader(RedisSource(client=redis.Redis.from_url(url)))
    rng = random.Random(n_keys + 1)
    keys = [key(rng.randrange(n_keys)) for _ in range(reads)]

    def light_read(k: str) -> None:
        must_be_ok(light.read(k))

    async def run_async(part: list[str]) -> dict[str, list[int]]:
        araw = aioredis.Redis.from_url(url)
        kv = RedisKV(client=aioredis.Redis.from_url(url, decode_responses=True), cluster=False)
        sdk = TokenReader(kv)

        async def sdk_read(k: str) -> None:
            must_be_ok(await sdk.read(k))

        out = {"raw redis-py asyncio GET": await c.time_async(araw.get, part),
               "TokenReader(RedisKV) async: await read": await c.time_async(sdk_read, part)}
        await araw.aclose()
        await kv._client.aclose()
        return out

    c.time_sync(raw.get, keys[:2000])
    c.time_sync(light_read, keys[:2000])
    samples: dict[str, list[int]] = {}
    chunk = max(1, len(keys) // rounds)
    for r in range(rounds):
        part = keys[r * chunk:(r + 1) * chunk]
        gc.collect()
        samples.setdefault("raw redis-py GET", []).extend(c.time_sync(raw.get, part))
        samples.setdefault("light Reader(RedisSource).read", []).extend(c.time_sync(light_read, part))
        for name, s in asyncio.run(run_async(part)).items():
            samples.setdefault(name, []).extend(s)
    raw.close()
    return {"keys": n_keys, "raw": {"light Reader(RedisSource).read": "raw redis-py GET",
                                    "TokenReader(RedisKV) async: await read": "raw redis-py asyncio GET"},
            "variants": {n: c.us(s) for n, s in samples.items()}}


def bench_other(lang: str, url: str, n_keys: int, reads: int, tmp: Path) -> dict[str, Any] | str:
    """The Node or Go reader's own bench (raw GET vs reader in that language), or why it was not run."""
    if lang == "node":
        node = shutil.which("node")
        if node is None or not (ROOT / "readers" / "node" / "node_modules" / "redis").is_dir():
            return "not run: node or readers/node/node_modules missing (ci.d/readers.sh)"
        cmd = [node, str(ROOT / "readers" / "node" / "cli.mjs"), "bench", url, "", str(n_keys), str(reads)]
    else:
        go = shutil.which("go")
        if go is None:
            return "not run: go missing (ci.d/readers.sh)"
        binary = tmp / "ftread"
        if not binary.exists():
            subprocess.run([go, "build", "-o", str(binary), "./cmd/ftread"], cwd=ROOT / "readers" / "go",
                           check=True, timeout=600)
        addr = url.removeprefix("redis://").split("/")[0]
        cmd = [str(binary), "bench", addr, "", str(n_keys), str(reads)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


# -- report -------------------------------------------------------------------------------------------------
def rows(out: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per reader: backend, keys, reader, raw, p50/mean, ratios."""
    result = []
    for part in out["sqlite"]:
        v = part["variants"]
        raw = v[part["raw"]]
        for name, x in v.items():
            if name != part["raw"] and name not in part.get("references", ()):
                result.append(row("SQLite", part["keys"], name, part["raw"], x, raw))
    for part in out.get("redis", []):
        v = part["variants"]
        for name, raw_name in part["raw"].items():
            result.append(row("Redis", part["keys"], f"Python {name}", raw_name, v[name], v[raw_name]))
        for lang in ("node", "go"):
            other = part.get(lang)
            if isinstance(other, dict):
                result.append(row("Redis", part["keys"], f"{lang.title()} reader ({other.get(lang, '')})",
                                  f"raw {lang.title()} GET", other["reader"], other["raw"]))
    return result


def row(backend: str, keys: int, name: str, raw_name: str, x: dict[str, float], raw: dict[str, float]
        ) -> dict[str, Any]:
    p50, mean = x["p50"] / raw["p50"], x["mean"] / raw["mean"]
    return {"backend": backend, "keys": keys, "reader": name, "raw": raw_name, "reader_p50_us": x["p50"],
            "reader_mean_us": x["mean"], "raw_p50_us": raw["p50"], "raw_mean_us": raw["mean"], "p50_ratio": p50,
            "mean_ratio": mean, "met": p50 <= TARGET and mean <= TARGET}


def render(out: dict[str, Any]) -> str:
    lines = [f"# reader — {out['date']} — `{out['command']}`",
             f"load average: start {out['loadavg_start']}, end {out.get('loadavg_end')}", ""]
    table_rows = [[r["backend"], f"{r['keys']:,}", r["reader"], r["raw"], f"{r['reader_p50_us']:.1f}",
                   f"{r['raw_p50_us']:.1f}", f"{r['p50_ratio']:.2f}×", f"{r['mean_ratio']:.2f}×",
                   "met" if r["met"] else "NOT met"] for r in out["rows"]]
    lines.append(c.table(["backend", "keys", "reader", "raw GET", "reader p50 µs", "raw p50 µs", "p50 ÷ raw",
                          "mean ÷ raw", "≤ 1.5×"], table_rows))
    for part in out["sqlite"]:
        v = part["variants"]
        for ref in part.get("references", ()):
            x, raw = v[ref], v[part["raw"]]
            lines.append(f"reference, SQLite {part['keys']:,} keys: {ref}: p50 {x['p50']:.1f} µs, mean "
                         f"{x['mean']:.1f} µs ({x['p50'] / raw['p50']:.2f}× / {x['mean'] / raw['mean']:.2f}× the raw "
                         "baseline)")
    lines += [f"note: {n}" for n in out.get("notes", [])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.reader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keys", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--reads", type=int, default=200_000, help="reads per variant (SQLite); Redis: a quarter")
    p.add_argument("--token-bytes", type=int, default=800)
    p.add_argument("--rounds", type=int, default=20,
                   help="interleaved rounds (a load that comes and goes on a shared machine hits every variant)")
    p.add_argument("--quick", action="store_true", help="fewer reads (50,000)")
    p.add_argument("--no-redis", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.reads = 50_000
    started = time.monotonic()
    out: dict[str, Any] = c.envelope(NAME, dict(vars(a)))
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ft-bench-reader-") as d:
        tmp = Path(d)
        out["sqlite"] = [bench_sqlite(tmp, n, a.reads, a.token_bytes, a.rounds) for n in a.keys]
        if not a.no_redis:
            try:
                import redis  # noqa: F401
                redis_ok = shutil.which("redis-server") is not None
            except ImportError:
                redis_ok = False
            if not redis_ok:
                notes.append("Redis not measured: redis-server or redis-py missing")
            else:
                out["redis"] = []
                with c.redis_server() as url:
                    for n in a.keys:
                        fill_redis(url, n, a.token_bytes)
                        part = bench_redis_python(url, n, max(10_000, a.reads // 4), a.rounds)
                        for lang in ("node", "go"):
                            other = bench_other(lang, url, n, max(10_000, a.reads // 4), tmp)
                            if isinstance(other, str):
                                notes.append(f"{lang}: {other}")
                            else:
                                part[lang] = other
                        out["redis"].append(part)
    out["rows"] = rows(out)
    out["notes"] = notes
    c.finish(out, started)
    c.write_result(NAME, out)
    print(render(out))
    return out


if __name__ == "__main__":
    main()
