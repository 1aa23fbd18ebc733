"""A token endpoint that hangs: the timeout fires and the host keeps refreshing everyone else.

One :class:`EmbeddedRuntime` on real time hosts two clients: ``hanging`` points at a raw asyncio server on
127.0.0.1 that accepts the connection, reads the request and never answers; ``healthy`` points at the
rotating sandbox (4 s tokens, so healthy accounts refresh every 2 s). The provider ``timeout`` is 0.5 s
and the runtime's concurrency (4) is *smaller* than the number of hanging accounts (12), which are due
first: if a hanging refresh held its slot forever, no healthy account would ever be refreshed. The test
shows that each hanging attempt gives its slot back after the timeout (outcome ``retry_scheduled``, a
timeout error, backoff), that the hanging client never holds every slot (``per_client_concurrency``), so
healthy accounts refresh from the first moment — once, then again and again while the hanging ones keep
timing out — and that the scheduler loop stays responsive. Figures printed with ``-s``.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from freshtoken import KVRecord, MemoryKV, OAuthClient, Plugins, TokenHTTP, hookimpl
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteStore, generate_key
from freshtoken.providers import generic
from freshtoken.sandbox.server import SandboxServer

HANGING = 12
HEALTHY = 40
CONCURRENCY = 4
TIMEOUT = 0.5
RUN_FOR = 6.0  # seconds of real time after every healthy account was refreshed once
LIFETIME = 4  # healthy tokens: refreshed every 2 s (half-way), so KV has 2 s of slack under load


class TimedHTTP(TokenHTTP):
    """The real TokenHTTP, timing every token request: (client, start, end, error or None)."""

    def __init__(self) -> None:
        super().__init__(max_connections=CONCURRENCY * 4)
        self.calls: list[tuple[str, float, float, str | None]] = []

    async def send(self, request: Any, client: OAuthClient, *, timeout: float = 30.0) -> Any:
        t0 = time.monotonic()
        try:
            response = await super().send(request, client, timeout=timeout)
        except Exception as exc:
            self.calls.append((client.name, t0, time.monotonic(), str(exc)))
            raise
        self.calls.append((client.name, t0, time.monotonic(), None))
        return response


class Events:
    def __init__(self) -> None:
        self.succeeded: Counter[str] = Counter()
        self.first_success: dict[str, float] = {}
        self.failed: list[Any] = []

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: Any) -> None:
        self.succeeded[event.key] += 1
        self.first_success.setdefault(event.key, time.monotonic())

    @hookimpl
    def freshtoken_refresh_failed(self, event: Any) -> None:
        self.failed.append(event)


async def _hanging_server() -> tuple[asyncio.Server, list[int]]:
    """Accepts, reads the request, never answers (until the client gives up and closes)."""
    accepted = [0]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, accepted


def _client(name: str, token_url: str) -> OAuthClient:
    return OAuthClient(
        name=name, provider="generic", client_id="sandbox-client", client_secret="sandbox-secret",
        provider_options={"token_url": token_url, "timeout": TIMEOUT},
    )


async def test_a_hanging_endpoint_times_out_and_others_keep_refreshing(tmp_path: Path) -> None:
    hang, accepted = await _hanging_server()
    hang_url = f"http://127.0.0.1:{hang.sockets[0].getsockname()[1]}/token"
    events = Events()
    plugins = Plugins(entry_points=False)
    plugins.register(generic, name="generic")
    plugins.register(events)
    http = TimedHTTP()
    with SandboxServer(lifetime=LIFETIME).run_in_thread() as sandbox:
        store = SQLiteStore(tmp_path / "state.db", AesGcmCodec.from_spec(generate_key("k1")))
        kv = MemoryKV()
        runtime = EmbeddedRuntime(
            store=store, kv=kv, plugins=plugins, http=http, concurrency=CONCURRENCY, startup_spread=0,
            rng=random.Random(7),
            clients={"hanging": _client("hanging", hang_url), "healthy": _client("healthy", sandbox.token_url)},
        )
        # the hanging accounts are registered first: their alarms are the oldest, so they take every slot
        hanging = [f"t1:hanging:hang-{i}" for i in range(HANGING)]
        healthy = [f"t1:healthy:acct-{i}" for i in range(HEALTHY)]
        for key in hanging:
            await runtime.register(key, client="hanging", refresh_token=f"rt-hang-{key}")
        for key in healthy:
            await runtime.register(key, client="healthy", refresh_token=sandbox.mint()["refresh_token"])

        stop = asyncio.Event()
        t0 = time.monotonic()
        task = asyncio.create_task(runtime.run(stop))
        lags = []
        deadline = t0 + 30
        while len(events.first_success) < HEALTHY:
            assert time.monotonic() < deadline, f"only {len(events.first_success)} healthy account(s) refreshed"
            assert not task.done(), task
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)
        all_once = time.monotonic() - t0
        counts_at_all_once = dict(events.succeeded)
        # keep going: the healthy accounts refresh every 2 s while the hanging ones retry and time out
        end = time.monotonic() + RUN_FOR
        while time.monotonic() < end:
            assert not task.done(), task
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)
        stats = runtime.stats()
        now = time.time()
        fresh = 0
        for key in healthy:
            raw = kv.get_sync(key)
            assert raw is not None, key
            if (KVRecord.loads(raw).expires_at or 0) > now:
                fresh += 1
        hanging_states = [store.load_state(k) for k in hanging]
        stop.set()
        await asyncio.wait_for(task, 10)  # the graceful stop waits for the hanging refreshes (<= timeout)
        await runtime.aclose()
        await http.aclose()
    hang.close()
    await hang.wait_closed()

    first_healthy = min(events.first_success[k] for k in healthy) - t0
    hang_calls = [c for c in http.calls if c[0] == "hanging"]
    hang_durations = [end_ - start for _, start, end_, _ in hang_calls]
    healthy_calls = [c for c in http.calls if c[0] == "healthy"]
    healthy_durations = sorted(end_ - start for _, start, end_, _ in healthy_calls)
    extra_refreshes = [events.succeeded[k] - counts_at_all_once.get(k, 0) for k in healthy]
    report = {
        "test": "slow_provider", "hanging_accounts": HANGING, "healthy_accounts": HEALTHY,
        "concurrency": CONCURRENCY, "per_client_concurrency": runtime.per_client_concurrency, "timeout_s": TIMEOUT,
        "first_healthy_refresh_s": round(first_healthy, 3),
        "all_healthy_refreshed_once_s": round(all_once, 3),
        "head_of_line_bound_s": math.ceil(HANGING / CONCURRENCY) * TIMEOUT,
        "hanging_attempts": len(hang_calls), "hanging_connections_accepted": accepted[0],
        "hanging_attempt_s": {"min": round(min(hang_durations), 3), "max": round(max(hang_durations), 3),
                              "mean": round(statistics.fmean(hang_durations), 3)},
        "healthy_refreshes": sum(events.succeeded[k] for k in healthy),
        f"healthy_refreshes_per_account_after_first_in_{RUN_FOR:.0f}s": {
            "min": min(extra_refreshes), "max": max(extra_refreshes)},
        "healthy_request_ms": {"p50": round(healthy_durations[len(healthy_durations) // 2] * 1000, 1),
                               "max": round(healthy_durations[-1] * 1000, 1)},
        "healthy_tokens_fresh_in_kv_at_end": fresh,
        "outcomes": stats["outcomes"], "peak_in_flight": stats["peak_in_flight"],
        "event_loop_lag_ms_max": round(max(lags) * 1000, 1),
    }
    print("\nslow provider:", json.dumps(report))

    # every hanging attempt ended by the timeout, as a retryable timeout error, and gave its slot back
    assert hang_calls and all(err is not None and "timed out" in err for *_, err in hang_calls)
    assert all(TIMEOUT * 0.9 <= d < TIMEOUT + 0.5 for d in hang_durations), hang_durations
    assert stats["outcomes"].get("retry_scheduled", 0) >= HANGING
    assert not any(f.key in healthy for f in events.failed)
    for ev in events.failed:
        assert ev.kind == "retryable" and "timed out" in ev.error, ev
    for st in hanging_states:
        assert st is not None and st.status.value == "retrying" and st.failures >= 1, st
        assert st.last_error_kind == "retryable" and "timed out" in (st.last_error or "")
        assert st.next_refresh_at is not None  # rescheduled with backoff, not dropped
    # the hanging accounts kept being retried (backoff 1-5 s) and kept timing out, while ...
    assert len(hang_calls) >= HANGING + 1
    # ... the healthy ones got through from the start: the hanging client holds at most
    # per_client_concurrency (3 of 4) slots, so no healthy refresh waited for a hanging one to time out
    # (without that cap the wait is ceil(hanging / concurrency) x timeout); then all of them, again every 2 s
    assert runtime.per_client_concurrency == 3
    assert first_healthy < TIMEOUT
    assert set(events.first_success) >= set(healthy)
    assert min(extra_refreshes) >= 2, extra_refreshes
    assert fresh == HEALTHY
    assert stats["peak_in_flight"] <= CONCURRENCY
    assert max(lags) < TIMEOUT * 0.8  # the event loop was never blocked by the hanging requests
