"""A provider answer is never dropped: the save of a refresh's result fails after the provider answered.

The embedded runtime runs for real (SQLite files, the scheduler's ``run_due``, the rotating loopback sandbox
with reuse detection and *no* grace window, so a lost answer is a dead grant). The sandbox holds its answers
(after committing the rotation) until the test has broken the state database, so every answer arrives while
saves fail:

* disk full: the database lives on a small tmpfs that the test fills (needs root to mount; skipped otherwise),
  then frees;
* "database is locked": a second connection holds a write transaction (real SQLite locking) past the busy
  timeout, then lets go;
* restart: saves failing, the refreshes are cancelled and the process goes away before the database heals;
  the next start imports the encrypted recovery file first;
* kill -9 while the save is being retried, in a real subprocess host.

Every answered refresh token must end up persisted, the sandbox must see 0 reuses, no account may be lost or
need re-authorisation, and no token may appear in plain text in the recovery file or the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from freshtoken import ManualClock, TokenReader, hookimpl
from freshtoken.embedded import AesGcmCodec, SQLiteStore, generate_key
from freshtoken.observability.alerts import LoggingAlerter
from freshtoken.sandbox.server import SandboxAuthServer, SandboxServer, SandboxStats
from tests.embedded.conftest import Host, sandbox_client, until
from tests.fixtures_servers.small_volume import small_volume

HOUR = 3600.0
HOST = Path(__file__).with_name("failed_save_host.py")


class GatedSandbox(SandboxAuthServer):
    """The rotating sandbox that can hold its answers, after the rotation is committed, until the gate opens.
    It remembers every token it issued (the canaries the leak checks look for)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.gate = threading.Event()
        self.gate.set()
        self.held = 0
        self.issued: list[str] = []
        self._held_lock = threading.Lock()

    def mint(self, client_id: str = "sandbox-client") -> dict[str, Any]:
        body = super().mint(client_id)
        self.issued += [body["access_token"], body["refresh_token"]]
        return body

    async def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        status, payload, extra = await super().handle(method, path, headers, body)
        if path == "/token" and status == 200 and isinstance(payload, dict):
            self.issued += [str(payload.get("access_token")), str(payload.get("refresh_token"))]
            if not self.gate.is_set():
                with self._held_lock:
                    self.held += 1
                while not self.gate.is_set():  # noqa: ASYNC110 - the gate is a threading.Event, set by the test
                    await asyncio.sleep(0.005)
        return status, payload, extra


@pytest.fixture
def key_spec() -> str:
    return generate_key("k1")


@pytest.fixture
def codec(key_spec: str) -> AesGcmCodec:
    return AesGcmCodec.from_spec(key_spec)


@pytest.fixture(scope="module")
def gated_server() -> Iterator[SandboxServer]:
    with SandboxServer(GatedSandbox(lifetime=3600, grace=0.0)).run_in_thread() as server:
        yield server


@pytest.fixture
def gated(gated_server: SandboxServer) -> Iterator[SandboxServer]:
    app = gated_server.app
    assert isinstance(app, GatedSandbox)
    app.stats, app.held, app.rotate, app.grace = SandboxStats(), 0, True, 0.0
    app.gate.set()
    yield gated_server
    app.gate.set()


class Alerts:
    """Collects the events the tests look at."""

    def __init__(self) -> None:
        self.not_durable: list[Any] = []
        self.reauth: list[Any] = []

    @hookimpl
    def freshtoken_rotated_token_not_durable(self, event: Any) -> None:
        self.not_durable.append(event)

    @hookimpl
    def freshtoken_reauth_required(self, event: Any) -> None:
        self.reauth.append(event)


def make_host(directory: Path, codec: AesGcmCodec, server: SandboxServer, alerts: Alerts, **kw: Any) -> Host:
    clients = {"sandbox": sandbox_client(server, timeout=30.0)}
    return Host(directory, codec, server, clients=clients, extra_plugins=(alerts, LoggingAlerter()), **kw)


