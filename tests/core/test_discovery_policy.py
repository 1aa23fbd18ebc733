"""Issuer discovery does not trust the document it reads: size-limited (streamed), deadline-bounded, and a
discovered endpoint must share the issuer's origin or be allowlisted before a secret is sent there.

The issuer is a real HTTP server on 127.0.0.1; a discovered endpoint on another origin is a real recorder
on 127.0.0.2 that must stay silent (or, allowlisted, receive the refresh).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from freshtoken import ManualClock, MemoryKV, MemoryStorage, OAuthClient, Plugins, Refresher, TokenHTTP
from freshtoken.errors import ConfigError, UnsafeEndpoint
from freshtoken.host.discovery import discover
from freshtoken.host.providers import ClientProviders
from tests.core.hostile_endpoints import CANARY_SECRET, NeverConnect, RecordingEndpoint
from tests.fixtures_servers.threaded import serving

HUGE = 200 * 1024 * 1024
CHUNK = b"a" * 65536


class Issuer:
    """A discovery server on 127.0.0.1. ``behaviour(handler)`` answers each GET; ``sent`` counts body bytes
    the server managed to write (what the client was made to take)."""

    def __init__(self, behaviour: Callable[[Any], None]) -> None:
        owner = self
        self.sent = 0
        self.hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits.append(self.path)
                behaviour(self)

            def log_message(self, *a: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def write(self, handler: Any, data: bytes) -> bool:
        try:
            handler.wfile.write(data)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return False
        self.sent += len(data)
        return True

    @contextmanager
    def running(self) -> Iterator[Issuer]:
        with serving(self._server):
            yield self


def serve_json(issuer_ref: list[Issuer], doc: Callable[[Issuer], dict[str, Any]]) -> Callable[[Any], None]:
    def behaviour(h: Any) -> None:
        body = json.dumps(doc(issuer_ref[0])).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return behaviour


@contextmanager
def issuer_serving(doc: Callable[[Issuer], dict[str, Any]]) -> Iterator[Issuer]:
    ref: list[Issuer] = []
    server = Issuer(serve_json(ref, doc))
    ref.append(server)
    with server.running():
        yield server


# -- the document --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "close-delimited"])
async def test_a_200_mb_document_is_refused_without_being_read(declared: bool) -> None:
    ref: list[Issuer] = []

    def huge(h: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        if declared:
            h.send_header("Content-Length", str(HUGE))
        h.end_headers()
        if not ref[0].write(h, b'{"issuer": "' + ref[0].url.encode() + b'", "pad": "'):
            return
        for _ in range(HUGE // len(CHUNK)):  # generated as it goes: never held in memory
            if not ref[0].write(h, CHUNK):
                return

    server = Issuer(huge)
    ref.append(server)
    with server.running():
        async with httpx.AsyncClient(trust_env=False) as hc:
            with pytest.raises(ConfigError, match="larger than 65536 bytes") as info:
                await asyncio.wait_for(discover(server.url, hc), 60)
    assert len(server.hits) == 2  # both metadata URLs tried, each refused
    # the client stopped reading: what the server could push is socket buffers, nowhere near 200 MB
    assert server.sent < 2 * 16 * 1024 * 1024, server.sent
    assert "pad" not in str(info.value)


async def test_a_dribbling_document_is_bounded_by_one_deadline() -> None:
    """One byte every 50 ms never trips a per-read timeout; the exchange's deadline does."""
    ref: list[Issuer] = []

    def dribble(h: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "4000")
        h.end_headers()
        for _ in range(4000):
            if not ref[0].write(h, b" "):
                return
            time.sleep(0.05)

    server = Issuer(dribble)
    ref.append(server)
    with server.running():
        async with httpx.AsyncClient(trust_env=False, timeout=1.0) as hc:
            with pytest.raises(ConfigError, match="no complete answer within 1s"):
                await asyncio.wait_for(discover(server.url, hc, timeout=1.0), 60)
    assert len(server.hits) == 2


# -- discovered endpoints ------------------------------------------------------------------------------------
def _client(issuer: str, **options: Any) -> OAuthClient:
    return OAuthClient(name="disc", provider="generic", client_id="cid", client_secret=SecretStr(CANARY_SECRET),
                       auth_method="client_secret_post", provider_options={"issuer": issuer, **options})


async def _discover_then_refresh(client: OAuthClient) -> str:
    """What a runtime does: discover the client's provider, then refresh one account with it."""
    provider = await ClientProviders(Plugins()).get(client)
    clock = ManualClock(1_800_000_000.0)
    storage = MemoryStorage()
    http = TokenHTTP()
    try:
        r = Refresher("t:generic:a", storage=storage, kv=MemoryKV(clock), provider=provider, client=client,
                      http=http, clock=clock, rng=random.Random(1))
        await r.register(refresh_token="rt-canary-2")
        outcome = await r.alarm()
        await r.remove(revoke=True)
        return outcome.kind
    finally:
        await http.aclose()


@pytest.fixture
def recorder() -> Iterator[RecordingEndpoint]:
    with RecordingEndpoint().running() as r:
        yield r


