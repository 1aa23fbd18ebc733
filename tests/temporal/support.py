"""Helpers shared by the Temporal tests: clients with the encrypting codec, in-process workers."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from temporalio.client import Client

from freshtoken import MemoryKV, OAuthClient
from freshtoken.sandbox.server import SandboxServer
from freshtoken.temporal import (
    EncryptionCodec,
    RefreshActivities,
    TemporalAccounts,
    WorkflowOptions,
    build_worker,
    data_converter,
)

CLIENT = "sandbox"


def oauth_client(sandbox: SandboxServer, **options: Any) -> OAuthClient:
    return OAuthClient(name=CLIENT, provider="generic", client_id="sandbox-client", client_secret="sandbox-secret",
                       provider_options={"token_url": sandbox.token_url, "timeout": 5.0, **options})


def with_codec(client: Client, keys: str) -> Client:
    """The same connection (and interceptors: time skipping) with the encrypting data converter."""
    config = client.config()
    config["data_converter"] = data_converter(EncryptionCodec.from_spec(keys))
    return Client(**config)


def new_key(n: int = 0) -> str:
    return f"t{uuid.uuid4().hex[:6]}:generic:user-{n}"


@contextlib.asynccontextmanager
async def in_process_worker(
    client: Client, sandbox: SandboxServer, *, kv: Any = None, options: WorkflowOptions | None = None,
    task_queue: str | None = None, **provider_options: Any,
) -> AsyncIterator[tuple[TemporalAccounts, RefreshActivities, Any]]:
    queue = task_queue or f"ft-{uuid.uuid4().hex[:8]}"
    kv = kv if kv is not None else MemoryKV()
    activities = RefreshActivities(clients={CLIENT: oauth_client(sandbox, **provider_options)}, kv=kv)
    worker = build_worker(client, activities, task_queue=queue)
    try:
        async with worker:
            yield TemporalAccounts(client, task_queue=queue, options=options), activities, kv
    finally:
        await activities.aclose()
