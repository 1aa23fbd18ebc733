"""The headline table from ``bench/results/*.json``: ``python -m bench.report`` prints it as Markdown;
``--write`` replaces the block between the markers in ``bench/README.md``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._common import BENCH_DIR, RESULTS, fmt

BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _us(v: float) -> str:
    return f"{v / 1000:,.1f} ms" if v >= 1000 else f"{fmt(v)} µs"


def _when(data: dict[str, Any]) -> str:
    return f"{data['date'][:10]} {data['date'][11:16]} UTC"


def _exchange_note(summary: dict[str, Any]) -> str:
    """The runtime's exchange alone and what custody adds, where the run measured them."""
    rate = summary["median_rate"].get("freshtoken exchange only, no custody (reference)")
    if rate is None or summary.get("custody_cpu_ms") is None:
        return ""
    return f"; the runtime's exchange alone {rate:,.0f}/s, custody {summary['custody_cpu_ms']:.2f} CPU ms per refresh"


def _sustained(r: dict[str, Any], rate: float) -> bool:
    """The rate kept up with: ≥ 97 % of it achieved and ≤ 1 % of the alarms due in the window left unfired."""
    return bool(r["achieved_rate"] >= 0.97 * rate and r["never_fired_in_window"] <= 0.01 * r["due_in_window"])


