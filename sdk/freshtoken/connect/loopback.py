"""The loopback redirect listener of ``freshtoken connect`` (RFC 8252 §7.3): an HTTP listener on 127.0.0.1
(an ephemeral port unless one is named) that waits for ONE request to :data:`CALLBACK_PATH`, hands its query to
a handler, answers the browser with a small page (never a secret), and closes. Other paths (a browser's
``/favicon.ico``) get a 404 and the wait goes on; no request within the timeout is a :class:`TimeoutError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

CALLBACK_PATH = "/callback"
MAX_REQUEST_HEAD = 16 * 1024
#: Seconds one connection has to send its request head.
READ_TIMEOUT = 10.0

#: The handler's answer to the browser: (HTTP status, one line of text for the page).
Page = tuple[int, str]


def page(status: int, title: str, text: str) -> bytes:
    """A small HTML page; ``title`` and ``text`` are escaped."""
    body = (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>").encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n"
            "Connection: close\r\n\r\n").encode()
    return head + body


class LoopbackListener:
    """Listen on ``127.0.0.1:port`` (0: ephemeral). :attr:`redirect_uri` once :meth:`start` returned; it names
    ``redirect_host`` (``127.0.0.1``, or ``localhost`` for a provider that only accepts that name), the listener
    is on 127.0.0.1 either way."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1", redirect_host: str | None = None) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {port}")
        if redirect_host not in (None, "127.0.0.1", "localhost"):
            raise ValueError(f"redirect_host must be 127.0.0.1 or localhost, not {redirect_host!r}")
        self.host = host
        self.redirect_host = redirect_host or host
        self._port = port
        self._server: asyncio.Server | None = None
        self._handler: Callable[[dict[str, str]], Awaitable[tuple[int, str, str]]] | None = None
        self._done: asyncio.Future[None] | None = None
        self._busy = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def redirect_uri(self) -> str:
        return f"http://{self.redirect_host}:{self._port}{CALLBACK_PATH}"

    async def start(self) -> None:
        self._done = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def wait(self, handler: Callable[[dict[str, str]], Awaitable[tuple[int, str, str]]], *,
                   timeout: float) -> None:
        """Serve until one callback was handled (``handler(query) -> (status, title, text)``), then close.
        :class:`TimeoutError` if none came within ``timeout`` seconds."""
        assert self._done is not None, "start() first"
        self._handler = handler
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._done)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(READ_TIMEOUT):
                    head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                return
            if len(head) > MAX_REQUEST_HEAD:
                return
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != "GET":
                writer.write(page(400, "Bad request", "Only GET is served here."))
                return
            target = urlsplit(parts[1])
            if target.path != CALLBACK_PATH or self._handler is None or self._busy or (
                    self._done is not None and self._done.done()):
                writer.write(page(404, "Not found", "Nothing is served here."))
                return
            self._busy = True
            query = {k: v[0] for k, v in parse_qs(target.query, keep_blank_values=True).items()}
            try:
                status, title, text = await self._handler(query)
                writer.write(page(status, title, text))
                with contextlib.suppress(Exception):
                    await writer.drain()
            finally:
                if self._done is not None and not self._done.done():
                    self._done.set_result(None)
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
                writer.close()
                await writer.wait_closed()
