"""Building and running a worker: the account workflow and the refresh activity on one task queue.

Run as many workers as you like, on as many machines: Temporal gives each account's workflow to one worker at a
time and each operation's activity to one worker; a killed worker's operations are re-run by the others after
the heartbeat timeout. Every worker needs the same OAuth clients, the same KV and the same encryption keys.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from .activities import RefreshActivities
from .shared import DEFAULT_TASK_QUEUE
from .workflow import AccountWorkflow

log = logging.getLogger("freshtoken.temporal")

#: Modules the workflow sandbox passes through (imported once, not per workflow run): ours and our deps are
#: deterministic libraries; re-importing them for every one of thousands of workflows would cost CPU.
PASSTHROUGH = ("freshtoken", "pydantic", "pydantic_core", "annotated_types", "httpx", "httpcore", "anyio",
               "authlib", "pluggy", "cryptography", "joserfc")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def build_worker(
    client: Client,
    activities: RefreshActivities,
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    max_concurrent_activities: int = 64,
    **worker_kwargs: Any,
) -> Worker:
    """A Temporal worker for the account workflows and the refresh activity. ``client`` must use the
    encrypting data converter (:func:`freshtoken.temporal.client.connect`)."""
    worker_kwargs.setdefault("graceful_shutdown_timeout", timedelta(seconds=30))
    # A killed worker's cached workflows wait this long on its sticky queue before another worker takes them: it
    # adds to the recovery time after a crash (Temporal's default is 10 s). Much shorter, and a busy worker's
    # workflow tasks would often fall back to full-history replays on another worker.
    worker_kwargs.setdefault("sticky_queue_schedule_to_start_timeout", timedelta(seconds=5))
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AccountWorkflow],
        activities=[activities.run_op],
        workflow_runner=workflow_runner(),
        max_concurrent_activities=max_concurrent_activities,
        **worker_kwargs,
    )


@dataclass
class WorkerHost:
    """A worker with what it owns (activities' HTTP client, the KV, alerters): close with :meth:`aclose`."""

    worker: Worker
    activities: RefreshActivities
    closers: list[Any] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.activities.aclose()
        for obj in self.closers:
            for name in ("aclose", "close"):
                closer = getattr(obj, name, None)
                if callable(closer):
                    result = closer()
                    if asyncio.iscoroutine(result):
                        await result
                    break


async def worker_from_settings(
    settings: Any,
    *,
    target_host: str,
    namespace: str = "default",
    task_queue: str = DEFAULT_TASK_QUEUE,
    concurrency: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> WorkerHost:
    """A worker from :class:`~freshtoken.host.config.Settings`: its ``[clients]``, ``[kv]`` and ``[alerting]``."""
    import os

    from ..host.factory import build_kv, build_plugins
    from .client import connect
    from .codec import EncryptionCodec

    env = os.environ if environ is None else environ
    codec = EncryptionCodec.from_env(env)  # before anything else: no key, no worker
    clients = settings.oauth_clients(env)
    if settings.kv.backend in ("sqlite", "memory"):
        log.warning("kv.backend = %r is local to this machine: with workers on several machines use 'redis' "
                    "or 'cloudflare-rest'", settings.kv.backend)
    plugins, alerters = build_plugins(settings, environ=env)
    kv = build_kv(settings, environ=env)
    limit = int(concurrency or settings.runtime.concurrency)
    activities = RefreshActivities(clients=clients, kv=kv, plugins=plugins, kv_prefix=settings.kv.prefix,
                                   max_connections=max(limit, 10), endpoint_policy=settings.endpoint_policy())
    client = await connect(target_host, namespace=namespace, codec=codec)
    worker = build_worker(client, activities, task_queue=task_queue, max_concurrent_activities=limit)
    return WorkerHost(worker, activities, [kv, *alerters])


async def run_until_signal(host: WorkerHost, *, stop: asyncio.Event | None = None) -> None:
    """Run the worker until SIGTERM / SIGINT (or ``stop``); activities in flight get the graceful shutdown
    timeout to finish, then the worker and what it owns are closed."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        async with host.worker:
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await host.aclose()


__all__ = ["PASSTHROUGH", "WorkerHost", "build_worker", "run_until_signal", "worker_from_settings", "workflow_runner"]
