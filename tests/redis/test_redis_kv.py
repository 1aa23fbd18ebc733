"""The Redis KV against a real redis-server and a real 3-master Redis Cluster (both started by fixtures)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from typing import Any

import pytest

from freshtoken import (
    KVReader,
    KVRecord,
    KVWriter,
    MemoryStorage,
    OAuthClient,
    Refresher,
    TokenHTTP,
    TokenReader,
    TokenUnavailable,
)
from freshtoken.errors import ConfigError
from freshtoken.kv.redis import RedisKV, RedisKVError, ttl_ms
from freshtoken.providers.generic import GenericProvider
from freshtoken.record import EXPIRED_LINGER
from freshtoken.sandbox.server import SandboxServer
from tests.fixtures_servers.servers import Node

pytestmark = [pytest.mark.redis]


def record(gen: int, token: str = "at", expires_at: int | None = 2_000_000_000) -> str:
    return KVRecord(access_token=f"{token}-{gen}", expires_at=expires_at, generation=gen,
                    refreshed_at=1_800_000_000).dumps()


@pytest.fixture
async def kv(redis_server: str):
    store = RedisKV(url=redis_server)
    yield store
    await store.aclose()


@pytest.fixture
async def ckv(redis_cluster: list[Node]):
    store = RedisKV(startup_nodes=redis_cluster)
    yield store
    await store.aclose()


def key() -> str:
    return f"t{uuid.uuid4().hex[:6]}:generic:user-{uuid.uuid4().hex}"


# -- single server -------------------------------------------------------------------------------------------
async def test_implements_the_kv_protocols(kv: RedisKV):
    assert isinstance(kv, KVWriter) and isinstance(kv, KVReader)


async def test_put_get_with_ttl_expires(kv: RedisKV):
    k = key()
    await kv.put(k, record(1), ttl=0.3)
    assert await kv.get(k) == record(1)
    assert 0 < await kv.ttl(k) <= 0.3
    await asyncio.sleep(0.45)
    assert await kv.get(k) is None


async def test_ttl_none_never_expires_and_nonpositive_ttl_deletes(kv: RedisKV):
    k = key()
    await kv.put(k, record(1, expires_at=None), ttl=None)
    assert await kv.ttl(k) is None and await kv.get(k) is not None
    await kv.put(k, record(2), ttl=0)
    assert await kv.get(k) is None
    assert ttl_ms(59.0001) == 59001 and ttl_ms(0.0001) == 1 and ttl_ms(None) is None


async def test_writes_never_go_back_a_generation(kv: RedisKV):
    k = key()
    await kv.put(k, record(5), ttl=60)
    await kv.put(k, record(4, token="zombie"), ttl=60)  # a late write from a superseded refresh
    assert KVRecord.loads(await kv.get(k)).generation == 5
    assert kv.stale_writes_refused == 1
    await kv.put(k, record(5), ttl=120)  # the same generation again (an idempotent re-run) renews the TTL
    assert 60 < await kv.ttl(k) <= 120
    await kv.put(k, record(6), ttl=60)
    assert KVRecord.loads(await kv.get(k)).generation == 6
    await kv.delete(k)
    await kv.put(k, record(1), ttl=60)  # after a delete (account removed, re-registered) anything goes
    assert KVRecord.loads(await kv.get(k)).generation == 1


async def test_non_record_values_are_written_unguarded(kv: RedisKV):
    k = key()
    await kv.put(k, '{"generation": 9}', ttl=60)
    await kv.put(k, "plain", ttl=60)
    assert await kv.get(k) == "plain"
    unguarded = RedisKV(url=kv._url, monotonic=False)
    try:
        await unguarded.put(k, record(3), ttl=60)
        await unguarded.put(k, record(2), ttl=60)
        assert KVRecord.loads(await unguarded.get(k)).generation == 2
    finally:
        await unguarded.aclose()


async def test_get_many_and_delete(kv: RedisKV):
    keys = [key() for _ in range(5)]
    for i, k in enumerate(keys):
        await kv.put(k, record(i + 1), ttl=60)
    await kv.delete(keys[0])
    got = await kv.get_many(keys)
    assert got[keys[0]] is None and all(got[k] == record(i + 1) for i, k in enumerate(keys) if i)


NOT_TEXT = b'{"v":1,"access_token":"at-\xff\xfe"}'  # written by something else: not UTF-8


async def _not_text_beside_a_record(store: RedisKV, raw: Any) -> tuple[str, str]:
    bad, good = key(), key()
    await raw.set(bad, NOT_TEXT, ex=60)
    await store.put(good, record(1), ttl=60)
    return bad, good


@pytest.mark.parametrize("where", ["server", "cluster"])
async def test_a_value_that_is_not_text_is_refused_as_that_key_alone(where: str, request: pytest.FixtureRequest):
    """A value that is not UTF-8 under one key (written by another program) is that key's ``unsupported_version``
    (as the light reader says, tests/reader), not a failing KV: before, redis-py's decoding raised inside ``GET``
    (``RedisKVError``, read by a gateway as Redis being down) and inside ``MGET``, failing every other key read
    with it."""
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    if where == "server":
        store = RedisKV(url=request.getfixturevalue("redis_server"), cluster=False)
        raw: Any = aioredis.from_url(request.getfixturevalue("redis_server"))
    else:
        nodes = request.getfixturevalue("redis_cluster")
        store = RedisKV(startup_nodes=nodes)
        raw = RedisCluster(startup_nodes=[ClusterNode(h, int(p)) for h, p in nodes])
    try:
        bad, good = await _not_text_beside_a_record(store, raw)
        reader = TokenReader(store)
        reading = await reader.read(bad)
        assert reading.reason.value == "unsupported_version" and "UTF-8" in reading.detail
        assert (await reader.read(good)).ok
        got = await store.get_many([bad, good])
        assert got[good] == record(1)
        assert reader.judge(bad, got[bad]).reason.value == "unsupported_version"
        await store.put(bad, record(2), ttl=60)  # the next write replaces it
        assert (await reader.read(bad)).ok
    finally:
        await store.aclose()
        await raw.aclose()


async def test_errors_name_the_operation_never_the_url():
    store = RedisKV(url="redis://:hunter2-secret@127.0.0.1:1/0", socket_timeout=0.5)
    with pytest.raises(RedisKVError) as err:
        await store.get("a:b:c")
    assert "hunter2" not in str(err.value) and "hunter2" not in repr(store)
    with pytest.raises(ConfigError):
        RedisKV(url="http://example.com")
    with pytest.raises(ConfigError):
        RedisKV()


async def test_refresher_writes_to_redis_and_a_gateway_reads_it(kv: RedisKV):
    with SandboxServer(lifetime=3600).run_in_thread() as sandbox:
        http = TokenHTTP()
        try:
            k = key()
            client = OAuthClient(name="sandbox", provider="generic", client_id="sandbox-client",
                                 client_secret="sandbox-secret")
            refresher = Refresher(k, storage=MemoryStorage(), kv=kv, http=http, client=client,
                                  provider=GenericProvider(token_url=sandbox.token_url, timeout=5.0))
            await refresher.register(refresh_token=sandbox.mint()["refresh_token"])
            out = await refresher.alarm()
            assert out.kind == "refreshed"
            rec = await TokenReader(kv).get(k)
            assert rec.generation == 1 and rec.access_token.startswith("at-")
            # TTL = time to expiry + EXPIRED_LINGER: past expiry a reader finds the record and says 'expired'
            assert 3540 + EXPIRED_LINGER <= await kv.ttl(k) <= 3600 + EXPIRED_LINGER
            assert await refresher.remove(revoke=False)
            with pytest.raises(TokenUnavailable):
                await TokenReader(kv).get(k)
        finally:
            await http.aclose()


def test_import_freshtoken_does_not_import_redis():
    code = ("import sys, freshtoken, freshtoken.kv.redis; "
            "from freshtoken.kv.redis import RedisKV; RedisKV(url='redis://127.0.0.1:1'); "
            "assert 'redis' not in sys.modules, 'redis imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_config_backend_redis_builds_this_kv(redis_server: str, tmp_path):
    from freshtoken.host.config import settings_from_dict
    from freshtoken.host.factory import build_kv

    settings = settings_from_dict({"kv": {"backend": "redis", "url": redis_server}}, base_dir=tmp_path)
    store = build_kv(settings)
    try:
        assert isinstance(store, RedisKV)
        k = key()
        await store.put(k, record(1), ttl=60)
        assert await store.get(k) == record(1)
    finally:
        await store.aclose()


# -- cluster -------------------------------------------------------------------------------------------------
async def test_cluster_put_get_delete_across_all_masters(ckv: RedisKV):
    keys = [key() for _ in range(90)]
    for i, k in enumerate(keys):
        await ckv.put(k, record(i + 1), ttl=60)
    rc = await ckv._redis()
    assert len({rc.get_node_from_key(k).name for k in keys}) == 3
    assert [await ckv.get(k) for k in keys] == [record(i + 1) for i in range(90)]
    got = await ckv.get_many(keys)  # MGET across slots
    assert list(got.values()) == [record(i + 1) for i in range(90)]
    for k in keys[:30]:
        await ckv.delete(k)
    assert sum(v is None for v in (await ckv.get_many(keys)).values()) == 30


async def test_cluster_generation_guard_and_ttl(ckv: RedisKV):
    k = key()
    await ckv.put(k, record(3), ttl=0.3)
    await ckv.put(k, record(2), ttl=60)
    assert KVRecord.loads(await ckv.get(k)).generation == 3
    await asyncio.sleep(0.45)
    assert await ckv.get(k) is None


async def test_cluster_keys_with_hash_tags_in_the_account_id(ckv: RedisKV):
    # An account id may contain braces; the key is used as is (the tag only picks the slot).
    keys = [f"acme:generic:{{team-{i % 2}}}:user-{i}" for i in range(6)]
    for i, k in enumerate(keys):
        await ckv.put(k, record(i + 1), ttl=60)
    rc = await ckv._redis()
    assert len({rc.keyslot(k) for k in keys}) == 2
    assert [await ckv.get(k) for k in keys] == [record(i + 1) for i in range(6)]


@pytest.mark.parametrize("form", ["auto", "query", "scheme"])
async def test_cluster_from_a_url(redis_cluster: list[Node], form: str):
    node = redis_cluster[1]
    url = {"auto": node.url, "query": f"{node.url}?cluster=true", "scheme": f"redis+cluster://{node.host}:{node.port}"}[form]
    store = RedisKV(url=url)
    try:
        keys = [key() for _ in range(20)]
        for k in keys:
            await store.put(k, record(1), ttl=60)
        assert store.is_cluster is True
        assert [await store.get(k) for k in keys] == [record(1)] * 20
    finally:
        await store.aclose()


async def test_single_server_is_detected_as_not_a_cluster(redis_server: str):
    store = RedisKV(url=redis_server)
    try:
        await store.get("x:y:z")
        assert store.is_cluster is False
    finally:
        await store.aclose()
