from __future__ import annotations

import random
from typing import Any

import pytest

from freshtoken import (
    ManualClock,
    MemoryKV,
    MemoryStorage,
    OAuthClient,
    Plugins,
    Refresher,
    TokenHTTP,
    hookimpl,
)
from freshtoken.providers.generic import GenericProvider
from freshtoken.sandbox.server import SandboxServer


class Recorder:
    """Collects every event hook call, as an alerting plugin would see them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def names(self) -> list[str]:
        return [n for n, _ in self.events]

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: Any) -> None:
        self.events.append(("succeeded", event))

    @hookimpl
    def freshtoken_refresh_failed(self, event: Any) -> None:
        self.events.append(("failed", event))

    @hookimpl
    def freshtoken_reauth_required(self, event: Any) -> None:
        self.events.append(("reauth", event))

    @hookimpl
    def freshtoken_token_expired(self, event: Any) -> None:
        self.events.append(("expired", event))

    @hookimpl
    def freshtoken_refresh_token_expiring(self, event: Any) -> None:
        self.events.append(("rt_expiring", event))


class Rig:
    """A refresher over memory storage and KV, a virtual clock and the real loopback sandbox."""

    def __init__(self, sandbox: SandboxServer, key: str = "acme:generic:user-1", **provider: Any) -> None:
        self.sandbox = sandbox
        self.clock = ManualClock()
        self.storage = MemoryStorage()
        self.kv = MemoryKV(self.clock)
        self.recorder = Recorder()
        self.plugins = Plugins(entry_points=False)
        self.plugins.register(self.recorder)
        self.http = TokenHTTP()
        self.provider = GenericProvider(token_url=sandbox.token_url, timeout=5.0, **provider)
        self.client = OAuthClient(
            name="sandbox", provider="generic", client_id="sandbox-client", client_secret="sandbox-secret"
        )
        self.refresher = Refresher(
            key, storage=self.storage, kv=self.kv, provider=self.provider, client=self.client,
            http=self.http, clock=self.clock, plugins=self.plugins, rng=random.Random(7),
        )

    async def fire(self):
        """Advance virtual time to the alarm and run it."""
        alarm = await self.storage.get_alarm()
        assert alarm is not None, "no alarm set"
        self.clock.set(alarm)
        return await self.refresher.alarm()


@pytest.fixture
async def rig(sandbox: SandboxServer):
    r = Rig(sandbox)
    yield r
    await r.http.aclose()
