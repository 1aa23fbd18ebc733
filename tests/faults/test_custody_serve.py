"""Single flight under faults, with real ``freshtoken serve`` processes on one state database.

* **Slow drip.** A token endpoint (``DripEndpoint`` in ``tests/fixtures_servers/slow_endpoint.py``) sends
  ``200`` headers, then one byte every 0.25 s and never finishes. httpx's timeout bounds each read, so
  without a deadline on the whole exchange a refresh would hang for ever while its lease runs out. Two ``serve`` processes, a 6 s lease, a 2 s provider
  timeout, three dripping grants and three normal ones (rotating, 4 s tokens, refreshed every ~2 s by
  whichever process gets there first): every refresh token reaches the endpoint exactly once, no two
  requests of a grant overlap, nothing is reused, each dripping exchange ends at its deadline as a
  *retryable* failure, and SIGTERM stops both processes.
* **Drain limit.** A provider timeout of 60 s, ``serve --drain-timeout 1`` and SIGTERM while a dripping
  exchange is open: the process cancels it after the drain limit and exits (a liveness bound, far below the
  provider timeout), and the lease is released.
* **SIGSTOP past the lease.** Process A sends a refresh, the endpoint holds the answer, A is frozen
  (SIGSTOP) for longer than its lease. Process B takes the account over and refreshes it (a new refresh
  token, generation 1). Then the held request is answered with a *success* (a provider without reuse
  detection: the worst case) and A is resumed (SIGCONT). A must not overwrite B's newer state; the number of
  requests A sends after it resumes is counted (0), and so is the one thing still possible: B re-sent the
  refresh token A's frozen request carried (the remaining window, docs/custody.md). Figures with ``-s``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from freshtoken.embedded import AesGcmCodec, SQLiteStore, generate_key
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from tests.fixtures_servers.slow_endpoint import DripEndpoint, Exchange

BIN = Path(sys.executable).parent / "freshtoken"
CLIENT_SECRET = "PLANTED-custody-secret-9b3e"
#: The provider timeout (the deadline of one exchange) and the lease: short, with room for a loaded machine
#: (a normal loopback exchange must finish well within the deadline).
TIMEOUT = 2.0
LEASE = 6.0
#: No retry of a failed refresh within a test (so "each refresh token once" is exact, not a race).
NO_RETRY = "{ min_delay = 600, base = 600, cap = 600 }"


def write_config(tmp: Path, token_url: str, *, timeout: float, lease_ttl: float, drain_timeout: float | None = None,
                 max_idle: float = 0.5) -> Path:
    drain = f"drain_timeout = {drain_timeout}\n" if drain_timeout is not None else ""
    text = f"""
[clients.sandbox]
provider = "generic"
client_id = "custody-client"
client_secret = {{ env = "FT_CUSTODY_SECRET" }}
auth_method = "client_secret_post"
[clients.sandbox.provider_options]
token_url = "{token_url}"
timeout = {timeout}
retry = {NO_RETRY}

