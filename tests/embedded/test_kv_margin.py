"""The KV propagation margin is a property of the KV: a token registered with 30 s left is written to the
KVs a reader sees at once (memory, SQLite, Redis) and not to Workers KV (60 s to show a write everywhere); the
``[kv] margin`` setting overrides it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from freshtoken import KVRecord, MemoryKV
from freshtoken.clock import ManualClock
from freshtoken.cloudflare import BindingKV
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore
from freshtoken.host.config import settings_from_dict
from freshtoken.host.factory import build_host
from freshtoken.kv import DEFAULT_PROPAGATION_MARGIN, propagation_margin
from freshtoken.kv.workers_rest import RestKV
from freshtoken.sandbox.server import SandboxServer
from tests.cloudflare.test_cf_kv_rest import ACCOUNT, NAMESPACE, TOKEN, FakeCloudflare

from .conftest import plugins, sandbox_client

KEY = "t1:sandbox:user-1"


@pytest.fixture
async def cloudflare() -> AsyncIterator[FakeCloudflare]:
    import asyncio

    fake = FakeCloudflare()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    yield fake
    server.close()


async def register_with_30s_left(tmp_path: Path, codec: AesGcmCodec, sandbox: SandboxServer, kv: Any
                                 ) -> tuple[EmbeddedRuntime, dict[str, Any]]:
    clock = ManualClock()
    rt = EmbeddedRuntime(store=SQLiteStore(tmp_path / "state.db", codec), kv=kv,
                         clients={"sandbox": sandbox_client(sandbox)}, plugins=plugins(), clock=clock,
                         startup_spread=0.0)
    grant = sandbox.mint()
    view = await rt.register(KEY, client="sandbox", refresh_token=grant["refresh_token"],
                             access_token="at-thirty-seconds", expires_in=30)
    return rt, view


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
async def test_a_token_with_30s_left_lands_in_a_kv_without_propagation_delay(
    backend: str, tmp_path: Path, codec: AesGcmCodec, sandbox: SandboxServer, request: pytest.FixtureRequest
) -> None:
    if backend == "memory":
        kv: Any = MemoryKV()
    elif backend == "sqlite":
        kv = SQLiteKV(tmp_path / "kv.db")
    else:
        from freshtoken.kv.redis import RedisKV

        kv = RedisKV(url=request.getfixturevalue("redis_server"))
        await kv.delete(KEY)
    rt, view = await register_with_30s_left(tmp_path, codec, sandbox, kv)
    try:
        assert rt.kv_margin == 0.0
        assert view["status"] == "active"  # usable: written, refreshed half-way through its 30 s
        raw = await kv.get(KEY)
        assert raw is not None and KVRecord.loads(raw).access_token == "at-thirty-seconds"
        assert view["next_refresh_at"] == pytest.approx(view["registered_at"] + 15.0)
    finally:
        await kv.delete(KEY)
        await rt.aclose()


async def test_a_token_with_30s_left_is_not_written_to_workers_kv(
    tmp_path: Path, codec: AesGcmCodec, sandbox: SandboxServer, cloudflare: FakeCloudflare
) -> None:
    kv = RestKV(account_id=ACCOUNT, namespace_id=NAMESPACE, api_token=TOKEN,
                base_url=f"http://127.0.0.1:{cloudflare.port}")
    rt, view = await register_with_30s_left(tmp_path, codec, sandbox, kv)
    try:
        assert rt.kv_margin == 60.0
        # it would be gone before every location saw it: not written, refreshed at once instead
        assert view["status"] == "pending" and view["alarm_at"] == view["registered_at"]
        assert [r for r in cloudflare.requests if r.method == "PUT"] == []
        assert await rt.run_due() == 1  # the refresh writes a fresh hour-long token
        (put,) = [r for r in cloudflare.requests if r.method == "PUT"]
        assert b"at-thirty-seconds" not in put.body
    finally:
        await rt.aclose()


def test_each_kv_declares_its_margin() -> None:
    assert propagation_margin(MemoryKV()) == 0.0
    assert SQLiteKV.propagation_margin == 0.0
    from freshtoken.kv.redis import RedisKV

    assert RedisKV.propagation_margin == 0.0
    assert RestKV.propagation_margin == BindingKV.propagation_margin == 60.0
    assert propagation_margin(object()) == DEFAULT_PROPAGATION_MARGIN == 60.0  # unknown KV: the safe assumption


@pytest.mark.parametrize(("kv_section", "expected"), [
    ({"backend": "sqlite"}, 0.0),
    ({"backend": "memory"}, 0.0),
    ({"backend": "sqlite", "margin": 120}, 120.0),
    ({"backend": "cloudflare-rest", "account_id": "a1", "namespace_id": "n1", "api_token": "tok",
      "base_url": "https://api.cloudflare.com"}, 60.0),
    ({"backend": "cloudflare-rest", "account_id": "a1", "namespace_id": "n1", "api_token": "tok",
      "base_url": "https://api.cloudflare.com", "margin": 0}, 0.0),
])
async def test_the_kv_margin_setting_overrides_the_backend(tmp_path: Path, codec: AesGcmCodec,
                                                         kv_section: dict[str, Any], expected: float) -> None:
    settings = settings_from_dict({
        "runtime": {"database": str(tmp_path / "state.db")},
        "kv": {"path": str(tmp_path / "kv.db"), **kv_section},
    }, source=str(tmp_path / "freshtoken.toml"))
    host = build_host(settings, codec=codec, with_metrics=False, environ={})
    try:
        assert host.runtime.kv_margin == expected
    finally:
        await host.aclose()
