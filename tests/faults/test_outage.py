"""An outage of the token endpoint longer than access tokens live, for thousands of accounts, in virtual time.

The embedded runtime runs for real (SQLite state and alarms, the scheduler's ``run_due``, a real loopback
token endpoint that is stopped for the outage, so every attempt meets a refused connection, and started again
on the same port with the same grants); only time is virtual. Retryable 5xx answers are covered in
``tests/core/test_refresher.py``. The figures are printed (run with
``-s``) and quoted in the issue's closing note.
"""

from __future__ import annotations

import collections
import random
from typing import Any

from freshtoken import ManualClock, OAuthClient, Plugins, TokenHTTP, hookimpl
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteStore, generate_key
from freshtoken.kv import MemoryKV
from freshtoken.providers import generic
from freshtoken.retry import RetryPolicy
from freshtoken.sandbox.server import SandboxAuthServer, SandboxServer, free_port

ACCOUNTS = 2000
LIFETIME = 1800  # 30-minute tokens
OUTAGE = 2400  # longer than a token lives
CAP = 600.0


class VirtualTimedHTTP(TokenHTTP):
    """Records the virtual time of every token request (the provider's view of our request rate)."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock
        self.sent: list[float] = []

    async def send(self, request, client, *, timeout=30.0):  # type: ignore[override]
        self.sent.append(self.clock.now())
        return await super().send(request, client, timeout=timeout)


class Alerts:
    def __init__(self) -> None:
        self.failed_alerts: collections.Counter[str] = collections.Counter()
        self.expired: collections.Counter[str] = collections.Counter()
        self.first_success_after: dict[str, float] = {}
        self.recovery_started: float | None = None

    @hookimpl
    def freshtoken_refresh_failed(self, event: Any) -> None:
        if event.alert:
            self.failed_alerts[event.key] += 1

    @hookimpl
    def freshtoken_token_expired(self, event: Any) -> None:
        self.expired[event.key] += 1

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: Any) -> None:
        if self.recovery_started is not None and event.key not in self.first_success_after:
            self.first_success_after[event.key] = event.at - self.recovery_started


def peak_per_second(times: list[float], start: float, end: float) -> int:
    counts = collections.Counter(int(t) for t in times if start <= t < end)
    return max(counts.values(), default=0)


async def simulate_until(runtime: EmbeddedRuntime, store: SQLiteStore, clock: ManualClock, end: float) -> None:
    """Discrete-event loop: jump to the next alarm, fire everything due, repeat."""
    while True:
        nxt = store.next_alarm_at(clock.now())
        if nxt is None or nxt > end:
            clock.set(end)
            return
        clock.set(max(nxt, clock.now()))
        await runtime.run_due()


async def test_long_outage_backs_off_alerts_and_recovers_without_a_herd(tmp_path):
    """The endpoint goes away (connection refused: the sandbox is stopped) for longer than tokens live."""
    app = SandboxAuthServer(lifetime=LIFETIME)
    port = free_port()
    clock = ManualClock()
    alerts = Alerts()
    plugins = Plugins(entry_points=False)
    plugins.register(generic, name="generic")
    plugins.register(alerts)
    http = VirtualTimedHTTP(clock)
    policy = RetryPolicy(base=5, cap=CAP, alert_after=3)
    client = OAuthClient(
        name="sb", provider="generic", client_id="sandbox-client", client_secret="sandbox-secret",
        provider_options={"token_url": f"http://127.0.0.1:{port}/token", "retry": policy.model_dump(),
                          "timeout": 5.0},
    )
    store = SQLiteStore(tmp_path / "state.db", AesGcmCodec.from_spec(generate_key("k1")))
    runtime = EmbeddedRuntime(
        store=store, kv=MemoryKV(clock), clients={"sb": client}, plugins=plugins, clock=clock, http=http,
        concurrency=64, rng=random.Random(3), startup_spread=0,
    )
    rng = random.Random(5)
    t0 = clock.now()
    with SandboxServer(app, port=port).run_in_thread():
        for i in range(ACCOUNTS):
            grant = app.mint()
            # tokens issued at random moments of the last half hour: alarms spread as in steady state
            expires = t0 + rng.uniform(120, LIFETIME)
            await runtime.register(
                f"t:generic:acct-{i}", client="sb", refresh_token=grant["refresh_token"],
                access_token=grant["access_token"], expires_at=expires,
            )
        await simulate_until(runtime, store, clock, t0 + 600)  # ten healthy minutes
    healthy_requests = len(http.sent)

    outage_start = clock.now()  # the server is gone: connection refused
    await simulate_until(runtime, store, clock, outage_start + OUTAGE)
    outage_requests = len(http.sent) - healthy_requests

    with SandboxServer(app, port=port).run_in_thread():  # back, same grants
        recovery = alerts.recovery_started = clock.now()
        await simulate_until(runtime, store, clock, recovery + 2 * CAP)
    states = [runtime.store.load_state(f"t:generic:acct-{i}") for i in range(ACCOUNTS)]
    await runtime.aclose()
    await http.aclose()

    outage_peak = peak_per_second(http.sent, outage_start + CAP, recovery)  # steady state of the outage
    recovery_peak = peak_per_second(http.sent, recovery, recovery + 2 * CAP)
    recovered_in = max(alerts.first_success_after.values())
    print(
        f"\noutage: {ACCOUNTS} accounts, {OUTAGE}s outage (connection refused) of {LIFETIME}s tokens: "
        f"{outage_requests} requests during the outage ({outage_requests / OUTAGE:.1f}/s mean, "
        f"peak {outage_peak}/s); recovery: every account fresh {recovered_in:.0f}s after the endpoint "
        f"returned (cap {CAP:.0f}s), peak {recovery_peak}/s; healthy phase {healthy_requests} requests"
    )
    # every account came back, within one backoff cap
    assert len(alerts.first_success_after) == ACCOUNTS
    assert recovered_in <= CAP + 1
    assert all(s is not None and s.status.value == "active" and s.failures == 0 for s in states)
    # one repeated-failure alert per account, one "token expired in KV" alert per account
    assert set(alerts.failed_alerts.values()) == {1} and len(alerts.failed_alerts) == ACCOUNTS
    assert set(alerts.expired.values()) == {1} and len(alerts.expired) == ACCOUNTS
    # backoff: once ramped up to the cap, the rate is about accounts / mean(uniform(1, cap)) = accounts /
    # (cap / 2), never a per-account hammering
    steady = sum(1 for t in http.sent if outage_start + 2 * CAP <= t < recovery) / (recovery - outage_start - 2 * CAP)
    print(f"steady outage rate {steady:.2f}/s (expected about {ACCOUNTS / (CAP / 2):.2f}/s)")
    assert steady < ACCOUNTS / (CAP / 2) * 1.25
    # no thundering herd on recovery: requests are spread over the cap, not all in one second
    assert recovery_peak < ACCOUNTS / 10
    assert app.stats.reuse_detected == 0 and app.stats.overlaps == 0
