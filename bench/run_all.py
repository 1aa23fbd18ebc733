"""Run every benchmark, one after the other, and print their tables: ``python -m bench.run_all``.

``--quick`` passes each benchmark its smaller settings (a smoke run, results in ``bench/results/quick/``,
not the README's figures); without it the full runs take ~25 minutes on 2 cores.
``--only request_path,throughput`` picks some. Then ``python -m bench.report --write`` updates the README table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from ._common import ROOT

BENCHMARKS = {
    "request_path": ([], ["--quick"]),
    "reader": ([], ["--keys", "10000", "--quick"]),
    "throughput": ([], ["--accounts", "2000", "--rounds", "1"]),
    "scale": ([], ["--sizes", "10000,100000", "--window", "20"]),
    "distributed": ([], ["--accounts", "200", "--register-allowance", "30"]),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run_all")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default=",".join(BENCHMARKS))
    a = p.parse_args(argv)
    failed = []
    for name in a.only.split(","):
        full, quick = BENCHMARKS[name]
        args = [sys.executable, "-m", f"bench.{name}", *(quick if a.quick else full)]
        print(f"\n=== {' '.join(args[1:])}", flush=True)
        t0 = time.monotonic()
        env = {**os.environ}
        if a.quick:  # smoke runs must not overwrite the figures the README quotes
            env["BENCH_RESULTS_DIR"] = str(ROOT / "bench" / "results" / "quick")
        rc = subprocess.run(args, cwd=ROOT, env=env).returncode
        print(f"=== {name}: exit {rc} in {time.monotonic() - t0:.0f}s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
