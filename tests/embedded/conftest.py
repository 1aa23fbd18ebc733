from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from freshtoken import ManualClock, OAuthClient, Plugins, TokenHTTP
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore, generate_key
from freshtoken.providers import generic
from freshtoken.sandbox.server import SandboxServer

CLIENT_SECRET = "sandbox-secret"


@pytest.fixture
def key_spec() -> str:
    return generate_key("k1")


@pytest.fixture
def codec(key_spec: str) -> AesGcmCodec:
    return AesGcmCodec.from_spec(key_spec)


def sandbox_client(sandbox: SandboxServer, name: str = "sandbox", **options: Any) -> OAuthClient:
    return OAuthClient(
        name=name, provider="generic", client_id="sandbox-client", client_secret=CLIENT_SECRET,
        provider_options={"token_url": sandbox.token_url, "timeout": 5.0, **options},
    )


def plugins(*extra: Any) -> Plugins:
    p = Plugins(entry_points=False)
    p.register(generic, name="generic")
    for e in extra:
        p.register(e)
    return p


class Host:
    """A runtime over files in a temporary directory, a virtual clock and the loopback sandbox."""

    def __init__(self, tmp: Path, codec: AesGcmCodec, sandbox: SandboxServer, *, clock: Any = None,
                 clients: dict[str, OAuthClient] | None = None, extra_plugins: tuple[Any, ...] = (),
                 background_checkpoints: bool = True, **kw: Any) -> None:
        self.tmp = tmp
        self.sandbox = sandbox
        self.clock = clock if clock is not None else ManualClock()
        self.store = SQLiteStore(tmp / "state.db", codec, background_checkpoints=background_checkpoints)
        self.kv = SQLiteKV(tmp / "kv.db", clock=self.clock, background_checkpoints=background_checkpoints)
        self.http = kw.pop("http", None) or TokenHTTP()
        self.clients = clients or {"sandbox": sandbox_client(sandbox)}
        kw.setdefault("startup_spread", 0.0)
        # a test that failed half-way can leave alarms sleeping on the virtual clock, which nobody advances any
        # more: the runtime's close cancels them after this long (its drain limit), so the failure is reported
        # instead of hanging the run
        kw.setdefault("drain_timeout", 10.0)
        import random

        kw.setdefault("rng", random.Random(1))
        self.rt = EmbeddedRuntime(
            store=self.store, kv=self.kv, clients=self.clients, plugins=plugins(*extra_plugins),
            clock=self.clock, http=self.http, **kw,
        )

    async def add(self, n: int, *, prefix: str = "t1:sandbox:user", client: str = "sandbox") -> list[str]:
        keys = []
        for i in range(n):
            grant = self.sandbox.mint()
            key = f"{prefix}-{i}"
            await self.rt.register(key, client=client, refresh_token=grant["refresh_token"])
            keys.append(key)
        return keys

    async def step(self) -> int:
        """Advance virtual time to the next alarm and fire everything due."""
        at = self.store.next_alarm_at()
        assert at is not None, "no alarm"
        self.clock.set(at)
        return await self.rt.run_due()

    async def close(self) -> None:
        """Close the runtime (alarms still in flight after ``drain_timeout`` are cancelled by it), then the HTTP
        client."""
        await self.rt.aclose()
        await self.http.aclose()


@pytest.fixture
async def host_factory(tmp_path: Path, codec: AesGcmCodec, sandbox: SandboxServer
                       ) -> AsyncIterator[Callable[..., Host]]:
    made: list[Host] = []

    def make(**kw: Any) -> Host:
        h = Host(kw.pop("tmp", tmp_path), kw.pop("codec", codec), sandbox, **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.close()


@pytest.fixture
async def host(host_factory: Callable[..., Host]) -> Host:
    return host_factory()


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (real time) until ``cond()`` holds; fail after ``timeout`` seconds (a hang guard, not a speed test)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.002)
