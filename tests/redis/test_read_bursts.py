"""A gateway's burst of reads against a real redis-server: more reads at once than the client keeps connections.

redis-py's own default pool (100 connections for asyncio and sync clients, redis-py 8) does not wait for a free
connection: the 101st read in flight fails at once with ``ConnectionError: Too many connections``, so a gateway
under a burst answered errors for tokens that were sitting in Redis. Every Redis client the SDK opens for the
request path (``RedisKV``, the light reader's ``RedisSource`` and ``AsyncRedisSource``) uses a bounded pool that
*waits* for a connection (``max_connections``, ``pool_timeout``), and the server sees no more connections than
that bound.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

import redis
from freshtoken import KVRecord, TokenReader
from freshtoken.kv.redis import RedisKV
from freshtoken_reader import AsyncReader, AsyncRedisSource, Reader, RedisSource

pytestmark = [pytest.mark.redis]

BURST = 400  # reads in flight at once: four times redis-py's default pool


def record() -> str:
    return KVRecord(access_token="at-burst", expires_at=2_000_000_000, generation=1,
                    refreshed_at=1_800_000_000).dumps()


def connections(url: str, name: str) -> int:
    """Connections the server holds for clients named ``name``."""
    admin = redis.Redis.from_url(url)
    try:
        return sum(1 for c in admin.client_list() if c.get("name") == name)
    finally:
        admin.close()


@pytest.fixture
def key(redis_server: str) -> str:
    k = f"burst:{uuid.uuid4().hex}"
    admin = redis.Redis.from_url(redis_server)
    admin.set(k, record(), ex=600)
    admin.close()
    return k


async def test_the_sdk_reader_waits_for_a_connection_in_a_burst(redis_server: str, key: str):
    name = f"burst-{uuid.uuid4().hex[:8]}"
    kv = RedisKV(url=redis_server, cluster=False, client_name=name, max_connections=16)
    try:
        reader = TokenReader(kv)
        seen: list[int] = []

        async def read() -> bool:
            reading = await reader.read(key)
            return reading.ok

        async def watch() -> None:
            for _ in range(20):
                seen.append(await asyncio.to_thread(connections, redis_server, name))
                await asyncio.sleep(0.005)

        results, _ = await asyncio.gather(asyncio.gather(*(read() for _ in range(BURST))), watch())
        assert all(results), f"{results.count(False)} of {BURST} reads not ok"
        assert max(seen) <= 16
    finally:
        await kv.aclose()


async def test_the_default_pool_takes_a_burst_of_four_hundred(redis_server: str, key: str):
    kv = RedisKV(url=redis_server, cluster=False)
    try:
        reader = TokenReader(kv)
        readings = await asyncio.gather(*(reader.read(key) for _ in range(BURST)))
        assert all(r.ok for r in readings)
    finally:
        await kv.aclose()


async def test_the_light_async_reader_waits_for_a_connection_in_a_burst(redis_server: str, key: str):
    source = AsyncRedisSource(redis_server)
    try:
        reader = AsyncReader(source)
        readings = await asyncio.gather(*(reader.read(key) for _ in range(BURST)))
        assert all(r.ok for r in readings)
        pool = source.client.connection_pool
        assert pool.max_connections <= 64
    finally:
        await source.client.aclose()


def test_the_light_sync_reader_waits_for_a_connection_in_a_burst_of_threads(redis_server: str, key: str):
    source = RedisSource(redis_server, max_connections=8)
    reader = Reader(source)
    start = threading.Barrier(64)
    failures: list[BaseException] = []
    not_ok = 0

    def run() -> None:
        nonlocal not_ok
        start.wait()
        for _ in range(50):
            try:
                if not reader.read(key).ok:
                    not_ok += 1
            except BaseException as exc:
                failures.append(exc)
                return

    threads = [threading.Thread(target=run) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    source.client.close()
    assert not failures, f"{len(failures)} threads failed, e.g. {failures[0]!r}"
    assert not_ok == 0


def test_a_pool_that_stays_busy_fails_after_pool_timeout_naming_the_wait(redis_server: str, key: str):
    source = RedisSource(redis_server, max_connections=1, pool_timeout=0.2)
    held = source.client.connection_pool.get_connection()  # the only connection, taken
    try:
        with pytest.raises(redis.ConnectionError):
            Reader(source).read(key)
    finally:
        source.client.connection_pool.release(held)
        source.client.close()
