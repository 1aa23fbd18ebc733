"""Records written by the SDK itself (the real refresher against the real loopback sandbox, in virtual time set
to the real clock), one per case every reader must handle, and the answer each reader must give.

Every reader (Python, the Worker, Node, Go) is tested on these: ``ok``, a reason record for each status, an
expired token still in KV, a token with too little time left, an unknown version, a token no header can carry,
a key with nothing."""

from __future__ import annotations

import json
import random
import time

from freshtoken import ManualClock, MemoryKV, MemoryStorage, OAuthClient, Refresher, TokenHTTP
from freshtoken.providers.generic import GenericProvider
from freshtoken.sandbox.server import Fault, SandboxServer

#: The readers under test refuse tokens with less than this many seconds left.
MIN_REMAINING = 30

#: key -> (reason, HTTP status) every reader must answer.
EXPECTED: dict[str, tuple[str, int]] = {
    "t:generic:ok": ("ok", 200),
    "t:generic:static": ("ok", 200),
    "t:generic:reauth": ("reauth_required", 403),
    "t:generic:failing": ("expired", 503),
    "t:generic:misconfigured": ("expired", 503),
    "t:generic:expired": ("expired", 503),
    "t:generic:short": ("expired", 503),
    "t:generic:future": ("unsupported_version", 500),
    "t:generic:unsendable": ("unsupported_version", 500),
    "t:generic:missing": ("unknown", 404),
}


async def _refreshed(sandbox: SandboxServer, key: str, start: float) -> tuple[Refresher, ManualClock, MemoryKV]:
    clock = ManualClock(start)
    kv = MemoryKV(clock)
    http = TokenHTTP()
    client = OAuthClient(name="sandbox", provider="generic", client_id="sandbox-client",
                         client_secret="sandbox-secret")
    refresher = Refresher(key, storage=MemoryStorage(), kv=kv, http=http, client=client, clock=clock,
                          provider=GenericProvider(token_url=sandbox.token_url, timeout=5.0), rng=random.Random(1))
    await refresher.register(refresh_token=sandbox.mint()["refresh_token"])
    alarm = await refresher.storage.get_alarm()
    clock.set(alarm)
    out = await refresher.alarm()
    assert out.kind == "refreshed", out
    refresher._test_http = http  # type: ignore[attr-defined]
    return refresher, clock, kv


async def _fire_until(refresher: Refresher, clock: ManualClock, past: float) -> None:
    while clock.now() <= past:
        alarm = await refresher.storage.get_alarm()
        clock.set(max(alarm, clock.now()))
        await refresher.alarm()


async def sdk_records(sandbox: SandboxServer) -> dict[str, str]:
    """key -> the KV value the SDK wrote for it (the sandbox issues one-hour tokens)."""
    now = time.time()
    out: dict[str, str] = {}
    made = []
    # a token with an hour left
    r, clock, kv = await _refreshed(sandbox, "t:generic:ok", now)
    made.append(r)
    out["t:generic:ok"] = kv.get_sync("t:generic:ok")  # type: ignore[assignment]
    # a static token that never expires (expires_at null)
    clock = ManualClock(now)
    http = TokenHTTP()
    static = Refresher("t:generic:static", storage=MemoryStorage(), kv=(kv := MemoryKV(clock)), http=http,
                       client=OAuthClient(name="sandbox", provider="generic", client_id="sandbox-client",
                                          client_secret="sandbox-secret"),
                       clock=clock, provider=GenericProvider(token_url=sandbox.token_url, timeout=5.0))
    await static.register(access_token="static-token-1", never_expires=True)
    await http.aclose()
    out["t:generic:static"] = kv.get_sync("t:generic:static")  # type: ignore[assignment]
    assert json.loads(out["t:generic:static"])["expires_at"] is None
    # the provider refused the grant
    r, clock, kv = await _refreshed(sandbox, "t:generic:reauth", now)
    made.append(r)
    sandbox.app.inject(Fault(status=400, body={"error": "invalid_grant"}))
    assert (await r.refresh_now()).kind == "reauth_required"
    out["t:generic:reauth"] = kv.get_sync("t:generic:reauth")  # type: ignore[assignment]
    # refreshing failed past expiry (provider down), and with a misconfigured client
    for key, fault in (("t:generic:failing", Fault(status=503)),
                       ("t:generic:misconfigured", Fault(status=401, body={"error": "invalid_client"}))):
        r, clock, kv = await _refreshed(sandbox, key, now - 7200)
        made.append(r)
        expires_at = json.loads(kv.get_sync(key))["expires_at"]  # type: ignore[arg-type]
        sandbox.app.inject(*[fault for _ in range(100)])
        await _fire_until(r, clock, expires_at)
        sandbox.app.faults.clear()
        out[key] = kv.get_sync(key)  # type: ignore[assignment]
        assert json.loads(out[key])["v"] == 2
    # a token record that expired an hour ago (no refresh since: a stopped refresher), still in KV
    r, clock, kv = await _refreshed(sandbox, "t:generic:expired", now - 7200)
    made.append(r)
    clock.set(now)
    out["t:generic:expired"] = kv.get_sync("t:generic:expired")  # type: ignore[assignment]
    # a token with 10 s left (< MIN_REMAINING)
    r, clock, kv = await _refreshed(sandbox, "t:generic:short", now - 3600 + 10)
    made.append(r)
    out["t:generic:short"] = kv.get_sync("t:generic:short")  # type: ignore[assignment]
    # a record of a version no reader knows yet (written by a future SDK)
    out["t:generic:future"] = json.dumps({"v": 3, "access_token": "from-a-future-sdk", "expires_at": None})
    # a token that an HTTP header cannot carry (CR LF: a second header line), in the SDK's own layout, as another
    # writer (or a hand edit) might put it: the SDK refuses such a token before it reaches KV (freshtoken.header_safe)
    out["t:generic:unsendable"] = json.dumps(
        {"v": 1, "access_token": "at-1\r\nX-Injected: 1", "token_type": "Bearer", "expires_at": int(now) + 3600,
         "scope": None, "generation": 1, "refreshed_at": int(now), "extras": {}}, separators=(",", ":"))
    for r in made:
        await r._test_http.aclose()  # type: ignore[attr-defined]
    assert all(isinstance(v, str) for v in out.values())
    return out


def put_in_redis(url: str, prefix: str, records: dict[str, str]) -> None:
    """Write ``records`` under ``prefix`` with the SDK's Redis KV (its guarded SET, TTL two days)."""
    import asyncio

    from freshtoken.kv.redis import RedisKV

    async def put() -> None:
        async with RedisKV(url=url) as kv:
            for key, value in records.items():
                await kv.put(prefix + key, value, 86_400 * 2)

    asyncio.run(put())
