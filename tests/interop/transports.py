"""Client-side httpx transports for interop tests: record what the SDK sends, and lose a response.

Both forward every request unchanged to the real server over a real socket. :class:`WireTap` never alters
a response; it can only *drop* one after the server has processed the request (the network failing on the
way back), which is how a test reproduces "the refresh succeeded at the server but the client never heard".
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus

import httpx


@dataclass(frozen=True)
class Sent:
    """One request as it left the SDK."""

    method: str
    url: str
    headers: dict[str, str]  # lower-case names
    form: dict[str, str]
    status: int | None = None  # None: the response was lost (or the request failed)

    @property
    def basic_credentials(self) -> tuple[str, str] | None:
        """(client_id, secret) from a Basic header, form-urldecoded as RFC 6749 §2.3.1 prescribes."""
        auth = self.headers.get("authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        raw = base64.b64decode(auth.split(" ", 1)[1]).decode()
        user, _, password = raw.partition(":")
        return unquote_plus(user), unquote_plus(password)

    @property
    def auth_method(self) -> str:
        """The client authentication method this request actually used."""
        methods = []
        if self.basic_credentials is not None:
            methods.append("client_secret_basic")
        if "client_assertion" in self.form:
            methods.append("private_key_jwt")
        if "client_secret" in self.form:
            methods.append("client_secret_post")
        if len(methods) > 1:
            return "+".join(methods)  # more than one method in one request: RFC 6749 §2.3 forbids it
        return methods[0] if methods else "none"

    @property
    def refresh_token(self) -> str | None:
        return self.form.get("refresh_token")


class WireTap(httpx.AsyncBaseTransport):
    """Records every request; optionally drops the next ``lose`` responses after the server answered."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.sent: list[Sent] = []
        self.lose = 0
        #: (request, status, body) of every response that was dropped: what the SDK never saw.
        self.lost: list[tuple[Sent, int, bytes]] = []
        #: When set, responses wait for this event before reaching the SDK (a slow network path back);
        #: ``held`` is set while one waits.
        self.hold: asyncio.Event | None = None
        self.held = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        ctype = request.headers.get("content-type", "")
        form = dict(parse_qsl(body.decode(), keep_blank_values=True)) if "form-urlencoded" in ctype else {}
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException:
            self.sent.append(Sent(request.method, str(request.url), headers, form))
            raise
        if self.hold is not None:
            await response.aread()
            self.held.set()
            await self.hold.wait()
        if self.lose > 0:
            self.lose -= 1
            body = await response.aread()  # the server has done its work (e.g. rotated the refresh token)
            await response.aclose()
            sent = Sent(request.method, str(request.url), headers, form)
            self.sent.append(sent)
            self.lost.append((sent, response.status_code, body))
            raise httpx.ReadError("connection reset while reading the response (interop fault injection)")
        self.sent.append(Sent(request.method, str(request.url), headers, form, response.status_code))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def token_requests(self, url: str) -> list[Sent]:
        return [s for s in self.sent if s.url == url]