@pytest.mark.parametrize("field", ["token_endpoint", "revocation_endpoint"])
async def test_an_endpoint_on_another_host_is_refused_and_nothing_is_sent(
    recorder: RecordingEndpoint, field: str
) -> None:
    def doc(s: Issuer) -> dict[str, Any]:
        meta = {"issuer": s.url, "token_endpoint": f"{s.url}/token"}
        meta[field] = f"{recorder.origin}/{field}"  # 127.0.0.2: another host
        return meta

    with issuer_serving(doc) as server:
        with pytest.raises(UnsafeEndpoint, match=rf"discovered {field} http://127\.0\.0\.2:\d+ is not on the "
                                                 rf"issuer's origin") as info:
            await _discover_then_refresh(_client(server.url))
    assert recorder.requests == [], "the secret was sent to a discovered endpoint on another origin"
    assert "disc" in str(info.value) and "discovery_allowed_hosts" in str(info.value)


async def test_another_port_on_the_issuer_host_is_another_origin() -> None:
    with RecordingEndpoint(host="127.0.0.1").running() as same_host:
        with issuer_serving(lambda s: {"issuer": s.url, "token_endpoint": f"{same_host.origin}/token"}) as server:
            with pytest.raises(UnsafeEndpoint, match="not on the issuer's origin"):
                await _discover_then_refresh(_client(server.url))
    assert same_host.requests == []


@pytest.mark.parametrize("endpoint", [
    "http://auth.example.com/token",             # plain http off loopback
    "https://169.254.169.254/token",             # metadata
    "https://user:pw@auth.example.com/token",    # userinfo
    "https://{shop}.example.com/token",          # a template: account data must never choose the host
    "file:///etc/passwd",
])
async def test_an_unsafe_discovered_endpoint_is_refused_even_when_allowlisted(endpoint: str) -> None:
    with issuer_serving(lambda s: {"issuer": s.url, "token_endpoint": endpoint}) as server:
        client = _client(server.url, discovery_allowed_hosts=["auth.example.com", "169.254.169.254"])
        with pytest.raises(UnsafeEndpoint):
            await ClientProviders(Plugins()).get(client)


async def test_an_allowlisted_host_is_accepted_and_receives_the_refresh(recorder: RecordingEndpoint) -> None:
    def doc(s: Issuer) -> dict[str, Any]:
        return {"issuer": s.url, "token_endpoint": f"{recorder.origin}/token",
                "revocation_endpoint": f"{recorder.origin}/revoke"}

    with issuer_serving(doc) as server:
        kind = await _discover_then_refresh(_client(server.url, discovery_allowed_hosts=[f"127.0.0.2:{recorder.port}"]))
    assert kind == "refreshed"
    assert [path for _, path, _, _ in recorder.requests] == ["/token", "/revoke"]
    assert CANARY_SECRET.encode() in recorder.requests[0][3]  # the secret went where it was allowed to


async def test_the_same_origin_is_accepted() -> None:
    with issuer_serving(lambda s: {"issuer": s.url, "token_endpoint": f"{s.url}/oauth/token"}) as server:
        provider = await ClientProviders(Plugins()).get(_client(server.url))
    assert provider.token_url == f"{server.url}/oauth/token" and provider.revocation_url is None
    # the origin is compared normalised: host case, a trailing dot, an explicit default port
    for issuer, endpoint in [("http://localhost:{p}", "http://LOCALHOST.:{p}/t"),
                             ("https://auth.example.com", "https://Auth.Example.com.:443/t")]:
        from freshtoken.host.discovery import check_discovered

        port = server.url.rsplit(":", 1)[1]
        assert check_discovered(endpoint.format(p=port), "token_endpoint", issuer.format(p=port))


@pytest.mark.parametrize("issuer", ["https://169.254.169.254", "http://auth.example.com", "https://10.0.0.1",
                                    "https://0x0a000001", "https://user:pw@auth.example.com"])
async def test_the_issuer_itself_must_pass_the_policy(issuer: str) -> None:
    transport = NeverConnect()
    async with httpx.AsyncClient(transport=transport) as hc:
        with pytest.raises(UnsafeEndpoint):
            await discover(issuer, hc)
    assert transport.asked == []
    with pytest.raises(UnsafeEndpoint):  # and at configuration time, before any discovery
        ClientProviders(Plugins()).static(_client(issuer))


def test_allowlist_entries() -> None:
    from freshtoken.host.discovery import check_discovered

    issuer = "https://accounts.example.com"
    cases = [
        ("https://oauth2.example.net/token", ["oauth2.example.net"], True),
        ("https://oauth2.example.net:8443/token", ["oauth2.example.net"], True),         # a bare host: any port
        ("https://oauth2.example.net:8443/token", ["oauth2.example.net:443"], False),
        ("https://oauth2.example.net/token", ["OAuth2.Example.NET.:443"], True),
        ("https://[2606:4700:0::1111]/token", ["[2606:4700::1111]:443"], True),
        ("https://[2606:4700::1111]/token", ["[2606:4700::1112]"], False),
        ("https://evil-oauth2.example.net/token", ["oauth2.example.net"], False),        # no suffix matching
        ("https://oauth2.example.net.evil.example/token", ["oauth2.example.net"], False),
    ]
    for url, allowed, ok in cases:
        if ok:
            assert check_discovered(url, "token_endpoint", issuer, allowed_hosts=allowed) == url
        else:
            with pytest.raises(UnsafeEndpoint):
                check_discovered(url, "token_endpoint", issuer, allowed_hosts=allowed)
