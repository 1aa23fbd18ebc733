"""Each server fixture starts a real server that does what the other tests rely on."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest

from .servers import Node, TemporalDevServer

pytestmark = pytest.mark.asyncio


# -- Redis ---------------------------------------------------------------------------------------------------
@pytest.mark.redis
async def test_redis_server_set_get_with_ttl(redis_server: str) -> None:
    import redis.asyncio as aioredis

    r = aioredis.from_url(redis_server, decode_responses=True)
    try:
        key = f"smoke:{uuid.uuid4().hex}"
        await r.set(key, "v", px=300)
        assert await r.get(key) == "v"
        assert 0 < await r.pttl(key) <= 300
        await asyncio.sleep(0.45)
        assert await r.get(key) is None
        # no persistence configured
        assert (await r.config_get("save"))["save"] == ""
        assert (await r.config_get("appendonly"))["appendonly"] == "no"
    finally:
        await r.aclose()


@pytest.mark.redis
async def test_redis_cluster_sets_keys_across_slots(redis_cluster: list[Node]) -> None:
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    rc = RedisCluster(startup_nodes=[ClusterNode(*n) for n in redis_cluster], decode_responses=True)
    try:
        info = await rc.cluster_info(target_nodes=RedisCluster.RANDOM)
        assert info["cluster_state"] == "ok"
        assert len(rc.get_primaries()) == 3
        keys = [f"smoke:{i}:{uuid.uuid4().hex}" for i in range(60)]
        for k in keys:
            await rc.set(k, k, ex=60)
        owners = {rc.get_node_from_key(k).name for k in keys}
        assert len(owners) == 3, "60 random keys should land on all three masters"
        assert [await rc.get(k) for k in keys] == keys
    finally:
        await rc.aclose()


# -- Temporal ------------------------------------------------------------------------------------------------
# Workflow definitions live at module level; the sandbox re-imports this module, which is fine (no side effects).
from temporalio import activity, workflow  # noqa: E402


@workflow.defn(name="FreshtokenSmokeTimer")
class HourTimer:
    @workflow.run
    async def run(self, hours: float) -> str:
        start = workflow.now()
        await workflow.sleep(timedelta(hours=hours))
        return f"{(workflow.now() - start).total_seconds():.0f}"


@activity.defn(name="freshtoken_smoke_echo")
async def echo(text: str) -> str:
    return text.upper()


@workflow.defn(name="FreshtokenSmokeEcho")
class Echo:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(echo, text, start_to_close_timeout=timedelta(seconds=10))


@pytest.mark.temporal
async def test_time_skipping_completes_an_hour_timer_without_waiting_for_it(temporal_time_skipping) -> None:
    from temporalio.worker import Worker

    env = temporal_time_skipping
    queue = f"smoke-{uuid.uuid4().hex}"
    async with Worker(env.client, task_queue=queue, workflows=[HourTimer]):
        started = time.monotonic()
        result = await env.client.execute_workflow(
            HourTimer.run, 1.0, id=f"smoke-{uuid.uuid4().hex}", task_queue=queue
        )
        elapsed = time.monotonic() - started
    assert 3600 <= int(result) < 3610
    # liveness, not speed: without time skipping this would take an hour of real time
    assert elapsed < 120.0, f"an hour of workflow time took {elapsed:.2f}s of real time"


@pytest.mark.temporal
async def test_dev_server_runs_a_workflow_with_an_activity(temporal_dev_server: TemporalDevServer) -> None:
    from temporalio.worker import Worker

    client = await temporal_dev_server.client()
    queue = f"smoke-{uuid.uuid4().hex}"
    async with Worker(client, task_queue=queue, workflows=[Echo], activities=[echo]):
        result = await client.execute_workflow(
            Echo.run, "fresh", id=f"smoke-{uuid.uuid4().hex}", task_queue=queue,
            execution_timeout=timedelta(seconds=30),
        )
    assert result == "FRESH"
    assert temporal_dev_server.process.alive()
