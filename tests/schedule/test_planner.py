"""The capacity planner, pure: herds spread under capacity before their deadline, too big goes earlier, rate caps."""

from __future__ import annotations

from collections import Counter

import pytest

from freshtoken.alarm_planner import AlarmPlanner
from freshtoken.schedule import BacklogMonitor, CapacityPlanner, DemandLedger, LatencyEstimate

NOW = 1_800_000_000.0


def per_second(times: list[float]) -> Counter[int]:
    return Counter(int(t // 1) for t in times)


def planner(concurrency: int = 32, latency: float = 0.2, **kw: object) -> CapacityPlanner:
    p = CapacityPlanner(concurrency=concurrency, latency=LatencyEstimate(latency), **kw)  # type: ignore[arg-type]
    assert isinstance(p, AlarmPlanner)
    return p


def test_a_herd_spreads_before_its_deadline_under_capacity() -> None:
    p = planner()  # 0.8 * 32 / 0.2 = 128 per second
    due_by = NOW + 3000
    times = [p.place(f"t:acme:{i}", "acme", due_by, NOW) for i in range(20_000)]
    assert max(times) <= due_by and min(times) >= NOW
    assert max(per_second(times).values()) <= p.capacity == pytest.approx(128)
    # as late as capacity allows: the herd occupies the last ceil(20000 / 128) seconds before the deadline
    assert min(times) >= due_by - 20_000 / 128 - 2
    assert p.overflow == 0 and len(p) == 20_000


def test_a_herd_too_big_for_its_window_goes_earlier_never_later() -> None:
    p = planner()
    due_by = NOW + 10  # room for about 10 * 128 alarms
    times = [p.place(f"k{i}", "acme", due_by, NOW) for i in range(5_000)]
    assert max(times) <= due_by
    assert all(t >= NOW for t in times)
    counts = per_second(times)
    fitted = sum(n for s, n in counts.items() if s != int(NOW))
    assert fitted >= 9 * 128  # every second of the window is used up to capacity...
    assert counts[int(NOW)] == 5_000 - fitted  # ...and what does not fit is due at once, not after the deadline
    assert p.overflow > 0


def test_each_client_stays_under_its_rate_limit_and_the_runtime_under_its_capacity() -> None:
    p = planner(rate_limits={"slow": 5.0, "slower": 0.5})
    due_by = NOW + 2_000
    slow = [p.place(f"s{i}", "slow", due_by, NOW) for i in range(1_000)]
    slower = [p.place(f"r{i}", "slower", due_by, NOW) for i in range(200)]
    fast = [p.place(f"f{i}", "fast", due_by, NOW) for i in range(10_000)]
    assert max(slow + slower + fast) <= due_by
    assert max(per_second(slow).values()) <= 5
    # 0.5 per second: at most one in any two-second bucket
    assert max(Counter(int(t // 2) for t in slower).values()) <= 1
    assert max(per_second(slow + slower + fast).values()) <= 128


def test_an_alarm_already_due_is_not_delayed_but_its_load_is_booked() -> None:
    p = planner(concurrency=1, latency=1.0)  # 0.8 per second: one slot per second
    assert p.place("overdue", "acme", NOW - 50, NOW) == NOW  # fires now
    assert p.overflow == 0
    # its slot (this second) is booked: the next alarm due within this second finds no room and is due at once
    assert p.place("next", "acme", NOW + 0.5, NOW) == NOW
    assert p.overflow == 1
    assert p.place("later", "acme", NOW + 5.5, NOW) == NOW + 5.5  # a free second: at its deadline


def test_placing_again_moves_an_alarm_and_forget_frees_its_slot() -> None:
    p = planner(concurrency=1, latency=1.0)  # one per second
    due_by = NOW + 100
    first = p.place("a", "acme", due_by, NOW)
    assert first == due_by
    assert p.place("a", "acme", due_by, NOW) == due_by  # its own old slot is not held against it
    p.forget("a")
    assert p.place("b", "acme", due_by, NOW) == due_by and len(p) == 1


def test_measured_latency_sets_the_capacity() -> None:
    est = LatencyEstimate(0.5)
    p = CapacityPlanner(concurrency=32, latency=est)
    assert p.capacity == pytest.approx(0.8 * 32 / 0.5)
    for _ in range(200):
        p.observe("acme", 0.1)
    assert est.value == pytest.approx(0.1, rel=0.01)
    assert p.capacity == pytest.approx(0.8 * 32 / 0.1, rel=0.01)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        CapacityPlanner(concurrency=4, rate_limits={"acme": 0})
    with pytest.raises(ValueError, match="concurrency"):
        CapacityPlanner(concurrency=0)
    with pytest.raises(ValueError, match="width"):
        DemandLedger(0)


def test_ledger_search_skips_full_buckets_and_sees_freed_ones() -> None:
    led = DemandLedger()
    for b in range(90, 101):
        led.add(b)
    assert led.latest_free(100, 0, 1) == 89
    led.remove(95)
    assert led.latest_free(95, 0, 1) == 95
    assert led.earliest_free(90, 1) == 95
    assert led.latest_free(100, 90, 1) in (95, None)  # a hint may skip a freed bucket: only ever earlier


def test_backlog_monitor_alerts_once_per_episode() -> None:
    m = BacklogMonitor(threshold=0.5)
    quiet = m.read(at=0, due=100, latency=0.2, concurrency=32, lead=600)
    assert not quiet.alert and quiet.drain_seconds == pytest.approx(100 * 0.2 / 32)
    first = m.read(at=1, due=50_000, latency=0.2, concurrency=32, lead=600)  # 312 s of 600
    assert first.alert and first.ratio == pytest.approx(312.5 / 600)
    assert not m.read(at=2, due=60_000, latency=0.2, concurrency=32, lead=600).alert
    assert not m.read(at=3, due=40_000, latency=0.2, concurrency=32, lead=600).alert  # above half the threshold
    m.read(at=4, due=10, latency=0.2, concurrency=32, lead=600)
    assert m.read(at=5, due=50_000, latency=0.2, concurrency=32, lead=600).alert
    assert m.alerts == 2
