"""A Redis that stops answering (SIGSTOP: the socket stays open, nothing comes back), under the request path's
readers on a real redis-server of their own. Each read fails after the reader's deadline instead of leaving the
gateway's request waiting for good, and reads go on once the server answers again. Before, the Node reader's read
never ended: node-redis's command timeout (5 s by default) stops counting once the command is written, and then it
waits for the reply for ever (@redis/client 6.3.1, commands-queue.js). The Go reader's
own test is readers/go/client_test.go (a server that never answers, and a late reply that must not become the
next key's answer).
"""

from __future__ import annotations

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


def test_node_reader_fails_the_read_after_its_deadline(own_redis: tuple[str, int]):
    node = toolchains.node()
    toolchains.node_redis()
    url, pid = own_redis
    script = NODE_DRIVER % {"reader": (ROOT / "readers" / "node" / "reader.mjs").as_uri()}
    proc = subprocess.Popen([node, "--input-type=module", "-e", script, url], cwd=ROOT / "readers" / "node",
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None

    def ask() -> dict[str, object]:
        proc.stdin.write("read\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line, "the read never ended (the driver was killed by the watchdog)"
        return json.loads(line)  # type: ignore[no-any-return]

    watchdog = threading.Timer(20, proc.kill)  # a read that never ends: the driver is killed, readline gives ""
    watchdog.start()
    try:
        assert json.loads(proc.stdout.readline()) == {"ready": "ok"}
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        line = ask()  # before: no answer, ever (the watchdog ends the driver)
        assert time.monotonic() - started < 5
        answer = line
        assert answer.get("error") == "TimeoutError", answer
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.2)  # the late reply to the timed-out GET arrives and is paired with it
        assert ask().get("reason") == "ok"
    finally:
        watchdog.cancel()
        os.kill(pid, signal.SIGCONT)
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
