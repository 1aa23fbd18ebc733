"""A token endpoint on 127.0.0.1 that can be slow the way an attacker or a broken proxy is slow.

Raw HTTP/1.1 over asyncio (keep-alive, Content-Length or chunked request bodies), in the test's event loop,
in front of the rotating sandbox authorization server's token logic (:class:`~freshtoken.sandbox.SandboxAuthServer`:
rotation on, reuse detection). Each token request, as it arrives, takes the next mode queued in ``modes``, or
``mode`` when the queue is empty:

``"normal"``
    The refresh is committed at the authorization server (rotation) and answered at once.
``"drip"``
    Headers (``200``, ``Content-Length: drip_bytes``) after ``headers_after`` seconds, then one byte (a space)
    every ``interval`` seconds — never a token, never committed. The endpoint records whether the *client*
    closed the connection while it was still dripping.
``"hold"``
    The request is read and held for ``hold_for`` seconds *before* the authorization server sees it (a slow
    front, a queue). A request whose client goes away meanwhile is dropped uncommitted; otherwise it is then
    committed and answered.
``"lost"``
    The refresh is committed at once (the refresh token rotates), then the answer is held back until the client
    goes away (or ``hold_for`` passes): an answer lost on the wire.

Counts: ``received[rt]`` (every request carrying refresh token ``rt`` that reached the endpoint) and
``processed[rt]`` (requests for ``rt`` that reached the authorization server's logic, which rotates and counts
reuse in ``app.stats``). ``exchanges`` records each request: mode, how it ended, how many bytes were dripped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from freshtoken.sandbox import SandboxAuthServer


@dataclass
class Exchange:
    """One token request as the endpoint saw it."""

    mode: str
    refresh_token: str | None
    opened: float = field(default_factory=time.monotonic)
    #: "answered", "client_closed" (the client went away first), "dropped" (held, client gone, not committed)
    ended: str = ""
    ended_at: float = 0.0
    dripped: int = 0
    committed: bool = False

    @property
    def duration(self) -> float:
        return (self.ended_at or time.monotonic()) - self.opened


class SlowTokenEndpoint:
    def __init__(
        self,
        app: SandboxAuthServer | None = None,
        *,
        drip_bytes: int = 600,
        interval: float = 1.0,
        headers_after: float = 0.0,
        hold_for: float = 3600.0,
    ) -> None:
        self.app = app or SandboxAuthServer(lifetime=3600)
        self.mode = "normal"
        self.modes: deque[str] = deque()
        self.drip_bytes = drip_bytes
        self.interval = interval
        self.headers_after = headers_after
        self.hold_for = hold_for
        self.received: Counter[str] = Counter()
        self.processed: Counter[str] = Counter()
        self.exchanges: list[Exchange] = []
        #: Set whenever a request starts being held / dripped; cleared by the test.
        self.stalled = asyncio.Event()
        #: Set whenever a client closes a connection the endpoint was dripping to or holding.
        self.client_gone = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def mint(self) -> dict[str, Any]:
        return self.app.mint()

    async def start(self) -> SlowTokenEndpoint:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        for task in list(self._conns):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> SlowTokenEndpoint:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- queries ------------------------------------------------------------------------------------------
    def of(self, mode: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.mode == mode]

    def replayed(self) -> list[str]:
        """Refresh tokens the authorization server processed more than once."""
        return [rt for rt, n in self.processed.items() if n > 1]

    # -- HTTP ---------------------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                if not await self._handle(reader, writer, *request):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._conns.discard(task)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str,
                      headers: dict[str, str], body: bytes) -> bool:
        """Answer one request; False when the connection is finished."""
        params = dict(parse_qsl(body.decode("utf-8", "replace"))) if path == "/token" else {}
        if headers.get("content-type", "").startswith("application/json") and path == "/token":
            with contextlib.suppress(ValueError, AttributeError):
                params = {str(k): str(v) for k, v in json.loads(body).items()}
        rt = params.get("refresh_token")
        if method != "POST" or path != "/token":
            status, payload, extra = await self.app.handle(method, path, headers, body)
            await _respond(writer, status, payload, extra)
            return True
        mode = self.modes.popleft() if self.modes else self.mode
        exchange = Exchange(mode, rt)
        self.exchanges.append(exchange)
        if rt is not None:
            self.received[rt] += 1
        if mode == "drip":
            await self._drip(reader, writer, exchange)
            return False
        if mode == "hold":
            self.stalled.set()
            if await _client_closes_within(reader, self.hold_for):
                exchange.ended, exchange.ended_at = "dropped", time.monotonic()
                self.client_gone.set()
                return False
        if rt is not None:
            self.processed[rt] += 1
        exchange.committed = True
        status, payload, extra = await self.app.handle(method, path, headers, body)
        if mode == "lost":
            self.stalled.set()
            if await _client_closes_within(reader, self.hold_for):
                exchange.ended, exchange.ended_at = "client_closed", time.monotonic()
                self.client_gone.set()
                return False
        await _respond(writer, status, payload, extra)
        exchange.ended, exchange.ended_at = "answered", time.monotonic()
        return True

    async def _drip(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, exchange: Exchange) -> None:
        self.stalled.set()
        closed = asyncio.ensure_future(reader.read(1))  # b"" once the client closes (no pipelining)
        try:
            if self.headers_after:
                await asyncio.wait({closed}, timeout=self.headers_after)
            if not closed.done():
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {self.drip_bytes}\r\ncache-control: no-store\r\n\r\n".encode()
                )
                await writer.drain()
            while not closed.done() and exchange.dripped < self.drip_bytes:
                await asyncio.wait({closed}, timeout=self.interval)
                if closed.done():
                    break
                writer.write(b" ")
                await writer.drain()
                exchange.dripped += 1
        except ConnectionError:
            pass
        finally:
            if closed.done() or exchange.dripped < self.drip_bytes:
                exchange.ended = "client_closed"
                self.client_gone.set()
            else:
                exchange.ended = "answered"
            exchange.ended_at = time.monotonic()
            closed.cancel()


async def _client_closes_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True if the client closes the connection within ``seconds`` (it sends nothing more meanwhile)."""
    try:
        data = await asyncio.wait_for(reader.read(1), seconds)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return data == b""


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, target.split("?", 1)[0], headers, body


async def _respond(writer: asyncio.StreamWriter, status: int, payload: Any, extra: dict[str, str]) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(raw)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
    writer.write(head.encode() + b"\r\n" + raw)
    await writer.drain()


__all__ = ["Exchange", "SlowTokenEndpoint"]
