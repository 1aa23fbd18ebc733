"""Cohort mode: one real refresher per cohort of identical accounts, booked by the real planner as that many
alarms. Its figures stay within 20 % of the per-account simulation where both run, and the report says which
mode ran."""

from __future__ import annotations

from typing import Any

import pytest

from freshtoken.schedule import CapacityPlanner, LatencyEstimate
from freshtoken.simulate import ProviderProfile, Scenario, Simulation

NOW = 1_800_000_000.0


def close(a: float, b: float, rel: float = 0.2) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b))


def lapsing_herd(cohort: int) -> Scenario:
    """2,000 accounts due at once, every alarm at its deadline, 4 slots at 200 ms: the drain takes 100 s, the lead
    is 60 s, so some 40 % of the tokens lapse. One cycle (the first refreshes are due at 540 s)."""
    profile = ProviderProfile(accounts=2_000, lifetime=600, latency=0.2, jitter=0.2)
    return Scenario(providers=[profile], concurrency=4, duration=700, lead=60, planner=False, cohort=cohort)


def planned_herd(cohort: int) -> Scenario:
    """The same herd with the capacity planner and 16 slots: spread, nothing late."""
    profile = ProviderProfile(accounts=4_000, lifetime=600, latency=0.2, jitter=0.2)
    return Scenario(providers=[profile], concurrency=16, duration=1_500, lead=120, cohort=cohort)


def test_a_lapsing_herd_gives_the_per_account_figures_within_20_percent() -> None:
    each = Simulation(lapsing_herd(1)).run()
    grouped = Simulation(lapsing_herd(4)).run()
    assert each["mode"] == "per-account" and each["simulated_accounts"] == 2_000
    assert "COHORTS of 4" in grouped["mode"] and grouped["simulated_accounts"] == 500
    assert grouped["accounts"] == each["accounts"] == 2_000
    assert grouped["refreshes"] == each["refreshes"]
    assert each["lapsed_tokens"] > 400  # the herd does lapse
    for figure in ("lapsed_tokens", "lapsed_token_seconds", "lateness_p50", "lateness_p99", "delay_p99",
                   "peak_demand_first_cycle", "late_refreshes"):
        if figure == "late_refreshes":  # one sample per cohort: counts of samples scale by the cohort
            assert close(grouped[figure] * 4, each[figure]), (figure, grouped[figure], each[figure])
            continue
        assert close(grouped[figure], each[figure]), (figure, grouped[figure], each[figure])
    assert grouped["first_alert_at"] is not None and grouped["alert_before_first_lapse"] is True


def test_a_planned_herd_gives_the_per_account_figures_within_20_percent() -> None:
    each = Simulation(planned_herd(1)).run()
    grouped = Simulation(planned_herd(8)).run()
    assert each["lapsed_tokens"] == grouped["lapsed_tokens"] == 0
    assert each["lateness_p99"] < 1.0 and grouped["lateness_p99"] < 1.0  # at worst within the deadline's second
    assert grouped["refreshes"] == each["refreshes"]
    assert grouped["outcomes"] == each["outcomes"] == {"refreshed": each["refreshes"]}
    for figure in ("peak_demand_first_cycle", "peak_demand_after_first_cycle", "delay_p50"):
        assert close(grouped[figure], each[figure]), (figure, grouped[figure], each[figure])
    assert grouped["peak_demand_after_first_cycle"] <= grouped["capacity_per_second"]


def test_the_planner_books_a_weighted_alarm_where_all_of_it_fits() -> None:
    # capacity 0.8 x 10 / 1 s = 8 a second: two cohorts of 4 fill the last second before the deadline
    p = CapacityPlanner(concurrency=10, latency=LatencyEstimate(initial=1.0))
    due_by = NOW + 100.5
    at = [p.place(f"c{i}", "acme", due_by, NOW, weight=4) for i in range(3)]
    assert at[0] == at[1] == due_by and at[2] == NOW + 99
    assert p.planned_in(NOW + 100, NOW + 101) == 8 and p.planned_in(NOW + 99, NOW + 100) == 4
    p.forget("c0")
    assert p.planned_in(NOW + 100, NOW + 101) == 4
    # a weight of 1 is the planner as it always was
    q = CapacityPlanner(concurrency=10, latency=LatencyEstimate(initial=1.0))
    assert [q.place(f"k{i}", "acme", due_by, NOW, weight=1) for i in range(9)][-1] == NOW + 99


@pytest.mark.parametrize("kw,named", [
    ({"cohort": 0}, "cohort"),
    ({"cohort": 9, "concurrency": 8}, "cohort"),
    ({"cohort": 2, "cpu_per_refresh": 0.01}, "cpu_per_refresh"),
    ({"cohort": 8, "providers": [ProviderProfile(rate_limit=5)]}, "rate_limit"),
])
def test_cohorts_that_cannot_be_simulated_are_named(kw: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Simulation(Scenario(**kw))
