"""A scripted token endpoint on 127.0.0.1, and an httpx transport that sends every request to it.

The endpoint is real HTTP (a threaded stdlib server, so the kit needs no extra dependency). A test
queues :class:`Reply` objects; each request to the endpoint pops the next one (status, body, headers,
delay) and is recorded as a :class:`Recorded` request for the test to inspect.

Providers build their real URLs (``https://{shop}.myshopify.com/...``); :class:`RedirectTransport`
rewrites every request to the local endpoint, keeping the path, and remembers the URL the provider
*meant* to reach, so a test can check both what was sent and where it would have gone.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import httpx

#: Header the transport adds to carry the URL the provider targeted; the endpoint strips it.
TARGET_HEADER = "x-freshtoken-kit-target"


@dataclass
class Reply:
    """One scripted answer. ``body``: a dict/list (sent as JSON), str or bytes (sent as is), or None."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str = "application/json"

    def raw(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Recorded:
    """A request the endpoint received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    target: str | None

    @property
    def params(self) -> dict[str, str]:
        """The request parameters, from a form or a JSON body."""
        if self.headers.get("content-type", "").startswith("application/json"):
            try:
                data = json.loads(self.body)
            except ValueError:
                return {}
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """(client_id, client_secret) from an ``Authorization: Basic`` header, form-decoded (RFC 6749)."""
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return unquote_plus(user), unquote_plus(password)

    @property
    def client_id(self) -> str | None:
        basic = self.basic_auth
        return basic[0] if basic else self.params.get("client_id")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        target = headers.pop(TARGET_HEADER, None)
        reply = self.server.endpoint._take(Recorded(self.command, self.path, headers, body, target))
        if reply.delay:
            time.sleep(reply.delay)
        raw = reply.raw()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Cache-Control", "no-store")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: TokenEndpoint


class TokenEndpoint:
    """A scripted token endpoint on 127.0.0.1 (a random free port), served from a daemon thread.

    ::

        with TokenEndpoint() as endpoint:
            endpoint.script(Reply(200, {"access_token": "at", "expires_in": 3600}))
            ...
            assert endpoint.requests[0].params["grant_type"] == "refresh_token"
    """

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.endpoint = self
        self._lock = threading.Lock()
        self._replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TokenEndpoint:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name="freshtoken-kit-endpoint", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread = None

    def __enter__(self) -> TokenEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self.requests = []

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order, one per request."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._replies)

    def _take(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._replies:
                return self._replies.popleft()
        return Reply(599, {"error": "kit_unscripted", "error_description": "no reply scripted for this request"})

    def transport(self) -> RedirectTransport:
        return RedirectTransport(self)


class RedirectTransport(httpx.AsyncBaseTransport):
    """Sends every request to a :class:`TokenEndpoint`, keeping path and query; records the target URL.

    ``targets`` lists every URL a request was *attempted* for, so "no request went out" is
    ``transport.targets == []``.
    """

    def __init__(self, endpoint: TokenEndpoint) -> None:
        self.endpoint = endpoint
        self.targets: list[str] = []
        # Plain HTTP to 127.0.0.1 only: skip loading the CA bundle (the slow part of a transport).
        self._inner = httpx.AsyncHTTPTransport(verify=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = str(request.url)
        self.targets.append(target)
        url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.endpoint.port)
        headers = httpx.Headers(request.headers)
        headers[TARGET_HEADER] = target
        local = httpx.Request(
            request.method, url, headers=headers, stream=request.stream, extensions=request.extensions
        )
        return await self._inner.handle_async_request(local)

    async def aclose(self) -> None:
        await self._inner.aclose()