def rows() -> list[list[str]]:
    out: list[list[str]] = []
    rp = _load("request_path")
    if rp and "gateway" in rp:
        gw = rp["gateway"]
        base = gw["authlib AsyncOAuth2Client: on-demand refresh"]["latency_us"]
        where = f"{_when(rp)}, `{rp['command']}`"
        for name, run in gw.items():
            if not isinstance(run, dict) or "latency_us" not in run or name.startswith("authlib"):
                continue
            lat = run["latency_us"]
            out.append([f"1 request path: {name}", f"p50 {_us(lat['p50'])}, p99 {_us(lat['p99'])}",
                        f"authlib on-demand: p50 {_us(base['p50'])}, p99 {_us(base['p99'])}",
                        f"p99 {base['p99'] / lat['p99']:,.0f}× lower; p50 {base['p50'] / lat['p50']:.2f}×",
                        "—", where])
    rd = _load("reader")  # the reader overhead (issue 14/17): bench/reader.py, every reader at 10k and 100k keys
    if rd and "rows" in rd:
        where = f"{_when(rd)}, `{rd['command']}`"
        by_reader: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in rd["rows"]:
            if "parse cache" not in r["reader"]:  # the parse alone (cache off): a reference, not a reader's default
                by_reader.setdefault((r["backend"], r["reader"]), []).append(r)
        for (backend, reader), runs in by_reader.items():
            runs.sort(key=lambda r: r["keys"])
            keys = " / ".join(f"{r['keys'] // 1000}k" for r in runs)
            out.append([
                f"1 reader overhead, {backend}: {reader} ({keys} keys)",
                "p50 " + " / ".join(_us(r["reader_p50_us"]) for r in runs),
                f"{runs[0]['raw']}: p50 " + " / ".join(_us(r["raw_p50_us"]) for r in runs),
                " / ".join(f"{r['p50_ratio']:.2f}×" for r in runs)
                + " (mean " + " / ".join(f"{r['mean_ratio']:.2f}×" for r in runs) + ")",
                "≤ 1.5× (p50 and mean): " + "; ".join(
                    f"{r['keys'] // 1000}k " + ("met" if r["met"] else "**not met**") for r in runs),
                where])
    tp = _load("throughput")
    if tp:
        s = tp["summary"]
        med = s["median_rate"]
        where = f"{_when(tp)}, `{tp['command']}`"
        out.append(["2 refresh throughput (embedded runtime)",
                    f"{med['freshtoken EmbeddedRuntime.run_due()']:,.0f} refreshes/s",
                    f"authlib loop {med['authlib AsyncOAuth2Client.refresh_token()']:,.0f}/s "
                    f"(httpx loop {med['httpx post + json (reference)']:,.0f}/s{_exchange_note(s)}); endpoint alone "
                    f"{s['endpoint_measured_max']:,.0f} req/s",
                    f"{s['ratio_vs_authlib']:.2f}×", "≥ 0.8× " + ("met" if s["met"] else "**not met**"), where])
    sc = _load("scale")
    if sc and "sizes" in sc:
        where = f"{_when(sc)}, `{sc['command']}`"
        rate = sc["parameters"]["rate"]
        for n, r in sc["sizes"].items():
            lat = r["lateness_ms"]
            peak = r["rss_mib_peak"]
            out.append([f"3 scale: {int(n):,} accounts",
                        f"RSS peak {peak:.0f} MiB, start-up {r['startup']['total_s']:.2f} s, "
                        f"p99 lateness {lat['p99']:,.0f} ms at {r['achieved_rate']:.0f}/s",
                        f"alarms due at {rate:.0f}/s",
                        "—", ("< 300 MiB met" if peak < 300 else "< 300 MiB **not met**")
                        + (f"; {rate:.0f}/s sustained" if _sustained(r, rate) else f"; {rate:.0f}/s **not sustained**"),
                        where])
    for name in ("throughput-c8",):
        extra = _load(name)
        if extra:
            s = extra["summary"]
            med = s["median_rate"]
            out.append([f"2 refresh throughput, concurrency {extra['parameters']['concurrency']}",
                        f"{med['freshtoken EmbeddedRuntime.run_due()']:,.0f} refreshes/s",
                        f"authlib loop {med['authlib AsyncOAuth2Client.refresh_token()']:,.0f}/s "
                        f"(httpx loop {med['httpx post + json (reference)']:,.0f}/s{_exchange_note(s)})",
                        f"{s['ratio_vs_authlib']:.2f}×", "≥ 0.8× " + ("met" if s["met"] else "**not met**"),
                        f"{_when(extra)}, `{extra['command']}`"])
    for name in ("scale-c8",):
        extra = _load(name)
        if extra and "sizes" in extra:
            rate = extra["parameters"]["rate"]
            for n, r in extra["sizes"].items():
                lat = r["lateness_ms"]
                out.append([f"3 scale: {int(n):,} accounts, concurrency {extra['parameters']['concurrency']}",
                            f"RSS peak {r['rss_mib_peak']:.0f} MiB, start-up {r['startup']['total_s']:.2f} s, "
                            f"p99 lateness {lat['p99']:,.0f} ms at {r['achieved_rate']:.0f}/s",
                            f"alarms due at {rate:.0f}/s", "—",
                            ("< 300 MiB met" if r["rss_mib_peak"] < 300 else "< 300 MiB **not met**")
                            + (f"; {rate:.0f}/s sustained" if _sustained(r, rate)
                               else f"; {rate:.0f}/s **not sustained**"),
                            f"{_when(extra)}, `{extra['command']}`"])
    ds = _load("distributed")
    if ds and ds.get("summary", {}).get("median_rate"):
        med = ds["summary"]["median_rate"]
        out.append(["4 Temporal runtime: refreshes/s", f"2 workers: {med.get('2 worker(s)', 0):.1f}/s",
                    f"1 worker: {med.get('1 worker(s)', 0):.1f}/s", f"{ds['summary']['two_over_one']:.2f}×",
                    "(no target)", f"{_when(ds)}, `{ds['command']}`"])
    sim = _load("simulate-scale-cohort-1m")
    if sim and sim.get("runs"):
        r = sim["runs"][0]
        out.append([f"6 simulator: a day of {r['accounts']:,} accounts, 1-hour tokens ({r['mode']}, "
                    f"{sim['parameters']['hosts']} hosts, {r.get('workers', 1)} process(es))",
                    f"{r['wall_seconds']:.1f} s wall ({r['cpu_seconds']:.1f} CPU s); {r['refreshes']:,} refreshes, "
                    f"{r['lapsed_tokens']} lapsed" if "cpu_seconds" in r else f"{r['wall_seconds']:.1f} s wall",
                    "—", "—", "< 60 s " + ("met" if r["wall_seconds"] < 60 else "**not met**"),
                    f"{_when(sim)}, `{sim['command']}`"])
    for name in ("herd", "herd-100000"):
        hd = _load(name)
        if hd and "runtime" in hd:
            r = hd["runtime"]
            n = hd["parameters"]["accounts"]
            line = (f"{r['lapsed_tokens']:,} lapsed, {r['reads_refused']:,} of {r['reads']:,} reads refused; "
                    f"next cycle's peak {r['peak_demand_next_cycle']}/s")
            if n == 20_000:
                ok = r["lapsed_tokens"] == 0 and r["reads_refused"] == 0 and \
                    r["peak_demand_next_cycle"] <= hd["capacity_per_second"]
                target = "0 lapsed, 0 refused, next peak ≤ capacity: " + ("met" if ok else "**not met**")
            else:
                line += (f"; backlog alert at {r['first_alert_after_onboard_start']:.0f} s, first lapse at "
                         f"{r['first_lapse_after_onboard_start']:.0f} s")
                target = "alert before anything lapses: " + ("met" if r["alert_before_first_lapse"] else "**not met**")
            out.append([f"7 herd: {n:,} accounts onboarded at once (embedded runtime)", line,
                        f"capacity {hd['capacity_per_second']:.0f} refreshes/s", "—", target,
                        f"{_when(hd)}, `{hd['command']}`"])
    out.sort(key=lambda r: r[0][0])  # by benchmark number, keeping each one's order
    return out


def markdown() -> str:
    head = ["benchmark", "freshtoken", "baseline (same run)", "ratio", "target", "date, command"]
    body = rows()
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.report")
    p.add_argument("--write", action="store_true", help="update the table in bench/README.md and README.md")
    a = p.parse_args(argv)
    table = markdown()
    if a.write:
        for readme in (BENCH_DIR / "README.md", BENCH_DIR.parent / "README.md"):
            text = readme.read_text()
            if BEGIN not in text:
                continue
            start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
            readme.write_text(text[:start] + "\n" + table + "\n" + text[end:])
    print(table)


if __name__ == "__main__":
    main()
