"""A token endpoint that sets a cookie must not get it back on the next request, least of all on another account's:
TokenHTTP keeps no cookie jar. (httpx's client keeps one per client; TokenHTTP sends through the transport.)

Adversary: a real HTTP/1.1 server on 127.0.0.1 answers every token request with ``Set-Cookie: session=<the refresh
token it was sent>`` and records the ``Cookie`` header of each request it receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import pytest

from freshtoken import OAuthClient, TokenHTTP
from freshtoken.http import TokenRequest


class CookieSetter:
    def __init__(self) -> None:
        self.cookies: list[str | None] = []
        self.user_agents: list[str | None] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.cookies.append(headers.get("cookie"))
                self.user_agents.append(headers.get("user-agent"))
                rt = parse_qs(body.decode()).get("refresh_token", ["?"])[0]
                answer = b'{"access_token":"a","token_type":"Bearer","expires_in":3600}'
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"set-cookie: session=%s; Path=/\r\n"
                             b"content-length: %d\r\n\r\n%s" % (rt.encode(), len(answer), answer))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[CookieSetter]:
    srv = CookieSetter()
    s = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    srv.port = s.sockets[0].getsockname()[1]
    yield srv
    s.close()


async def test_a_cookie_set_by_the_token_endpoint_is_never_sent_back(server: CookieSetter) -> None:
    url = f"http://127.0.0.1:{server.port}/token"
    client = OAuthClient(name="c", provider="generic", client_id="id", client_secret="s3cret",
                         provider_options={"token_url": url})
    http = TokenHTTP(max_connections=2)
    try:
        for account in ("rt-of-account-a", "rt-of-account-b", "rt-of-account-c"):
            response = await http.send(
                TokenRequest(url=url, params={"grant_type": "refresh_token", "refresh_token": account},
                             auth_method="client_secret_post"),
                client,
            )
            assert response.status == 200
            assert response.headers["set-cookie"].startswith("session=")  # the server did set one each time
    finally:
        await http.aclose()
    assert server.cookies == [None, None, None], "a cookie from one account's exchange was sent on another's"
    assert server.user_agents == ["freshtoken/0.1"] * 3
