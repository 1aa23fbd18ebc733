"""TokenHTTP's pool over a real loopback server: connections are reused, and an idle connection the server
closed is noticed (the readability check the pool makes of every idle connection, answered from the socket
TokenHTTP keeps) instead of failing the next request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from freshtoken import TokenHTTP

BODY = b'{"access_token":"a","token_type":"Bearer","expires_in":3600}'


class KeepAliveServer:
    """HTTP/1.1 on 127.0.0.1: answers with keep-alive; with ``close_after_one`` it closes each connection after
    its first answer (without saying so: a server-initiated close of an idle connection)."""

    def __init__(self, close_after_one: bool) -> None:
        self.close_after_one = close_after_one
        self.connections = 0
        self.requests = 0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.readline():
                length = 0
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(BODY), BODY))
                await writer.drain()
                if self.close_after_one:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture(params=[False, True], ids=["keep-alive", "server-closes-idle"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[KeepAliveServer]:
    srv = KeepAliveServer(close_after_one=request.param)
    s = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    srv.port = s.sockets[0].getsockname()[1]
    yield srv
    s.close()


async def test_the_pool_reuses_connections_and_notices_closed_ones(server: KeepAliveServer) -> None:
    http = TokenHTTP(max_connections=2)
    url = f"http://127.0.0.1:{server.port}/token"
    try:
        for _ in range(6):
            response = await http.post(url, {"Accept": "application/json"}, b"grant_type=refresh_token", timeout=10)
            assert response.status == 200 and response.json()["access_token"] == "a"
            await asyncio.sleep(0.05)  # the server's close (when it closes) has reached this side
    finally:
        await http.aclose()
    assert server.requests == 6
    assert server.connections == (6 if server.close_after_one else 1)


async def test_requests_beyond_the_pool_wait_for_a_connection(server: KeepAliveServer) -> None:
    """20 requests at once through a pool of 2: every one is answered, over at most 2 connections at a time."""
    http = TokenHTTP(max_connections=2)
    url = f"http://127.0.0.1:{server.port}/token"
    open_now = peak = 0
    real = server.handle

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            await real(reader, writer)
        finally:
            open_now -= 1

    server.handle = counting  # type: ignore[method-assign]
    s = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}/token"
    try:
        answers = await asyncio.gather(*(http.post(url, {}, b"x", timeout=10) for _ in range(20)))
    finally:
        await http.aclose()
        s.close()
    assert [a.status for a in answers] == [200] * 20 and server.requests == 20
    assert peak <= 2
    if not server.close_after_one:
        assert server.connections == 2


async def test_an_allowed_url_is_checked_once_and_a_refused_one_every_time(server: KeepAliveServer) -> None:
    """TokenHTTP remembers the URLs its endpoint policy allowed (the check is a pure function of policy and URL);
    a refused URL is refused at every request, and a new policy starts afresh."""
    from freshtoken import Misconfigured, OAuthClient
    from freshtoken.egress.endpoint_policy import EndpointPolicy
    from freshtoken.http import TokenRequest

    class Counting(EndpointPolicy):
        calls: ClassVar[list[str]] = []

        def check(self, url: str, what: str = "endpoint") -> Any:
            Counting.calls.append(url)
            return super().check(url, what)

    client = OAuthClient(name="c", provider="generic", client_id="id", client_secret="s")
    good = TokenRequest(url=f"http://127.0.0.1:{server.port}/token", params={"grant_type": "refresh_token"})
    bad = TokenRequest(url="http://example.com/token", params={"grant_type": "refresh_token"})
    http = TokenHTTP(policy=Counting())
    try:
        for _ in range(3):
            assert (await http.send(good, client, timeout=10)).status == 200
        for _ in range(2):
            with pytest.raises(Misconfigured, match="plain http"):
                await http.send(bad, client, timeout=10)
        assert Counting.calls == [good.url, bad.url, bad.url]
        http.policy = Counting(allow_private_networks=True)  # a new policy: checked again
        assert (await http.send(good, client, timeout=10)).status == 200
        assert Counting.calls[-1] == good.url and len(Counting.calls) == 4
    finally:
        await http.aclose()


async def test_response_headers_are_read_as_httpx_reads_them() -> None:
    """Lower-case names, a repeated header joined with ", ", UTF-8 values decoded (read from the raw pairs)."""
    import httpx

    raw = [(b"Content-Type", b"application/json"), (b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"),
           (b"Retry-After", b"120"), (b"X-Note", "café".encode())]
    http = TokenHTTP(transport=httpx.MockTransport(lambda r: httpx.Response(200, headers=raw, content=BODY)))
    try:
        response = await http.post("http://127.0.0.1:1/token", {}, b"x", timeout=5)
    finally:
        await http.aclose()
    expected = {k.lower(): v for k, v in httpx.Response(200, headers=raw, content=BODY).headers.items()}
    assert response.headers == expected
    assert response.headers["set-cookie"] == "a=1, b=2" and response.headers["x-note"] == "café"


class _Recorder:
    """The network stream under :class:`_PooledStream`: records what is handed to the socket."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def get_extra_info(self, info: str) -> Any:
        return None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.sent.append(buffer)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return b"HTTP/1.1 200 OK\r\n"


async def test_a_request_head_goes_out_with_its_body_in_one_send() -> None:
    from freshtoken.http import _PooledStream

    inner = _Recorder()
    stream = _PooledStream(inner)  # type: ignore[arg-type]
    head = b"POST /token HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n"
    await stream.write(head)
    assert inner.sent == []  # held ...
    await stream.write(b"a=b")
    await stream.write(b"")  # h11's end of a request with a Content-Length
    assert inner.sent == [head + b"a=b"]  # ... and sent with the body


async def test_a_held_head_is_sent_before_any_read() -> None:
    from freshtoken.http import _PooledStream

    inner = _Recorder()
    stream = _PooledStream(inner)  # type: ignore[arg-type]
    head = b"POST /token HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n"
    await stream.write(head)
    await stream.read(100)
    assert inner.sent == [head]
    await stream.write(b"GET / HTTP/1.1\r\n\r\n")  # not a POST head: not held
    assert inner.sent == [head, b"GET / HTTP/1.1\r\n\r\n"]
