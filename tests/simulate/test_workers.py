"""A run split over processes by host (``Scenario.workers``) gives the report one process gives.

Hosts share nothing but a provider's rate limit, so each process simulates its share of the hosts and the tallies
add up. What could make a split differ, and what each scenario here exercises:

* random draws (latency jitter, 5xx, revoked grants, backoff jitter) taken from one stream in the order of every
  host's events: each host has its own streams;
* the backlog monitor read "once a second that has events", before them: which seconds have events depends on
  the other hosts in the process. Each host's backlog is now read at the first whole second after events (what a
  reading every second would see: it changes only with events), and once after the last events of the run;
* floating-point sums taken in another order (lapsed token-seconds): exact at virtual times (see RecordingKV);
* alerts of one instant, listed in host order.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from freshtoken.simulate import ProviderProfile, Scenario, Simulation
from freshtoken.simulate.engine import SimulationError

FRESHTOKEN = str(Path(sys.executable).parent / "freshtoken")
#: what depends on the run rather than on the scenario
RUN = ("wall_seconds", "wall_us_per_refresh", "cpu_seconds", "workers")


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)  # revoked grants are logged as errors, once per account and run


def answers(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in RUN}


def rough(**kw: Any) -> Scenario:
    """Four hosts and everything random a scenario can hold without a provider rate limit: jitter, 5xx, an outage,
    revoked grants, a client rate limit for the planner, onboarding over two minutes."""
    return Scenario(
        providers=[
            ProviderProfile(name="acme", accounts=90, lifetime=900, latency=0.2, jitter=0.3, failure_rate=0.05,
                            outages=[(1200.0, 1500.0)], invalid_grant_rate=0.01, client_rate_limit=8),
            ProviderProfile(name="beta", accounts=60, lifetime=600, latency=1.5, jitter=0.5),
        ],
        concurrency=2, hosts=4, duration=2_700, onboarding=120, lead=120, seed=11, **kw,
    )


def lapsing(**kw: Any) -> Scenario:
    """Every alarm at its deadline; onboarding at 20 accounts a second for a minute on three hosts that do 5 a
    second each: a backlog that grows in steps of each host's own, alerts on every host (two in one second), and
    hundreds of tokens that lapse for different lengths of time."""
    return Scenario(providers=[ProviderProfile(accounts=1_200, lifetime=300, latency=0.2, jitter=0.2)],
                    concurrency=1, hosts=3, duration=700, lead=15, onboarding=60, planner=False, seed=5, **kw)


def test_a_run_split_over_workers_reports_what_one_process_reports() -> None:
    one = Simulation(rough()).run()
    assert one["workers"] == 1
    assert one["outcomes"].get("retry_scheduled", 0) > 0 and one["reauth_required"] > 0  # the scenario bites
    for workers in (2, 3):
        split = Simulation(rough(workers=workers)).run()
        assert split["workers"] == workers
        assert answers(split) == answers(one), workers


def test_alerts_and_lapses_are_the_same_split_or_not() -> None:
    one = Simulation(lapsing()).run()
    assert one["lapsed_tokens"] > 100 and one["lapsed_token_seconds"] > 0
    assert len({a["host"] for a in one["backlog_alerts"]}) == 3  # every host alerted
    assert len({a["at"] for a in one["backlog_alerts"]}) < len(one["backlog_alerts"])  # some in one second
    split = Simulation(lapsing(workers=3)).run()
    assert answers(split) == answers(one)


def sparse(**kw: Any) -> Scenario:
    """Events a second or more apart: an alarm a second on three hosts in turn (so each host's own come 3 s apart),
    a 20-second provider, one slot per host. A host's backlog grows at its own alarms; the next event of the
    process is another host's, a second later, in one process, and its own, three seconds later, when split."""
    return Scenario(providers=[ProviderProfile(accounts=60, lifetime=1_800, latency=20, jitter=0.0)],
                    concurrency=1, hosts=3, duration=2_400, onboarding=60, planner=False, seed=9, **kw)


def test_a_backlog_is_read_the_second_after_it_changed_whatever_else_happens() -> None:
    """Read before the events of the next second that has any (as the monitor once was), a host's reading after
    its own alarm waits for the next event of the process: another host's, a second later, in one process; its
    own, three seconds later, when split. Read at the second after its alarm, it alerts then either way."""
    one = Simulation(sparse()).run()
    alerts = one["backlog_alerts"]
    assert {a["host"] for a in alerts} == {0, 1, 2} and all(a["due"] >= 1 for a in alerts)
    assert answers(Simulation(sparse(workers=3)).run()) == answers(one)


@pytest.mark.parametrize("end", [1_250.5, 1_251.5])
def test_a_backlog_that_grew_just_before_the_end_is_read(end: float) -> None:
    """The run ends a second or two after hosts 1 and 2 alert (at 1,250 and 1,251 s): in one process the last
    readings come with another host's later events; split, only with the reading after each process's last
    events, which an engine that read only before events would skip."""
    one, split = sparse(), sparse(workers=3)
    one.duration = split.duration = end
    r = Simulation(one).run()
    assert len(r["backlog_alerts"]) == int(end - 1_248)  # the last alert's second is inside the run
    assert answers(Simulation(split).run()) == answers(r)


def test_cohort_mode_splits_too() -> None:
    scenario = Scenario(providers=[ProviderProfile(accounts=4_000, lifetime=3600, latency=0.2)], concurrency=8,
                        hosts=4, duration=7_200, cohort=8, seed=2)
    one = Simulation(scenario).run()
    scenario.workers = 2
    assert answers(Simulation(scenario).run()) == answers(one)
    assert one["refreshes"] == 8_000


def test_workers_beyond_the_hosts_are_not_started() -> None:
    r = Simulation(lapsing(workers=8)).run()
    assert r["workers"] == 3


def test_a_provider_rate_limit_keeps_the_run_in_one_process() -> None:
    scenario = Scenario(providers=[ProviderProfile(name="slowco", accounts=10, rate_limit=5)], hosts=2, workers=2)
    with pytest.raises(ValueError, match=r"workers must be 1 with a provider rate_limit \(slowco\)"):
        Simulation(scenario)
    scenario.hosts = 1  # one host: nothing to split, nothing to refuse
    assert Simulation(scenario).run()["workers"] == 1


def test_the_cli_splits_the_run() -> None:
    def run(*extra: str) -> dict[str, Any]:
        out = subprocess.run(
            [FRESHTOKEN, "simulate", "--accounts", "40", "--hosts", "2",
             "--duration", "2h", "--failure-rate", "0.1", "--json", *extra],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    split = run("--workers", "2")
    assert split["workers"] == 2 and answers(split) == answers(run())
    bad = subprocess.run([FRESHTOKEN, "simulate", "--hosts", "2", "--workers", "2",
                          "--provider-rate-limit", "5"], capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "workers must be 1 with a provider rate_limit" in bad.stderr


class _DiesInAWorker(ProviderProfile):
    """A profile that kills the worker process it is unpickled in (SIGKILL, as the OOM killer does)."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if multiprocessing.parent_process() is not None:
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_run_is_named_not_a_broken_pool() -> None:
    scenario = Scenario(providers=[_DiesInAWorker(accounts=20)], hosts=2, workers=2, duration=3_600)
    with pytest.raises(SimulationError, match=r"a worker process of the simulation \(2 workers\) died"):
        Simulation(scenario).run()
