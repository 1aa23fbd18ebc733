"""A freshtoken Temporal worker in its own process for ``bench.distributed``.

    python -m bench._temporal_worker --target HOST:PORT --task-queue Q --redis URL --token-url URL [--concurrency N]

Keys from ``FRESHTOKEN_ENCRYPTION_KEYS``. Prints ``READY`` once polling; on SIGTERM exits after a JSON line of
the activity counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from freshtoken.kv.redis import RedisKV
from freshtoken.temporal import EncryptionCodec, RefreshActivities, WorkerHost, build_worker, connect
from freshtoken.temporal.worker import run_until_signal

from ._runtime import CLIENT_NAME, oauth_client


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--target", required=True)
    p.add_argument("--task-queue", required=True)
    p.add_argument("--redis", required=True)
    p.add_argument("--token-url", required=True)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--lead", type=float, default=600.0)
    a = p.parse_args()
    kv = RedisKV(url=a.redis)
    activities = RefreshActivities(clients={CLIENT_NAME: oauth_client(a.token_url, lead=a.lead)}, kv=kv,
                                   max_connections=a.concurrency)
    temporal = await connect(a.target, codec=EncryptionCodec.from_env())
    worker = build_worker(temporal, activities, task_queue=a.task_queue, max_concurrent_activities=a.concurrency)
    host = WorkerHost(worker, activities, [kv])

    async def ready() -> None:
        await asyncio.sleep(0.3)
        print("READY", flush=True)

    task = asyncio.ensure_future(ready())
    await run_until_signal(host)
    task.cancel()
    print("COUNTS " + json.dumps(activities.counts), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
