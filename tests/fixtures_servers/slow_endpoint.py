"""Token endpoints on 127.0.0.1 that are slow the way an attacker or a broken proxy is slow — one HTTP layer,
two behaviours.

The HTTP layer (:class:`RawEndpoint`): raw HTTP/1.1 over asyncio (keep-alive, Content-Length or chunked request
bodies), run either in the test's event loop (``async with endpoint: ...``) or from a background thread with its
own loop (``with endpoint.running(): ...``: a test that blocks on subprocesses while the endpoint keeps
dripping). Each request is recorded as an :class:`Exchange`. Refresh tokens are never printed by the helpers;
tests compare them by value.

:class:`SlowTokenEndpoint` — modes per *request*, in front of the rotating sandbox authorization server's token
logic (:class:`~freshtoken.sandbox.server.SandboxAuthServer`: rotation on, reuse detection). Each token request, as it
arrives, takes the next mode queued in ``modes``, or ``mode`` when the queue is empty:

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
reuse in ``app.stats``).

:class:`DripEndpoint` — modes per *grant* (a family of refresh tokens), with its own rotation and reuse
detection (RFC 9700 §4.14.2):

``"normal"``
    The current refresh token is answered at once with a new one; a used one revokes the family.
``"drip"``
    ``200`` headers (chunked), then one space every ``interval`` seconds (JSON allows leading whitespace, so
    every byte is part of a valid answer), for as long as the client keeps the connection open. No answer
    ever completes and nothing is rotated: a client that bounds only each read (httpx's timeout) never
    gives up.
``"hold"``
    Like ``"drip"`` until the test calls :meth:`DripEndpoint.release`; then the JSON of a *success* with a new
    refresh token (a provider without reuse detection: the worst case for a late answer, which then looks
    valid). Requests of a held family that arrive while one is held are answered as ``"normal"`` (rotation).

Counts: ``received[rt]``, ``overlaps`` (a request of a family arriving while another of the same family is
open), ``reuse_detected``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from freshtoken.sandbox.server import SandboxAuthServer


@dataclass
class Exchange:
    """One token request as the endpoint saw it (monotonic times)."""

    mode: str
    refresh_token: str | None
    #: the grant's family (DripEndpoint); None on SlowTokenEndpoint
    family: str | None = None
    opened: float = field(default_factory=time.monotonic)
    #: "answered"; "client_closed" (the client went away first); "dropped" (held, client gone, not committed);
    #: "late_answer" (a held request released)
    ended: str = ""
    ended_at: float = 0.0
    dripped: int = 0
    committed: bool = False

    @property
    def duration(self) -> float:
        return (self.ended_at or time.monotonic()) - self.opened


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def params(self) -> dict[str, str]:
        """The form (or JSON) parameters of the body."""
        if self.headers.get("content-type", "").startswith("application/json"):
            with contextlib.suppress(ValueError, AttributeError):
                return {str(k): str(v) for k, v in json.loads(self.body).items()}
        return dict(parse_qsl(self.body.decode("utf-8", "replace")))


class RawEndpoint:
    """The HTTP layer: subclasses answer one request in :meth:`_handle`."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def of(self, mode: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.mode == mode]

    # -- in the test's loop ---------------------------------------------------------------------------
    async def start(self) -> Any:
        self._loop = asyncio.get_running_loop()
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

    async def __aenter__(self) -> Any:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- from a thread ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self) -> Iterator[Any]:
        """Serve from a background thread with its own event loop, for the ``with`` block."""
        ready = threading.Event()
        stop: list[asyncio.Event] = []

        async def main() -> None:
            await self.start()
            done = asyncio.Event()
            stop.append(done)
            ready.set()
            await done.wait()
            await self.stop()

        thread = threading.Thread(target=lambda: asyncio.run(main()), name=type(self).__name__, daemon=True)
        thread.start()
        assert ready.wait(10), f"{type(self).__name__} did not start"
        try:
            yield self
        finally:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(stop[0].set)
            thread.join(timeout=10)

    # -- HTTP -------------------------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    return
                if not await self._handle(reader, writer, request):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._conns.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request) -> bool:
        """Answer one request; False when the connection is finished."""
        raise NotImplementedError