async def register(h: Host, n: int) -> dict[str, str]:
    """``n`` accounts, each a fresh grant at the sandbox; returns key -> the grant's family id."""
    app = h.sandbox.app
    families = {}
    for i in range(n):
        grant = h.sandbox.mint()
        key = f"t1:sandbox:user-{i}"
        await h.rt.register(key, client="sandbox", refresh_token=grant["refresh_token"])
        families[key] = app._by_token[grant["refresh_token"]]
    return families


def assert_all_persisted(store: SQLiteStore, app: SandboxAuthServer, families: dict[str, str],
                         generation: int) -> None:
    """Every account holds its grant's current refresh token (the provider's last answer) and is active."""
    for key, fid in families.items():
        fam = app.families[fid]
        st = store.load_state(key)
        assert st is not None and st.refresh_token is not None, key
        assert not fam.revoked, f"{key}: grant revoked"
        assert st.refresh_token.get_secret_value() == fam.current, f"{key}: the provider's answer was dropped"
        assert st.status.value == "active" and st.generation == generation, (key, st.status, st.generation)


async def answers_arrive_while(h: Host, break_db: Any, n: int, alerts: Alerts) -> asyncio.Task[int]:
    """Fire every due alarm; hold the provider's answers until ``break_db()`` ran; let them arrive."""
    app = h.sandbox.app
    assert isinstance(app, GatedSandbox)
    app.gate.clear()
    task = asyncio.create_task(h.rt.run_due())
    await until(lambda: app.held == n, timeout=30)
    break_db()
    app.gate.set()
    # each answer's first save fails (fixed: an alert each, the retries hold the task; unfixed: the alarms fail)
    await until(lambda: len({e.key for e in alerts.not_durable}) == n or task.done(), timeout=60)
    return task


async def run_until_done(h: Host, task: asyncio.Task[int]) -> None:
    """Let virtual time pass (the save retries sleep on the clock) until the alarms finish."""
    deadline = time.monotonic() + 60
    while not task.done():
        assert time.monotonic() < deadline, "the save retries never finished"
        h.clock.advance(5.0)
        await asyncio.sleep(0.01)
    await task


async def second_round(h: Host, families: dict[str, str], alerts: Alerts) -> None:
    """Every account refreshes again with the token that was kept: 0 reuses, nobody needs re-authorisation."""
    h.clock.advance(HOUR)
    await h.rt.run_due()
    assert h.sandbox.app.stats.reuse_detected == 0
    assert alerts.reauth == []
    assert_all_persisted(h.store, h.sandbox.app, families, generation=2)


def assert_no_plaintext(blob: bytes | str, app: GatedSandbox, where: str) -> None:
    data = blob.encode() if isinstance(blob, str) else blob
    leaked = [t for t in app.issued if t and t.encode() in data]
    assert not leaked, f"{len(leaked)} token(s) in plain text in {where}"


def recovery_bytes(db: Path) -> bytes:
    path = Path(f"{db}.recovery")
    return path.read_bytes() if path.exists() else b""


# -- disk full ---------------------------------------------------------------------------------------------------


def fill(volume: Path) -> Path:
    """Fill the file system to the last byte; returns the filler file (delete it to give the space back)."""
    filler = volume / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
            block = b"\0" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc
                    break
    finally:
        os.close(fd)
    assert os.statvfs(volume).f_bavail == 0
    return filler


