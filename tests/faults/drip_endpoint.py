"""A token endpoint on 127.0.0.1 for the custody tests: rotating refresh tokens like the sandbox, plus
grants whose requests are answered slowly, the way an attacker or a broken proxy is slow.

Raw HTTP/1.1 over asyncio (keep-alive), served from a background thread with its own event loop, so that
a test can block on subprocesses while the endpoint keeps dripping. Each grant (a *family*) has a mode:

``"normal"``
    Rotation with reuse detection (RFC 9700 §4.14.2), as :class:`freshtoken.sandbox.SandboxAuthServer`: the
    current refresh token is answered at once with a new one; a used one revokes the family.
``"drip"``
    ``200`` headers (chunked), then one space every ``interval`` seconds (JSON allows leading whitespace, so
    every byte is part of a valid answer), for as long as the client keeps the connection open. No answer
    ever completes and nothing is rotated: a client that bounds only each read (httpx's timeout) never
    gives up.
``"hold"``
    Like ``"drip"`` until the test calls :meth:`DripEndpoint.release`; then the JSON of a *success* with a new
    refresh token (a provider without reuse detection: the worst case for a late answer, which then looks
    valid). Requests of a held family that arrive while one is held are answered as ``"normal"`` (rotation).

Counts: ``received[rt]`` (requests carrying refresh token ``rt``), ``overlaps`` (a request of a family
arriving while another of the same family is open), ``reuse_detected``; ``exchanges`` records each request.
Refresh tokens are never printed by the helpers; tests compare them by value.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Family:
    mode: str
    current: str
    used: set[str] = field(default_factory=set)
    revoked: bool = False
    open: int = 0
    issued: list[str] = field(default_factory=list)


@dataclass
class Exchange:
    """One token request as the endpoint saw it (monotonic times)."""

    family: str | None
    refresh_token: str | None
    mode: str
    opened: float = field(default_factory=time.monotonic)
    ended: str = ""  # "answered", "client_closed", "late_answer"
    ended_at: float = 0.0
    dripped: int = 0


class DripEndpoint:
    """See the module docstring. ``with DripEndpoint().running() as ep: ...``"""

    def __init__(self, *, interval: float = 0.25, lifetime: int = 3600) -> None:
        self.interval = interval
        self.lifetime = lifetime
        self.families: dict[str, Family] = {}
        self._by_token: dict[str, str] = {}
        self.received: Counter[str] = Counter()
        self.overlaps = 0
        self.reuse_detected = 0
        self.exchanges: list[Exchange] = []
        #: Called (from the endpoint's thread) when a drip or hold request opens: ``on_stall(exchange)``.
        self.on_stall: Callable[[Exchange], None] | None = None
        self._released: dict[str, asyncio.Event] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0

    # -- grants -------------------------------------------------------------------------------------
    def mint(self, mode: str = "normal") -> str:
        """A new grant in ``mode``; returns its refresh token."""
        assert mode in ("normal", "drip", "hold")
        fid = secrets.token_hex(6)
        rt = "rt-" + secrets.token_urlsafe(18)
        with self._lock:
            self.families[fid] = Family(mode=mode, current=rt, issued=[rt])
            self._by_token[rt] = fid
        return rt

    def family_of(self, rt: str) -> Family:
        return self.families[self._by_token[rt]]

    def release(self, rt: str) -> None:
        """Answer the held request of ``rt``'s family with a success (a new refresh token)."""
        fid = self._by_token[rt]
        assert self._loop is not None
        ev = self._released.get(fid)
        assert ev is not None, "no request of this family is held"
        self._loop.call_soon_threadsafe(ev.set)

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)

    # -- serving --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self) -> Iterator[DripEndpoint]:
        ready = threading.Event()
        stop: list[asyncio.Event] = []

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            done = asyncio.Event()
            stop.append(done)
            ready.set()
            await done.wait()
            server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        thread = threading.Thread(target=lambda: asyncio.run(main()), name="drip-endpoint", daemon=True)
        thread.start()
        assert ready.wait(10), "drip endpoint did not start"
        try:
            yield self
        finally:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(stop[0].set)
            thread.join(timeout=10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, path: str,
                      body: bytes) -> bool:
        if method != "POST" or path != "/token":
            await _respond(writer, 404, {"error": "not_found"})
            return True
        params = dict(parse_qsl(body.decode("utf-8", "replace")))
        rt = params.get("refresh_token")
        with self._lock:
            fid = self._by_token.get(rt or "")
            fam = self.families.get(fid) if fid else None
            mode = fam.mode if fam is not None else "normal"
            if mode == "hold" and fid in self._released:
                mode = "normal"  # one held request per family at a time; the others rotate normally
            exchange = Exchange(fid, rt, mode)
            self.exchanges.append(exchange)
            if rt is not None:
                self.received[rt] += 1
            if fam is not None:
                if fam.open > 0:
                    self.overlaps += 1
                fam.open += 1
        try:
            if fam is None or rt is None:
                await _respond(writer, 400, {"error": "invalid_grant", "error_description": "unknown refresh token"})
                exchange.ended, exchange.ended_at = "answered", time.monotonic()
                return True
            if mode == "normal":
                status, payload = self._rotate(fam, rt)
                await _respond(writer, status, payload)
                exchange.ended, exchange.ended_at = "answered", time.monotonic()
                return True
            return await self._stall(reader, writer, exchange, fam, fid or "")
        finally:
            with self._lock:
                fam_ = self.families.get(fid or "")
                if fam_ is not None:
                    fam_.open -= 1

    def _rotate(self, fam: Family, rt: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if fam.revoked:
                return 400, {"error": "invalid_grant", "error_description": "grant revoked"}
            if rt != fam.current:
                fam.revoked = True
                self.reuse_detected += 1
                return 400, {"error": "invalid_grant", "error_description": "refresh token reused"}
            return 200, self._issue(fam)

    def _issue(self, fam: Family) -> dict[str, Any]:
        new = "rt-" + secrets.token_urlsafe(18)
        fam.used.add(fam.current)
        fam.current = new
        fam.issued.append(new)
        self._by_token[new] = self._by_token[fam.issued[0]]
        return {"access_token": "at-" + secrets.token_urlsafe(18), "token_type": "Bearer",
                "expires_in": self.lifetime, "refresh_token": new}

    async def _stall(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, exchange: Exchange,
                     fam: Family, fid: str) -> bool:
        released = asyncio.Event()
        if exchange.mode == "hold":
            self._released[fid] = released
        if self.on_stall is not None:
            self.on_stall(exchange)
        closed = asyncio.ensure_future(reader.read(1))  # b"" once the client closes (no pipelining)
        try:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n"
                         b"cache-control: no-store\r\n\r\n")
            await writer.drain()
            while not closed.done() and not released.is_set():
                waiter = asyncio.ensure_future(released.wait())
                await asyncio.wait({closed, waiter}, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if closed.done():
                    break
                if released.is_set():
                    with self._lock:
                        payload = self._issue(fam)
                    raw = json.dumps(payload).encode()
                    writer.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n0\r\n\r\n")
                    await writer.drain()
                    exchange.ended = "late_answer"
                    return False  # and close: the pending read above must not eat a next request
                writer.write(b"1\r\n \r\n")
                await writer.drain()
                exchange.dripped += 1
            exchange.ended = "client_closed"
            return False
        except ConnectionError:
            exchange.ended = "client_closed"
            return False
        finally:
            exchange.ended_at = time.monotonic()
            closed.cancel()
            if exchange.mode == "hold":
                self._released.pop(fid, None)


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, bytes] | None:
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
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, target.split("?", 1)[0], body


async def _respond(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
    raw = json.dumps(payload).encode()
    head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(raw)}\r\n"
    head += "cache-control: no-store\r\n\r\n"
    writer.write(head.encode() + raw)
    await writer.drain()
