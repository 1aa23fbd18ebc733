"""``freshtoken worker --temporal HOST:PORT``: a Temporal worker for the account workflows.

The lead wires :data:`worker` (a click command) into ``freshtoken.cli.main``, or calls :func:`run_worker`::

    from freshtoken.temporal.cli import worker
    main.add_command(worker)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from typing import Any

import click

from .shared import DEFAULT_TASK_QUEUE


def run_worker(
    *,
    target_host: str,
    namespace: str = "default",
    task_queue: str = DEFAULT_TASK_QUEUE,
    config: str | None = None,
    settings: Any = None,
    concurrency: int | None = None,
    log_level: str = "info",
    on_ready: Any = None,
) -> None:
    """Run a worker until SIGTERM / SIGINT. ``settings`` (a :class:`~freshtoken.host.config.Settings`) or ``config``
    (a path; default ``$FRESHTOKEN_CONFIG`` / ``./freshtoken.toml``) gives the clients, KV and alerting."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    if settings is None:
        from ..host.config import load_settings

        settings = load_settings(config)

    try:
        import temporalio  # noqa: F401
    except ImportError:
        from ..errors import ConfigError

        raise ConfigError("freshtoken worker --temporal needs 'temporalio': install 'freshtoken[temporal]'") from None

    async def main() -> None:
        from .worker import run_until_signal, worker_from_settings

        host = await worker_from_settings(settings, target_host=target_host, namespace=namespace,
                                          task_queue=task_queue, concurrency=concurrency)
        if on_ready is not None:
            on_ready(host)
        await run_until_signal(host)

    asyncio.run(main())


@click.command("worker")
@click.option("--temporal", "target_host", required=True, envvar="FRESHTOKEN_TEMPORAL_ADDRESS",
              help="Temporal frontend host:port (env FRESHTOKEN_TEMPORAL_ADDRESS).")
@click.option("--namespace", default="default", show_default=True, envvar="FRESHTOKEN_TEMPORAL_NAMESPACE")
@click.option("--task-queue", default=DEFAULT_TASK_QUEUE, show_default=True, envvar="FRESHTOKEN_TEMPORAL_TASK_QUEUE")
@click.option("--concurrency", type=click.IntRange(1, 10_000), default=None,
              help="Refreshes at once on this worker (default: [runtime] concurrency).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.pass_context
def worker(ctx: click.Context, target_host: str, namespace: str, task_queue: str, concurrency: int | None,
           log_level: str) -> None:
    """Run a Temporal worker: one workflow per account, refreshes as activities. SIGTERM / SIGINT stop it."""
    config = getattr(ctx.obj, "config", None)

    def ready(host: Any) -> None:
        click.echo(f"freshtoken: Temporal worker on {target_host} ({namespace}), task queue {task_queue!r}; "
                   "Ctrl-C to stop", err=True)

    run_worker(target_host=target_host, namespace=namespace, task_queue=task_queue, config=config,
               concurrency=concurrency, log_level=log_level, on_ready=ready)
    _exit_without_finalizing()


def _exit_without_finalizing() -> None:
    """End the worker process now that it has shut down: activities finished or timed out, worker and KV closed.

    temporalio's native (Rust) threads outlive the worker and can call into Python while the interpreter
    finalizes, which aborts the process ("Fatal Python error: PyGILState_Release ... finalizing", SIGABRT) after
    a clean shutdown — seen in 1 of 3 runs of tests/temporal/test_worker_cli.py. Nothing is left to finalize, so
    the streams are flushed and the process exits with 0 without finalizing the interpreter."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


__all__ = ["run_worker", "worker"]
