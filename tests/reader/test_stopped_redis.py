"""A Redis that stops answering (SIGSTOP: the socket stays open, nothing comes back), under the request path's
readers on a real redis-server of their own. Each read fails after the reader's deadline instead of leaving the
gateway's request waiting for good, and reads go on once the server answers again. Before, the Node reader's read
never ended: node-redis's command timeout (5 s by default) stops counting once the command is written, and then it
waits for the reply for ever (@redis/client 6.3.1, commands-queue.js). The Go reader's
own test is readers/go/client_test.go (a server that never answers, and a late reply that must not become the
next key's answer).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import redis
from freshtoken import KVRecord
from freshtoken_reader import Reader, RedisSource
from tests.fixtures_servers.servers import run_redis_server

from . import toolchains

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.redis]


@pytest.fixture
def own_redis() -> Iterator[tuple[str, int]]:
    """A redis-server for this test alone (it is stopped), with one token under ``k``; yields (url, pid)."""
    with run_redis_server() as url:
        client = redis.Redis.from_url(url)
        now = int(time.time())
        client.set("k", KVRecord(access_token="at-1", expires_at=now + 3600, generation=1, refreshed_at=now).dumps())
        pid = int(client.info("server")["process_id"])
        client.close()
        try:
            yield url, pid
        finally:
            os.kill(pid, signal.SIGCONT)  # whatever happened, the fixture can stop it


def test_python_light_reader_fails_the_read_after_its_deadline(own_redis: tuple[str, int]):
    url, pid = own_redis
    reader = Reader(RedisSource(url, socket_timeout=0.3))
    assert reader.read("k").ok
    os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(redis.RedisError):
        reader.read("k")
    assert time.monotonic() - started < 5
    os.kill(pid, signal.SIGCONT)
    assert reader.read("k").ok


NODE_DRIVER = """
import { openReader } from "%(reader)s";
import readline from "node:readline";
const reader = await openReader(process.argv[1], { timeoutMs: 300 });
const lines = readline.createInterface({ input: process.stdin });
const say = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
say({ ready: (await reader.read("k")).reason });
for await (const _ of lines) {
  const t0 = Date.now();
  try { say({ reason: (await reader.read("k")).reason, ms: Date.now() - t0 }); }
  catch (e) { say({ error: e.name, ms: Date.now() - t0 }); }
}
await reader.close();
"""


@contextlib.contextmanager
def node_driver(script: str, url: str, pid: int, *, watchdog: float) -> Iterator[subprocess.Popen[str]]:
    """``script`` (with ``%(reader)s``: readers/node/reader.mjs) run by Node against ``url``, once it said it is
    ready. A driver still running after ``watchdog`` seconds is killed (its stdout then ends); at the end the
    redis-server (``pid``) is continued, whatever happened, and the driver stopped."""
    node = toolchains.node()
    toolchains.node_redis()
    source = script % {"reader": (ROOT / "readers" / "node" / "reader.mjs").as_uri()}
    proc = subprocess.Popen([node, "--input-type=module", "-e", source, url], cwd=ROOT / "readers" / "node",
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    timer = threading.Timer(watchdog, proc.kill)
    timer.start()
    try:
        assert json.loads(proc.stdout.readline()) == {"ready": "ok"}
        yield proc
    finally:
        timer.cancel()
        os.kill(pid, signal.SIGCONT)
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_node_reader_fails_the_read_after_its_deadline(own_redis: tuple[str, int]):
    url, pid = own_redis
    # a read that never ends: the driver is killed after 20 s, readline gives ""
    with node_driver(NODE_DRIVER, url, pid, watchdog=20) as proc:

        def ask() -> dict[str, object]:
            proc.stdin.write("read\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, "the read never ended (the driver was killed by the watchdog)"
            return json.loads(line)  # type: ignore[no-any-return]

        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        answer = ask()  # before: no answer, ever (the watchdog ends the driver)
        assert time.monotonic() - started < 5
        assert answer.get("error") == "TimeoutError", answer
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.2)  # the late reply to the timed-out GET arrives and is paired with it
        assert ask().get("reason") == "ok"


NODE_BURST = """
import { openReader } from "%(reader)s";
const reader = await openReader(process.argv[1], { timeoutMs: 1500, maxWaiting: 50 });
const say = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
const burst = async (n) => {
  const t0 = Date.now();
  const settled = await Promise.all(Array.from({ length: n }, () => reader.read("k").then(
    (r) => ({ reason: r.reason, ms: Date.now() - t0 }), (e) => ({ error: e.name, ms: Date.now() - t0 }))));
  return settled;
};
say({ ready: (await reader.read("k")).reason });
process.stdin.once("data", async () => {
  say({ stalled: await burst(200) });
  process.stdin.once("data", async () => {
    say({ after: [...await burst(50), ...await burst(50)] });
    await reader.close();
  });
});
"""


def test_node_reader_bounds_the_reads_waiting_on_a_stalled_redis(own_redis: tuple[str, int]):
    """A stalled Redis (SIGSTOP) keeps every GET the Node reader sent in node-redis's queue until it answers or the
    socket closes; each read fails at its deadline, but its command stays queued. Under a long stall with heavy
    traffic that queue grew without bound (the last stop's "noticed, left alone"). With ``maxWaiting`` reads
    already waiting, a new read now fails at once (``QueueFullError``, nothing sent) instead of joining them; once
    the server answers, the waiting reads drain and reads go on. (The limit counts every read in flight, so it
    is set far above what a gateway keeps in flight against a live Redis: 10,000 by default.)"""
    url, pid = own_redis
    with node_driver(NODE_BURST, url, pid, watchdog=40) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        os.kill(pid, signal.SIGSTOP)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        stalled = json.loads(proc.stdout.readline())["stalled"]
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.3)  # the 50 late replies arrive and pair with their timed-out GETs
        proc.stdin.write("go\n")
        proc.stdin.flush()
        after = json.loads(proc.stdout.readline())["after"]
    kinds = [s.get("error", s.get("reason")) for s in stalled]
    assert kinds.count("TimeoutError") == 50 and kinds.count("QueueFullError") == 150, kinds
    assert all(s["ms"] < 1000 for s in stalled if s.get("error") == "QueueFullError")  # at once, not at the deadline
    assert all(s["ms"] >= 1400 for s in stalled if s.get("error") == "TimeoutError")
    # the count went back to 0: two bursts of 50 (the limit) are served whole
    assert [s.get("reason") for s in after] == ["ok"] * 100