class SlowTokenEndpoint(RawEndpoint):
    """See the module docstring. ``async with SlowTokenEndpoint(app) as endpoint: ...``"""

    def __init__(
        self,
        app: SandboxAuthServer | None = None,
        *,
        drip_bytes: int = 600,
        interval: float = 1.0,
        headers_after: float = 0.0,
        hold_for: float = 3600.0,
    ) -> None:
        super().__init__()
        self.app = app or SandboxAuthServer(lifetime=3600)
        self.mode = "normal"
        self.modes: deque[str] = deque()
        self.drip_bytes = drip_bytes
        self.interval = interval
        self.headers_after = headers_after
        self.hold_for = hold_for
        self.received: Counter[str] = Counter()
        self.processed: Counter[str] = Counter()
        #: Set whenever a request starts being held / dripped; cleared by the test.
        self.stalled = asyncio.Event()
        #: Set whenever a client closes a connection the endpoint was dripping to or holding.
        self.client_gone = asyncio.Event()

    def mint(self) -> dict[str, Any]:
        return self.app.mint()

    # -- queries ------------------------------------------------------------------------------------------
    def replayed(self) -> list[str]:
        """Refresh tokens the authorization server processed more than once."""
        return [rt for rt, n in self.processed.items() if n > 1]

    # -- HTTP ---------------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request) -> bool:
        method, path, headers, body = request.method, request.path, request.headers, request.body
        rt = request.params().get("refresh_token") if path == "/token" else None
        if method != "POST" or path != "/token":
            status, payload, extra = await self.app.handle(method, path, headers, body)
            await respond(writer, status, payload, extra)
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
            if await client_closes_within(reader, self.hold_for):
                exchange.ended, exchange.ended_at = "dropped", time.monotonic()
                self.client_gone.set()
                return False
        if rt is not None:
            self.processed[rt] += 1
        exchange.committed = True
        status, payload, extra = await self.app.handle(method, path, headers, body)
        if mode == "lost":
            self.stalled.set()
            if await client_closes_within(reader, self.hold_for):
                exchange.ended, exchange.ended_at = "client_closed", time.monotonic()
                self.client_gone.set()
                return False
        await respond(writer, status, payload, extra)
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


@dataclass
class Family:
    mode: str
    current: str
    used: set[str] = field(default_factory=set)
    revoked: bool = False
    open: int = 0
    issued: list[str] = field(default_factory=list)


class DripEndpoint(RawEndpoint):
    """See the module docstring. ``with DripEndpoint().running() as ep: ...``"""

    def __init__(self, *, interval: float = 0.25, lifetime: int = 3600) -> None:
        super().__init__()
        self.interval = interval
        self.lifetime = lifetime
        self.families: dict[str, Family] = {}
        self._by_token: dict[str, str] = {}
        self.received: Counter[str] = Counter()
        self.overlaps = 0
        self.reuse_detected = 0
        #: Called (from the endpoint's thread) when a drip or hold request opens: ``on_stall(exchange)``.
        self.on_stall: Callable[[Exchange], None] | None = None
        self._released: dict[str, asyncio.Event] = {}
        self._lock = threading.Lock()

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

    def snapshot(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)

    # -- serving ---------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request) -> bool:
        if request.method != "POST" or request.path != "/token":
            await respond(writer, 404, {"error": "not_found"}, NO_STORE)
            return True
        rt = request.params().get("refresh_token")
        with self._lock:
            fid = self._by_token.get(rt or "")
            fam = self.families.get(fid) if fid else None
            mode = fam.mode if fam is not None else "normal"
            if mode == "hold" and fid in self._released:
                mode = "normal"  # one held request per family at a time; the others rotate normally
            exchange = Exchange(mode, rt, family=fid)
            self.exchanges.append(exchange)
            if rt is not None:
                self.received[rt] += 1
            if fam is not None:
                if fam.open > 0:
                    self.overlaps += 1
                fam.open += 1
        try:
            if fam is None or rt is None:
                await respond(writer, 400, {"error": "invalid_grant", "error_description": "unknown refresh token"}, NO_STORE)
                exchange.ended, exchange.ended_at = "answered", time.monotonic()
                return True
            if mode == "normal":
                status, payload = self._rotate(fam, rt)
                await respond(writer, status, payload, NO_STORE)
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


NO_STORE = {"cache-control": "no-store"}


async def client_closes_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True if the client closes the connection within ``seconds`` (it sends nothing more meanwhile)."""
    try:
        data = await asyncio.wait_for(reader.read(1), seconds)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return data == b""


async def read_request(reader: asyncio.StreamReader) -> Request | None:
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
    return Request(method, target.split("?", 1)[0], headers, body)


async def respond(writer: asyncio.StreamWriter, status: int, payload: Any, extra: dict[str, str]) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(raw)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
    writer.write(head.encode() + b"\r\n" + raw)
    await writer.drain()


__all__ = ["DripEndpoint", "Exchange", "Family", "RawEndpoint", "Request", "SlowTokenEndpoint"]
