"""The simulator runs the real refresher and planner in virtual time: rotation, persistence order, herds that
lapse without the planner and do not with it, rate caps, the backlog alert before the first lapse."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from freshtoken.simulate import ProviderProfile, Scenario, Simulation
from freshtoken.simulate.clock import SimClock
from freshtoken.simulate.engine import Engine, SimulationError
from freshtoken.state import AccountState

FRESHTOKEN = str(Path(sys.executable).parent / "freshtoken")


def herd(planner: bool, **kw: object) -> Scenario:
    """2,000 accounts onboarded at once with 10-minute tokens, a one-minute lead, 2 slots at 200 ms: the runtime
    does 10 refreshes a second, so the herd needs 200 s to drain, more than the lead."""
    profile = ProviderProfile(accounts=2_000, lifetime=600, latency=0.2, jitter=0.0)
    return Scenario(providers=[profile], concurrency=2, duration=1_500, lead=60, planner=planner, **kw)  # type: ignore[arg-type]


def test_it_runs_the_real_refresher_rotation_and_persistence_order() -> None:
    sim = Simulation(Scenario(providers=[ProviderProfile(accounts=50, lifetime=3600)], concurrency=4,
                              duration=3 * 3600))
    r = sim.run()
    assert r["outcomes"] == {"refreshed": 150}  # at 50, 100 and 150 minutes
    provider = sim.hosts[0].sims["acme.sim.example"]
    assert provider.refreshes == 150 and r["reuse_detected"] == 0
    for i in range(50):  # the rotated refresh token is the one stored, as the real refresher persists it
        state = AccountState.load(sim.storages[f"t:acme:{i}"].raw or "", sim.storages[f"t:acme:{i}"]._codec)
        assert state.refresh_token is not None
        assert state.refresh_token.get_secret_value() == provider.current(i) == f"r{i}.3"
        assert state.generation == 4 and state.refresh_count == 3
    assert r["persistence_order_violations"] == 0 and sim.kv.writes == 50 + 150
    assert r["lapsed_tokens"] == 0 and r["expired_at_end"] == 0


def test_without_the_planner_a_herd_lapses_and_the_alert_comes_first() -> None:
    r = Simulation(herd(planner=False)).run()
    assert r["lapsed_tokens"] > 0  # the finding, reproduced by the real code
    assert r["peak_demand_first_cycle"] >= 9
    assert r["first_alert_at"] is not None and r["alert_before_first_lapse"] is True


def test_with_the_planner_the_same_herd_never_lapses_and_the_next_cycle_stays_under_capacity() -> None:
    r = Simulation(herd(planner=True)).run()
    assert r["lapsed_tokens"] == 0 and r["expired_at_end"] == 0
    assert r["peak_demand_after_first_cycle"] <= r["capacity_per_second"]
    assert r["lateness_max"] < 1.0  # at worst queued within the deadline's own second
    assert r["lateness_p99"] == 0.0
    assert r["outcomes"] == {"refreshed": r["refreshes"]}


def test_a_herd_too_big_for_the_window_raises_the_alert_before_anything_lapses() -> None:
    # tokens expiring in 150 s (due half-way at 75 s): at 10 refreshes a second, 2,000 need 200 s
    profile = ProviderProfile(accounts=2_000, lifetime=150, latency=0.2, jitter=0.0)
    r = Simulation(Scenario(providers=[profile], concurrency=2, duration=400, lead=60)).run()
    assert r["first_alert_at"] is not None and r["first_alert_at"] < 75
    assert r["lapsed_tokens"] > 0 and r["alert_before_first_lapse"] is True


def test_the_client_rate_limit_keeps_the_provider_from_refusing() -> None:
    def run(planner: bool) -> dict[str, object]:
        profile = ProviderProfile(accounts=600, lifetime=1200, latency=0.2, jitter=0.0, rate_limit=5,
                                  client_rate_limit=5)
        return Simulation(Scenario(providers=[profile], concurrency=8, duration=3_000, lead=300,
                                   planner=planner)).run()

    assert run(planner=False)["rate_limited"] > 0
    planned = run(planner=True)
    assert planned["rate_limited"] == 0 and planned["peak_demand_per_second"] <= 5
    assert planned["lapsed_tokens"] == 0


def test_outages_and_revoked_grants_are_counted() -> None:
    profile = ProviderProfile(accounts=200, lifetime=3600, latency=0.1, outages=[(2800.0, 3400.0)],
                              invalid_grant_rate=0.05)
    r = Simulation(Scenario(providers=[profile], concurrency=4, duration=2 * 3600)).run()
    assert r["reauth_required"] > 0
    assert r["outcomes"].get("retry_scheduled", 0) > 0  # the outage: retried with backoff, as in production
    assert r["reuse_detected"] == 0


def test_the_engine_refuses_a_wait_outside_virtual_time() -> None:
    @types.coroutine
    def foreign() -> Generator[str, None, None]:
        yield "an asyncio future, say"

    async def waits_elsewhere() -> None:
        await foreign()

    engine = Engine(SimClock())
    with pytest.raises(SimulationError, match="virtual time"):
        engine.spawn(waits_elsewhere(), lambda r, e: None)


def test_bad_scenarios_are_named() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        Simulation(Scenario(providers=[ProviderProfile(lifetime=0)]))
    with pytest.raises(ValueError, match="concurrency"):
        Simulation(Scenario(concurrency=0))


@pytest.mark.parametrize("scenario,named", [
    ({"hosts": "2"}, "hosts: Input should be a valid integer"),
    ({"workers": 2.5, "hosts": 2}, "workers: Input should be a valid integer"),
    ({"duration": "Infinity"}, "duration: Input should be a finite number"),  # json.loads reads it: no end
    ({"planner": 1}, "planner: Input should be a valid boolean"),
    ({"lead": [600]}, "lead: Input should be a valid number"),
    ({"providers": {"name": "acme"}}, "providers: Input should be a valid array"),
    ({"providers": [{"accounts": "5"}]}, "providers.0.accounts: Input should be a valid integer"),
    ({"providers": [{"latency": None}]}, "providers.0.latency: Input should be a valid number"),
    ({"providers": [{"outages": [5]}]}, "providers.0.outages.0: Input should be a valid array"),
    ({"providers": [{"outages": [[1, "2h"]]}]}, "providers.0.outages.0.1: Input should be a valid number"),
    ({"providers": [{"rate_limit": "NaN"}]}, "providers.0.rate_limit: Input should be a finite number"),
    ({"hosts": 2, "colour": "red"}, "colour: unknown field"),
    ([{"hosts": 2}], "the top level must be an object"),
])
def test_a_scenario_file_of_the_wrong_types_is_named_not_a_traceback(tmp_path: Path, scenario: Any,
                                                                     named: str) -> None:
    text = json.dumps(scenario).replace('"Infinity"', "Infinity").replace('"NaN"', "NaN")
    (tmp_path / "fleet.json").write_text(text)
    out = subprocess.run([FRESHTOKEN, "simulate", "--scenario", str(tmp_path / "fleet.json"), "--duration", "1h"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2, out.stderr
    assert named in out.stderr and "Traceback" not in out.stderr


def test_the_cli_prints_json_and_names_bad_input() -> None:
    out = subprocess.run([FRESHTOKEN, "simulate", "--accounts", "20", "--duration", "2h",
                          "--concurrency", "2", "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["accounts"] == 20 and r["outcomes"] == {"refreshed": 40} and r["planner"] == "capacity"
    bad = subprocess.run([FRESHTOKEN, "simulate", "--duration", "soon"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "--duration" in bad.stderr and "not a duration" in bad.stderr


def test_a_cpu_bound_host_is_capped_and_its_planner_sees_the_lag() -> None:
    # 100 ms of host CPU per refresh: at most 10 a second, whatever the 32 slots and the 200 ms provider allow
    profile = ProviderProfile(accounts=600, lifetime=600, latency=0.2, jitter=0.0)
    sim = Simulation(Scenario(providers=[profile], concurrency=32, duration=1_300, lead=60, cpu_per_refresh=0.1))
    r = sim.run()
    assert r["capacity_per_second"] == 10.0 and r["peak_demand_per_second"] <= 10
    # the herd queued for the CPU: its exchanges took longer, the measured latency rose, the backlog alert fired
    assert r["lateness_p99"] > 10 and r["first_alert_at"] is not None
    assert r["lapsed_tokens"] == 0 and r["peak_demand_after_first_cycle"] <= 10
