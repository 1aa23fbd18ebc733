"""Strategy tests: a sandbox of their own on the test's virtual clock (its assertion checks read the same time as
the refresher), RSA keys made per session, an embedded runtime over real SQLite files."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from freshtoken import ManualClock, OAuthClient, Plugins, TokenHTTP
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore, generate_key
from freshtoken.providers import generic
from freshtoken.sandbox.server import SandboxServer

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
HOUR = 3600.0


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def make_key() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return KeyPair(private, public)


@pytest.fixture(scope="session")
def keys() -> tuple[KeyPair, KeyPair]:
    """Two RSA key pairs: the one the server trusts, and a stranger's."""
    return make_key(), make_key()


class ClockTime:
    """The sandbox's ``clock.time()`` read from the test's ManualClock."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    def time(self) -> float:
        return self.clock.now()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def machine_sandbox(clock: ManualClock) -> Iterator[SandboxServer]:
    with SandboxServer(lifetime=3600, clock=ClockTime(clock)).run_in_thread() as server:
        yield server


def plugins(*extra: Any) -> Plugins:
    p = Plugins(entry_points=False)
    p.register(generic, name="generic")
    for e in extra:
        p.register(e)
    return p


class Events:
    """Records every event the refresher emits (a plugin with one hook per event name)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def names(self) -> list[str]:
        return [n for n, _ in self.seen]


def recorder(events: Events) -> Any:
    from freshtoken import hookimpl

    class Recorder:
        @hookimpl
        def freshtoken_refresh_failed(self, event: Any) -> None:
            events.seen.append(("refresh_failed", event))

        @hookimpl
        def freshtoken_reauth_required(self, event: Any) -> None:
            events.seen.append(("reauth_required", event))

        @hookimpl
        def freshtoken_refresh_succeeded(self, event: Any) -> None:
            events.seen.append(("refresh_succeeded", event))

    return Recorder()


class MachineHost:
    """An embedded runtime (SQLite state and KV under ``tmp``) on the virtual clock."""

    def __init__(self, tmp: Path, clock: ManualClock, clients: dict[str, OAuthClient], *,
                 extra_plugins: tuple[Any, ...] = (), codec: AesGcmCodec | None = None) -> None:
        self.tmp = tmp
        self.clock = clock
        self.codec = codec or AesGcmCodec.from_spec(generate_key("k1"))
        self.store = SQLiteStore(tmp / "state.db", self.codec)
        self.kv = SQLiteKV(tmp / "kv.db", clock=clock)
        self.http = TokenHTTP()
        self.events = Events()
        self.rt = EmbeddedRuntime(
            store=self.store, kv=self.kv, clients=clients, plugins=plugins(recorder(self.events), *extra_plugins),
            clock=clock, http=self.http, startup_spread=0.0, rng=random.Random(1),
        )

    async def step(self) -> int:
        """Advance virtual time to the next alarm and fire everything due."""
        at = self.store.next_alarm_at()
        assert at is not None, "no alarm"
        self.clock.set(at)
        return await self.rt.run_due()

    async def close(self) -> None:
        await self.rt.aclose()
        await self.http.aclose()


@pytest.fixture
async def host_factory(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Callable[..., MachineHost]]:
    made: list[MachineHost] = []

    def make(clients: dict[str, OAuthClient], **kw: Any) -> MachineHost:
        sub = tmp_path / f"h{len(made)}"
        sub.mkdir()
        h = MachineHost(sub, clock, clients, **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        await h.close()
