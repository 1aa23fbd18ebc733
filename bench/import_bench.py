"""Benchmark — ``freshtoken accounts import`` of N JSON lines vs a raw SQLite insert of the same rows.

Each variant runs in its own process (so its peak RSS, ``ru_maxrss``, is its own), on a fresh database, from
the same generated file (``--lines`` accounts, one in four with a live access token):

* ``accounts import`` — :func:`freshtoken.cli.accounts_bulk.import_lines` through the host ``accounts import``
  builds (``build_host``: SQLite store and KV, AES-GCM): per line the parse, validation and the normal
  registration (state encrypted, KV write of a live token, first alarm), ``--batch`` lines per transaction;
* ``raw SQLite insert`` — the floor: ``json.loads`` of each line and an ``INSERT`` of (key, client, line) into a
  table of the same shape, ``--batch`` rows per transaction, nothing validated or encrypted.

Memory is constant in the number of lines when the import's peak RSS at N lines matches it at N / 10 (both are
run). Wall time ratio and CPU seconds per line are reported with the load average.

    python -m bench.import_bench --lines 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import _common as c

NAME = "import"
CLIENT = "bench"


def generate(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            line: dict[str, Any] = {"key": f"bench:generic:acct-{i:07d}", "client": CLIENT,
                                    "refresh_token": f"rt.imp{i}.0", "account_data": {"n": str(i % 97)}}
            if i % 4 == 0:
                line.update(access_token=f"at.imp{i}.0", expires_in=3000)
            f.write(json.dumps(line, separators=(",", ":")) + "\n")


def run_raw(path: Path, db: Path, batch: int) -> dict[str, Any]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE accounts (key TEXT PRIMARY KEY, client TEXT NOT NULL, state TEXT NOT NULL)")
    rows: list[tuple[str, str, str]] = []
    n = 0
    with path.open(encoding="utf-8") as f:
        for text in f:
            data = json.loads(text)
            rows.append((data["key"], data["client"], text))
            if len(rows) >= batch:
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO accounts VALUES (?, ?, ?)", rows)
                conn.execute("COMMIT")
                n += len(rows)
                rows.clear()
    if rows:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO accounts VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
        n += len(rows)
    conn.close()
    return {"imported": n}


def run_import(path: Path, tmp: Path, batch: int, token_url: str) -> dict[str, Any]:
    from freshtoken.cli.accounts_bulk import import_lines
    from freshtoken.embedded import AesGcmCodec, generate_key
    from freshtoken.embedded.crypto import parse_keys
    from freshtoken.host.config import settings_from_dict
    from freshtoken.host.factory import build_host

    settings = settings_from_dict({
        "clients": {CLIENT: {"provider": "generic", "client_id": "bench-client", "client_secret": "bench-secret",
                             "provider_options": {"token_url": token_url}}},
        "runtime": {"database": str(tmp / "state.db"), "startup_spread": 0},
        "kv": {"backend": "sqlite", "path": str(tmp / "kv.db")},
    }, source="bench")
    codec = AesGcmCodec(parse_keys(generate_key("bench")))

    async def main() -> dict[str, Any]:
        host = build_host(settings, codec=codec, with_metrics=False, environ={})
        try:
            cpu0, t0 = c.cpu_seconds(), time.perf_counter()  # the import itself, not the start-up
            with path.open(encoding="utf-8") as f:
                report = await import_lines(host, enumerate(f, 1), batch=batch, environ={})
            timing = {"seconds": time.perf_counter() - t0, "cpu_seconds": c.cpu_seconds() - cpu0}
            return report.to_dict() | {"errors": report.errors[:5]} | timing
        finally:
            await host.aclose()

    return asyncio.run(main())


def child(a: argparse.Namespace) -> None:
    """One variant in this process; prints one JSON line."""
    path, tmp = Path(a.file), Path(a.tmp)
    if a.child == "raw":
        cpu0, t0 = c.cpu_seconds(), time.perf_counter()
        out = run_raw(path, tmp / "raw.db", a.batch)
        out.update(seconds=time.perf_counter() - t0, cpu_seconds=c.cpu_seconds() - cpu0)
    else:
        out = run_import(path, tmp, a.batch, a.token_url)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def variant(name: str, file: Path, batch: int, token_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ft-import-") as d:
        args = c.python_module("bench.import_bench", "--child", name, "--file", str(file), "--tmp", d,
                               "--batch", str(batch), "--token-url", token_url)
        proc = subprocess.run(args, cwd=c.ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed: {proc.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["loadavg"] = c.loadavg()
        return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m bench.import_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--file", default=None, help=argparse.SUPPRESS)
    p.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    p.add_argument("--token-url", default="http://127.0.0.1:9/token", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a)
        return {}
    started = time.monotonic()
    out = c.envelope(NAME, {"lines": a.lines, "batch": a.batch})
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ft-import-src-") as d:
        for n in (max(1, a.lines // 10), a.lines):
            file = Path(d) / f"accounts-{n}.jsonl"
            generate(file, n)
            for name in ("raw", "import"):
                print(f"  {n} lines: {name} ...", flush=True)
                runs[f"{name}@{n}"] = r = variant(name, file, a.batch, a.token_url)
                print(f"    {r['seconds']:.1f} s, peak RSS {r['peak_rss_mib']:.0f} MiB (load {r['loadavg'][0]:.2f})",
                      flush=True)
    out["runs"] = runs
    big_raw, big_imp = runs[f"raw@{a.lines}"], runs[f"import@{a.lines}"]
    small_imp = runs[f"import@{max(1, a.lines // 10)}"]
    out["summary"] = {
        "time_ratio_import_vs_raw": big_imp["seconds"] / big_raw["seconds"],
        "import_lines_per_second": a.lines / big_imp["seconds"],
        "import_cpu_ms_per_line": big_imp["cpu_seconds"] / a.lines * 1e3,
        "raw_cpu_ms_per_line": big_raw["cpu_seconds"] / a.lines * 1e3,
        "import_peak_rss_mib": big_imp["peak_rss_mib"],
        "import_peak_rss_mib_at_tenth": small_imp["peak_rss_mib"],
        "raw_peak_rss_mib": big_raw["peak_rss_mib"],
        "imported": big_imp["imported"], "failed": big_imp["failed"],
    }
    c.finish(out, started)
    c.write_result(NAME, out)
    print(render(out))
    return out


def render(out: dict[str, Any]) -> str:
    s = out["summary"]
    rows = [[k, r["seconds"], r["cpu_seconds"], r["peak_rss_mib"], r["imported"], r.get("failed", 0)]
            for k, r in out["runs"].items()]
    return "\n".join([
        f"# import — {out['date']} — `{out['command']}`", "",
        f"load average at start {out['loadavg_start']}, at end {out['loadavg_end']}", "",
        c.table(["variant@lines", "wall s", "CPU s", "peak RSS MiB", "imported", "failed"], rows), "",
        f"accounts import ÷ raw insert (wall): {s['time_ratio_import_vs_raw']:.1f}×; "
        f"{s['import_lines_per_second']:,.0f} lines/s; {s['import_cpu_ms_per_line']:.3f} CPU ms/line "
        f"(raw {s['raw_cpu_ms_per_line']:.4f}); peak RSS {s['import_peak_rss_mib']:.0f} MiB at "
        f"{out['parameters']['lines']:,} lines vs {s['import_peak_rss_mib_at_tenth']:.0f} MiB at a tenth",
    ])


if __name__ == "__main__":
    main(sys.argv[1:])
