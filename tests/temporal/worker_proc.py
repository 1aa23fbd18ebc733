"""A Temporal worker in its own process, for tests that run several workers and kill one (SIGKILL).

    python -m tests.temporal.worker_proc --target HOST:PORT --task-queue Q --redis URL --token-url URL
        [--concurrency N] [--kv-delay SECONDS --kv-delay-from-generation G]

Keys come from FRESHTOKEN_ENCRYPTION_KEYS. Prints ``READY`` when polling, and on SIGTERM a JSON line with the
outcomes this worker produced. ``--kv-delay`` makes KV writes of records from generation G on hang (a worker
that dies after the token endpoint answered and the rotated token was persisted, before the KV write).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from freshtoken import OAuthClient
from freshtoken.kv.redis import RedisKV
from freshtoken.temporal import EncryptionCodec, RefreshActivities, WorkerHost, build_worker, connect
from freshtoken.temporal.worker import run_until_signal


class SlowKV:
    def __init__(self, inner: RedisKV, delay: float, from_generation: int) -> None:
        self.inner, self.delay, self.from_generation = inner, delay, from_generation

    async def put(self, key: str, value: str, ttl: float | None) -> None:
        if json.loads(value).get("generation", 0) >= self.from_generation:
            print(f"KV-HANG {key}", flush=True)
            await asyncio.sleep(self.delay)
        await self.inner.put(key, value, ttl)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def get(self, key: str) -> str | None:
        return await self.inner.get(key)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--target", required=True)
    p.add_argument("--task-queue", required=True)
    p.add_argument("--redis", required=True)
    p.add_argument("--token-url", required=True)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--lead", type=float, default=600.0)
    p.add_argument("--kv-delay", type=float, default=0.0)
    p.add_argument("--kv-delay-from-generation", type=int, default=1)
    args = p.parse_args()
    kv: object = RedisKV(url=args.redis)
    if args.kv_delay:
        kv = SlowKV(kv, args.kv_delay, args.kv_delay_from_generation)  # type: ignore[arg-type]
    client = OAuthClient(name="sandbox", provider="generic", client_id="sandbox-client",
                         client_secret="sandbox-secret", provider_options={"token_url": args.token_url, "timeout": 10.0,
                                                           "lead": args.lead})
    activities = RefreshActivities(clients={"sandbox": client}, kv=kv, max_connections=args.concurrency)
    temporal = await connect(args.target, codec=EncryptionCodec.from_env())
    worker = build_worker(temporal, activities, task_queue=args.task_queue,
                          max_concurrent_activities=args.concurrency)
    host = WorkerHost(worker, activities, [kv])
    stop = asyncio.Event()

    async def ready() -> None:
        await asyncio.sleep(0.3)  # the worker polls once its context is entered
        print("READY", flush=True)

    task = asyncio.ensure_future(ready())
    await run_until_signal(host, stop=stop)
    task.cancel()
    print("COUNTS " + json.dumps(activities.counts), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