[runtime]
database = "state.db"
startup_spread = 0
max_idle = {max_idle}
lease_ttl = {lease_ttl}
{drain}
[kv]
backend = "sqlite"
path = "kv.db"
"""
    path = tmp / "freshtoken.toml"
    path.write_text(text)
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"FT_CUSTODY_SECRET": CLIENT_SECRET, "FRESHTOKEN_ENCRYPTION_KEYS": generate_key("custody")}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("FRESHTOKEN_CONFIG", raising=False)
    return {**{k: v for k, v in os.environ.items() if not k.startswith("FRESHTOKEN_RUNTIME")}, **values}


class Serve:
    """``freshtoken serve`` as a real process; its stderr collected by a thread."""

    def __init__(self, config: Path, env: dict[str, str], *extra: str,
                 on_spawn: Callable[[int], None] | None = None) -> None:
        self.proc = subprocess.Popen(
            [str(BIN), "-c", str(config), "serve", "--port", "0", "--log-level", "info", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        if on_spawn is not None:
            on_spawn(self.proc.pid)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        wait_for(lambda: any("admin API on" in line for line in self.lines) or self.proc.poll() is not None, 30,
                 "serve did not start")
        assert self.proc.poll() is None, self.text

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def stop(self, within: float = 30.0) -> int:
        """SIGTERM; the process must exit within ``within`` seconds (a liveness bound)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"serve did not exit within {within}s of SIGTERM:\n{self.text[-3000:]}") from None
        self._reader.join(timeout=5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    """Real-time liveness bound: poll ``cond`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (within {timeout}s)")
        time.sleep(0.05)


def register(config: Path, accounts: dict[str, str]) -> None:
    async def main() -> None:
        host = build_host(load_settings(config))
        try:
            for key, rt in accounts.items():
                await host.runtime.register(key, client="sandbox", refresh_token=rt)
        finally:
            await host.aclose()

    asyncio.run(main())


class Rows:
    """The accounts as stored, read through a SQLiteStore of their own on the same file (secrets decrypted for
    comparison only, never printed)."""

    def __init__(self, config: Path) -> None:
        self.store = SQLiteStore(config.parent / "state.db", AesGcmCodec.from_env())

    def summaries(self) -> dict[str, dict[str, Any]]:
        return {row["key"]: row for row in self.store.summaries(limit=1000)}

    def refresh_token(self, key: str) -> str | None:
        state = self.store.load_state(key)
        assert state is not None and state.refresh_token is not None
        return state.refresh_token.get_secret_value()


def no_secret_in(text: str, secrets: list[str]) -> None:
    for s in secrets:
        assert s not in text, "a secret appeared in a process log"
    assert "Traceback" not in text, text[-3000:]


# -- slow drip, two processes ---------------------------------------------------------------------------------

def freeze_on_first_request(ep: DripEndpoint, token: str) -> dict[str, Any]:
    """SIGSTOP process A (its pid put in the returned dict under "pid" when it is spawned) the moment its
    request with ``token`` is held at the endpoint (on the endpoint's thread); "at" records when."""
    frozen: dict[str, Any] = {}

    def freeze(exchange: Exchange) -> None:
        if exchange.refresh_token == token and "at" not in frozen:
            os.kill(frozen["pid"], signal.SIGSTOP)
            frozen["at"] = time.monotonic()

    ep.on_stall = freeze
    return frozen

def test_slow_drip_two_serves_send_each_refresh_token_once(tmp_path: Path, env: dict[str, str]) -> None:
    with DripEndpoint(interval=0.25, lifetime=4).running() as ep:
        config = write_config(tmp_path, ep.token_url, timeout=TIMEOUT, lease_ttl=LEASE, drain_timeout=10)
        drip = {f"t1:generic:drip-{i}": ep.mint("drip") for i in range(3)}
        normal = {f"t1:generic:ok-{i}": ep.mint("normal") for i in range(3)}
        register(config, {**drip, **normal})
        rows = Rows(config)
        a = Serve(config, env)
        b = Serve(config, env)
        try:
            def settled() -> bool:
                s = rows.summaries()
                return (all(s[k]["last_error_kind"] == "retryable" for k in drip)
                        and all((s[k]["refresh_count"] or 0) >= 3 for k in normal))

            wait_for(settled, 45, "every dripping exchange ended as retryable and every normal grant refreshed 3x")
        finally:
            rcs = (a.stop(), b.stop())
        summaries = rows.summaries()
        exchanges = ep.snapshot()
    assert rcs == (0, 0), a.text + b.text
    # every refresh token reached the endpoint exactly once; no overlap, no reuse
    assert ep.received and set(ep.received.values()) == {1}, sorted(ep.received.values())
    assert set(drip.values()) <= set(ep.received)
    assert ep.overlaps == 0 and ep.reuse_detected == 0
    dripped = [e for e in exchanges if e.mode == "drip"]
    assert len(dripped) == len(drip) and all(e.ended == "client_closed" for e in dripped)
    for key in drip:
        row = summaries[key]
        assert row["status"] == "retrying" and row["last_error_kind"] == "retryable"
        assert "deadline" in (row["last_error"] or ""), row["last_error"]
    for key, first in normal.items():
        row = summaries[key]
        assert row["status"] == "active" and row["failures"] == 0
        assert rows.refresh_token(key) == ep.family_of(first).current  # the grant is alive
    secrets = [CLIENT_SECRET, *ep.received]
    no_secret_in(a.text + b.text, secrets)
    print(json.dumps({
        "figure": "slow_drip_two_serves",
        "requests": sum(ep.received.values()), "distinct_refresh_tokens": len(ep.received),
        "max_sends_per_token": max(ep.received.values()),
        "drip_exchange_seconds": sorted(round(e.ended_at - e.opened, 2) for e in dripped),
        "drip_bytes_before_client_gave_up": sorted(e.dripped for e in dripped),
    }))


# -- drain limit ------------------------------------------------------------------------------------------------
def test_sigterm_during_a_slow_exchange_drains_at_most_the_drain_limit(tmp_path: Path, env: dict[str, str]) -> None:
    with DripEndpoint(interval=0.25).running() as ep:
        stalled = threading.Event()
        ep.on_stall = lambda exchange: stalled.set()
        config = write_config(tmp_path, ep.token_url, timeout=60.0, lease_ttl=180.0)
        key = "t1:generic:slow"
        register(config, {key: ep.mint("drip")})
        a = Serve(config, env, "--drain-timeout", "1")
        try:
            assert stalled.wait(30), "the refresh never reached the endpoint"
            t0 = time.monotonic()
            rc = a.stop(within=20)  # the provider timeout is 60 s: only the drain limit can end it this soon
            stopped_after = time.monotonic() - t0
        finally:
            a.kill()
        exchanges = ep.snapshot()
    assert rc == 0, a.text
    assert re.search(r"drain limit .*cancel", a.text), a.text[-2000:]
    assert "freshtoken: stopped" in a.text
    assert [e.ended for e in exchanges] == ["client_closed"]
    row = Rows(config).summaries()[key]
    assert row["leased_by"] is None  # the cancelled refresh gave its lease back
    no_secret_in(a.text, [CLIENT_SECRET, *ep.received])
    print(json.dumps({"figure": "drain_limit", "drain_timeout": 1.0, "provider_timeout": 60.0,
                      "sigterm_to_exit_seconds": round(stopped_after, 2)}))


# -- SIGSTOP past the lease ----------------------------------------------------------------------------------------
def test_sigstop_past_the_lease_never_overwrites_newer_state(tmp_path: Path, env: dict[str, str]) -> None:
    lease = LEASE
    with DripEndpoint(interval=0.25).running() as ep:
        config = write_config(tmp_path, ep.token_url, timeout=TIMEOUT, lease_ttl=lease)
        key = "t1:generic:frozen"
        t1 = ep.mint("hold")
        register(config, {key: t1})
        rows = Rows(config)
        frozen = freeze_on_first_request(ep, t1)
        a: Serve | None = None
        b: Serve | None = None
        try:
            a = Serve(config, env, on_spawn=lambda pid: frozen.update(pid=pid))
            wait_for(lambda: "at" in frozen, 30, "A's refresh never reached the endpoint")
            b = Serve(config, env)
            wait_for(lambda: rows.summaries()[key]["generation"] == 1, 90, "B never took the account over")
            b_sent = [e for e in ep.snapshot() if e.refresh_token == t1 and e.mode == "normal"]
            b_token = rows.refresh_token(key)
            ep.release(t1)  # A's held request now gets a (late) success, buffered while A is stopped
            wait_for(lambda: any(e.ended == "late_answer" for e in ep.snapshot()), 10, "late answer not written")
            before_resume = len(ep.snapshot())
            os.kill(a.pid, signal.SIGCONT)
            resumed = time.monotonic()
            wait_for(lambda: "superseded" in a.text or rows.refresh_token(key) != b_token, 30,
                     "A neither stood down nor wrote")
            time.sleep(1.0)  # A's scheduler runs on; anything it would still send arrives now
            after_resume = ep.snapshot()[before_resume:]
        finally:
            rcs = [p.stop() for p in (a, b) if p is not None]
    summaries = rows.summaries()
    row = summaries[key]
    # B's newer state stands: its refresh token, generation 1, no error
    assert rows.refresh_token(key) == b_token == ep.family_of(t1).issued[1]
    assert row["generation"] == 1 and row["status"] == "active" and row["failures"] == 0
    assert rcs == [0, 0]
    # what A sent after SIGCONT: nothing
    assert after_resume == []
    # the remaining window, measured: t1 reached the endpoint twice (A's frozen request, then B's)
    assert ep.received[t1] == 2 and len(b_sent) == 1
    window_opened_after = b_sent[0].opened - frozen["at"]
    assert window_opened_after >= lease * 2 / 3 - 0.5  # B waited for A's lease to run out (renewed every ttl/3)
    no_secret_in(a.text + b.text, [CLIENT_SECRET, *ep.received])  # type: ignore[union-attr]
    print(json.dumps({
        "figure": "sigstop_past_lease", "lease_ttl": lease,
        "freeze_to_second_send_seconds": round(window_opened_after, 2),
        "frozen_seconds": round(resumed - frozen["at"], 2),
        "requests_for_the_frozen_token": ep.received[t1], "requests_by_A_after_sigcont": len(after_resume),
        "late_success_written_to_state": rows.refresh_token(key) != b_token,
    }))


def test_a_freeze_shorter_than_two_thirds_of_the_lease_lets_no_one_in(tmp_path: Path, env: dict[str, str]) -> None:
    """The other side of the window: A frozen for less than two thirds of its lease (its request on the wire).
    B, running beside it, never sends A's refresh token; A resumes, its deadline has passed, and it records a
    retryable failure itself (it still owns the account)."""
    freeze_for = LEASE * 2 / 3 - 1.0
    with DripEndpoint(interval=0.25).running() as ep:
        config = write_config(tmp_path, ep.token_url, timeout=TIMEOUT, lease_ttl=LEASE)
        key = "t1:generic:paused"
        t1 = ep.mint("hold")
        register(config, {key: t1})
        rows = Rows(config)
        frozen = freeze_on_first_request(ep, t1)
        a: Serve | None = None
        b: Serve | None = None
        try:
            a = Serve(config, env, on_spawn=lambda pid: frozen.update(pid=pid))
            wait_for(lambda: "at" in frozen, 30, "A's refresh never reached the endpoint")
            b = Serve(config, env)
            time.sleep(max(0.0, frozen["at"] + freeze_for - time.monotonic()))  # the fault: a freeze this long
            os.kill(a.pid, signal.SIGCONT)
            wait_for(lambda: rows.summaries()[key]["last_error_kind"] == "retryable", 30,
                     "A did not record its expired deadline")
        finally:
            rcs = [p.stop() for p in (a, b) if p is not None]
    row = rows.summaries()[key]
    assert rcs == [0, 0]
    assert ep.received[t1] == 1 and ep.overlaps == 0  # B never sent it
    assert row["status"] == "retrying" and row["generation"] == 0 and "deadline" in (row["last_error"] or "")
    assert rows.refresh_token(key) == t1
    no_secret_in(a.text + b.text, [CLIENT_SECRET, t1])  # type: ignore[union-attr]
    print(json.dumps({"figure": "short_freeze", "lease_ttl": LEASE, "frozen_seconds": round(freeze_for, 2),
                      "requests_for_the_frozen_token": ep.received[t1]}))