async def test_disk_full_while_answers_arrive_every_answer_is_persisted_when_space_returns(
    tmp_path: Path, codec: AesGcmCodec, gated: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    n = 24
    with small_volume(tmp_path / "vol") as vol:
        alerts = Alerts()
        # A full disk fails a save only when the log must grow: once a checkpoint has copied the log back, the
        # next write starts it over in blocks the file already owns, and succeeds. Without background
        # checkpoints, 24 registrations (~250 pages) leave the log at its longest, so every save below needs new
        # blocks, whatever the timing (the background thread would checkpoint at any moment).
        h = make_host(vol, codec, gated, alerts, background_checkpoints=False)
        try:
            families = await register(h, n)
            filler: list[Path] = []
            task = await answers_arrive_while(h, lambda: filler.append(fill(vol)), n, alerts)
            # the volume stays full while (virtual) minutes pass: the answers wait, nothing else touches them
            for _ in range(5):
                h.clock.advance(60.0)
                await asyncio.sleep(0.02)
            held_while_full = not task.done()
            kv_while_full = [await h.kv.get(k) for k in families]
            rescued = recovery_bytes(vol / "state.db")
            filler[0].unlink()  # space returns
            await run_until_done(h, task)
            assert_all_persisted(h.store, gated.app, families, generation=1)
            assert gated.app.stats.reuse_detected == 0
            assert held_while_full and kv_while_full == [None] * n  # no KV write before the state was durable
            assert len({e.key for e in alerts.not_durable}) == n
            assert all(e.rescued for e in alerts.not_durable)  # the pre-allocated recovery file took them
            assert "rotated token not yet durable" in caplog.text
            assert_no_plaintext(rescued, gated.app, "the recovery file")
            assert_no_plaintext(caplog.text, gated.app, "the logs")
            await second_round(h, families, alerts)
            assert_no_plaintext(recovery_bytes(vol / "state.db"), gated.app, "the recovery file")
        finally:
            await h.close()


async def test_disk_full_with_background_checkpoints_each_answer_is_saved_or_rescued(
    tmp_path: Path, codec: AesGcmCodec, gated: SandboxServer
) -> None:
    """The default set-up on the same full disk: the background checkpointer has copied the log back at some
    moment, so some saves land in blocks the log already owns and succeed, the rest need new blocks and fail.
    Whichever it is for each account, nothing is lost: every answer is either in the database or rescued (an
    alert that says so), no KV record is written ahead of its state, and everything is persisted once space
    returns."""
    n = 24
    with small_volume(tmp_path / "vol") as vol:
        alerts = Alerts()
        h = make_host(vol, codec, gated, alerts)
        try:
            families = await register(h, n)
            app = gated.app
            assert isinstance(app, GatedSandbox)
            app.gate.clear()
            task = asyncio.create_task(h.rt.run_due())
            await until(lambda: app.held == n, timeout=30)
            filler = fill(vol)
            app.gate.set()

            def settled() -> bool:  # each answer saved (generation 1) or its save failed and was rescued
                alerted = {e.key for e in alerts.not_durable}
                saved = {k for k in families if (st := h.store.load_state(k)) is not None and st.generation == 1}
                return task.done() or len(alerted | saved) == n

            await until(settled, timeout=60)
            for key in families:  # no KV record ahead of its state
                record = await h.kv.get(key)
                st = h.store.load_state(key)
                assert record is None or (st is not None and st.generation == 1), key
            assert all(e.rescued for e in alerts.not_durable)
            filler.unlink()  # space returns
            await run_until_done(h, task)
            assert_all_persisted(h.store, gated.app, families, generation=1)
            assert gated.app.stats.reuse_detected == 0
            await second_round(h, families, alerts)
        finally:
            await h.close()


# -- "database is locked" ------------------------------------------------------------------------------------------
class WriteLock:
    """A second connection that holds a write transaction on the database (real SQLite locking)."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(str(db), isolation_level=None, timeout=10.0)
        self.held = False

    def take(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        if self.held:
            self.conn.execute("ROLLBACK")
            self.held = False

    def close(self) -> None:
        self.release()
        self.conn.close()


async def test_database_locked_while_answers_arrive_every_answer_is_persisted_after_the_lock(
    tmp_path: Path, codec: AesGcmCodec, gated: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    n = 8
    alerts = Alerts()
    h = make_host(tmp_path, codec, gated, alerts)
    lock = WriteLock(tmp_path / "state.db")
    try:
        families = await register(h, n)
        h.store._db().execute("PRAGMA busy_timeout=50")  # "database is locked" after 50 ms, not 5 s
        task = await answers_arrive_while(h, lock.take, n, alerts)
        for _ in range(3):
            h.clock.advance(60.0)
            await asyncio.sleep(0.02)
        held_while_locked = not task.done()
        lock.release()
        await run_until_done(h, task)
        assert_all_persisted(h.store, gated.app, families, generation=1)
        assert gated.app.stats.reuse_detected == 0
        assert held_while_locked
        assert len({e.key for e in alerts.not_durable}) == n
        assert all("locked" in e.error for e in alerts.not_durable)
        assert_no_plaintext(caplog.text, gated.app, "the logs")
        await second_round(h, families, alerts)
    finally:
        lock.close()
        await h.close()


# -- restart ---------------------------------------------------------------------------------------------------------
async def test_stopped_before_the_database_heals_the_next_start_imports_the_recovery_file(
    tmp_path: Path, codec: AesGcmCodec, gated: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    n = 6
    alerts = Alerts()
    first = make_host(tmp_path, codec, gated, alerts)
    lock = WriteLock(tmp_path / "state.db")
    try:
        families = await register(first, n)
        first.store._db().execute("PRAGMA busy_timeout=50")
        task = await answers_arrive_while(first, lock.take, n, alerts)
        # the process must stop before the database heals: its refreshes are cancelled
        first.rt.cancel_in_flight()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await first.close()
        rescued = recovery_bytes(tmp_path / "state.db")
    finally:
        lock.close()
    assert_no_plaintext(rescued, gated.app, "the recovery file")

    second = make_host(tmp_path, codec, gated, alerts, clock=first.clock)  # opening the store imports first
    try:
        assert_all_persisted(second.store, gated.app, families, generation=1)
        assert recovery_bytes(tmp_path / "state.db").count(b"FTR1") == 0  # imported, then cleared
        # the imported accounts' alarms are due: the next one rewrites KV from the imported state
        second.clock.advance(200.0)  # past the dead process's leases (same pid here: not reaped)
        refreshes = gated.app.stats.refreshes
        await second.rt.run_due()
        assert gated.app.stats.refreshes == refreshes  # not due: KV rewritten from state, no provider call
        reader = TokenReader(second.kv, clock=second.clock)
        assert [(await reader.get(k)).generation for k in families] == [1] * n
        await second_round(second, families, alerts)
        assert_no_plaintext(caplog.text, gated.app, "the logs")
    finally:
        await second.close()


# -- kill -9 ----------------------------------------------------------------------------------------------------------
class LineReader:
    """Collects a subprocess's stderr lines on a thread."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


def _start_host(directory: Path, server: SandboxServer, key_spec: str) -> subprocess.Popen[str]:
    env = {**os.environ, "FRESHTOKEN_ENCRYPTION_KEYS": key_spec}
    return subprocess.Popen([sys.executable, str(HOST), str(directory), server.token_url], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_kill_9_while_a_save_is_retried_the_recovery_file_brings_the_token_back(
    tmp_path: Path, key_spec: str, codec: AesGcmCodec, gated: SandboxServer
) -> None:
    from freshtoken import SystemClock

    n = 4
    alerts = Alerts()
    setup = make_host(tmp_path, codec, gated, alerts, clock=SystemClock())
    families = await register(setup, n)  # due now (real time)
    await setup.close()

    app = gated.app
    assert isinstance(app, GatedSandbox)
    app.gate.clear()
    proc = _start_host(tmp_path, gated, key_spec)
    lock = WriteLock(tmp_path / "state.db")
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        err = LineReader(proc.stderr)
        await until(lambda: app.held == n, timeout=30)
        lock.take()
        app.gate.set()

        def saw_all() -> bool:
            text = err.text()
            rescued = {k for k in families if f"ALERT {k}: rotated token not yet durable" in text}
            return len(rescued) == n or text.count("alarm failed") >= n

        await until(saw_all, timeout=60)
        await asyncio.sleep(0.3)  # a retry or two
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        lock.close()
    assert_no_plaintext(err.text(), app, "the host's log")
    assert_no_plaintext(recovery_bytes(tmp_path / "state.db"), app, "the recovery file")

    after = make_host(tmp_path, codec, gated, alerts, clock=ManualClock(time.time()))
    try:
        assert_all_persisted(after.store, app, families, generation=1)
        after.clock.advance(200.0)
        await after.rt.run_due()  # the imported alarms: KV from state
        await second_round(after, families, alerts)
        assert app.stats.reuse_detected == 0
    finally:
        await after.close()
