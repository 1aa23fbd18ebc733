"""The SDK side of interop tests: the embedded runtime with the generic provider, pointed at a real server.

The runtime is the production one (:class:`freshtoken.embedded.EmbeddedRuntime` over SQLite with AES-GCM),
with two test seams that leave the servers alone:

* a :class:`~freshtoken.clock.ManualClock` starting at the wall clock, so alarms fire when a test says
  (``fire_due``) — the servers keep real time;
* a :class:`~.transports.WireTap` under the SDK's httpx client, which records every request as sent and
  can drop a response after the server produced it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from freshtoken import hookimpl
from freshtoken.client import OAuthClient
from freshtoken.clock import ManualClock
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore
from freshtoken.events import Event
from freshtoken.http import TokenHTTP
from freshtoken.plugins import Plugins
from freshtoken.providers import generic
from freshtoken.record import KVRecord
from freshtoken.refresher import Outcome
from freshtoken.state import AccountState

from .servers import AuthServer, Client
from .transports import WireTap


def sdk_client(
    server: AuthServer,
    client: Client | str,
    *,
    name: str | None = None,
    secret: str | None = None,
    auth_method: str | None = None,
    discover: bool = False,
    **options: Any,
) -> OAuthClient:
    """An :class:`OAuthClient` of the generic provider for ``client`` at ``server``."""
    if isinstance(client, str):
        client = server.client(client)
    provider_options: dict[str, Any] = dict(options)
    if discover:
        provider_options.setdefault("issuer", server.issuer)
    else:
        provider_options.setdefault("token_url", server.token_endpoint)
        if server.revocation_endpoint:
            provider_options.setdefault("revocation_url", server.revocation_endpoint)
    secret = secret if secret is not None else client.secret
    kw: dict[str, Any] = {}
    if client.private_jwk is not None:
        kw = {
            "private_key": SecretStr(client.private_jwk_json or ""),
            "jwt_alg": "RS256",
            "jwt_headers": {"kid": client.private_jwk["kid"]},
        }
    return OAuthClient(
        name=name or client.label,
        provider="generic",
        client_id=client.client_id,
        client_secret=SecretStr(secret) if secret else None,
        auth_method=auth_method or client.auth_method,
        provider_options=provider_options,
        **kw,
    )


class EventLog:
    """A freshtoken plugin that records every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def of(self, cls_name: str) -> list[Any]:
        return [e for e in self.events if type(e).__name__ == cls_name]

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: Event) -> None:
        self.events.append(event)

    @hookimpl
    def freshtoken_refresh_failed(self, event: Event) -> None:
        self.events.append(event)

    @hookimpl
    def freshtoken_reauth_required(self, event: Event) -> None:
        self.events.append(event)

    @hookimpl
    def freshtoken_token_expired(self, event: Event) -> None:
        self.events.append(event)

    @hookimpl
    def freshtoken_refresh_token_expiring(self, event: Event) -> None:
        self.events.append(event)


@dataclass
class Host:
    """One embedded runtime (one "process") on a state file; several may share a file and a clock."""

    runtime: EmbeddedRuntime
    store: SQLiteStore
    kv: SQLiteKV
    tap: WireTap
    events: EventLog
    clock: ManualClock
    http: httpx.AsyncClient
    closed: bool = field(default=False)

    async def register_grant(self, key: str, client: str, tokens: dict[str, Any]) -> dict[str, Any]:
        """Register an account with only the refresh token of a fresh grant: its first alarm is due now."""
        return await self.runtime.register(key, client=client, refresh_token=tokens["refresh_token"])

    async def fire_due(self) -> int:
        """Move virtual time to the earliest alarm (if in the future) and fire everything due."""
        at = self.store.next_alarm_at()
        if at is not None and at > self.clock.now():
            self.clock.set(at)
        return await self.runtime.run_due()

    def state(self, key: str) -> AccountState:
        state = self.store.load_state(key)
        assert state is not None, f"{key} has no state"
        return state

    def refresh_token(self, key: str) -> str:
        rt = self.state(key).refresh_token
        assert rt is not None
        return rt.get_secret_value()

    def kv_record(self, key: str) -> KVRecord | None:
        raw = self.kv.get_sync(key)
        return None if raw is None else KVRecord.loads(raw)

    def token_requests(self) -> list[Any]:
        return [s for s in self.tap.sent if s.form.get("grant_type") == "refresh_token"]

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            await self.runtime.aclose()
            await self.http.aclose()


def make_host(
    workdir: Path,
    clients: list[OAuthClient],
    *,
    clock: ManualClock | None = None,
    keys: list[tuple[str, bytes]] | None = None,
    state_db: str = "state.sqlite3",
    concurrency: int = 16,
    lease_ttl: float = 180.0,
) -> Host:
    """An embedded runtime on ``workdir/state_db`` with the generic provider and an event log."""
    clock = clock or ManualClock(time.time())
    keys = keys or [("interop", os.urandom(32))]
    store = SQLiteStore(workdir / state_db, AesGcmCodec(keys))
    kv = SQLiteKV(workdir / "kv.sqlite3", clock=clock)
    tap = WireTap()
    http = httpx.AsyncClient(transport=tap, follow_redirects=False, trust_env=False)
    plugins = Plugins(entry_points=False)
    plugins.register(generic, name="generic")
    events = EventLog()
    plugins.register(events, name="interop-events")
    runtime = EmbeddedRuntime(
        store=store,
        kv=kv,
        clients={c.name: c for c in clients},
        plugins=plugins,
        clock=clock,
        http=TokenHTTP(http),
        concurrency=concurrency,
        startup_spread=0.0,
        lease_ttl=lease_ttl,
    )
    return Host(runtime, store, kv, tap, events, clock, http)


def outcomes(results: list[Any]) -> list[str]:
    return [r.kind if isinstance(r, Outcome) else type(r).__name__ for r in results]
