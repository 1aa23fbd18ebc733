"""A token endpoint that sets a cookie must not get it back on the next request, least of all on another account's:
TokenHTTP keeps no cookie jar. (httpx's client keeps one per client; TokenHTTP sends through the transport.)

Adversary: a real HTTP/1.1 endpoint on 127.0.0.1 (the raw endpoint of tests/fixtures_servers) answers every token
request with ``Set-Cookie: session=<the refresh token it was sent>`` and records the ``Cookie`` header of each
request it receives.
"""

from __future__ import annotations

import asyncio

from freshtoken import OAuthClient, TokenHTTP
from freshtoken.http import TokenRequest
from tests.fixtures_servers.slow_endpoint import RawEndpoint, Request, respond


class CookieSetter(RawEndpoint):
    def __init__(self) -> None:
        super().__init__()
        self.cookies: list[str | None] = []
        self.user_agents: list[str | None] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request) -> bool:
        self.cookies.append(request.headers.get("cookie"))
        self.user_agents.append(request.headers.get("user-agent"))
        rt = request.params().get("refresh_token", "?")
        await respond(writer, 200, {"access_token": "a", "token_type": "Bearer", "expires_in": 3600},
                      {"set-cookie": f"session={rt}; Path=/"})
        return True


async def test_a_cookie_set_by_the_token_endpoint_is_never_sent_back() -> None:
    async with CookieSetter() as server:
        client = OAuthClient(name="c", provider="generic", client_id="id", client_secret="s3cret",
                             provider_options={"token_url": server.token_url})
        http = TokenHTTP(max_connections=2)
        try:
            for account in ("rt-of-account-a", "rt-of-account-b", "rt-of-account-c"):
                response = await http.send(
                    TokenRequest(url=server.token_url,
                                 params={"grant_type": "refresh_token", "refresh_token": account},
                                 auth_method="client_secret_post"),
                    client,
                )
                assert response.status == 200
                assert response.headers["set-cookie"].startswith("session=")  # the server did set one each time
        finally:
            await http.aclose()
    assert server.cookies == [None, None, None], "a cookie from one account's exchange was sent on another's"
    assert server.user_agents == ["freshtoken/0.1"] * 3
