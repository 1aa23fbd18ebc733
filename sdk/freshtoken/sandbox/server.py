"""A local sandbox authorization server: a real HTTP token endpoint on 127.0.0.1 for the demo, tests and
benchmarks. It issues short-lived access tokens and *rotating* refresh tokens with reuse detection
(RFC 9700 §4.14.2: replaying a used refresh token revokes the whole family), counts requests, detects two
refreshes of one family overlapping, and can inject faults (status, body, headers, latency).

It is not a production authorization server; for interoperability the tests use real ones
(oidc-provider, django-oauth-toolkit).

    with SandboxServer(lifetime=60).run_in_thread() as sandbox:
        grant = sandbox.mint(client_id="demo")        # {"access_token", "refresh_token", "expires_in"}
        ... point a client at sandbox.token_url ...
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from .authorize import AuthorizationEndpoint
from .machine import MACHINE_GRANTS, MachineGrants


@dataclass
class Fault:
    """A scripted answer: ``status`` and ``body`` (JSON-able or raw bytes/str), after ``delay`` seconds."""

    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    #: Still perform the refresh (rotate) before answering the fault: a response "lost" after success.
    consume: bool = False


@dataclass
class _Family:
    client_id: str
    current: str
    revoked: bool = False
    in_flight: int = 0
    refreshes: int = 0
    previous: str | None = None
    rotated_at: float = 0.0


@dataclass
class SandboxStats:
    requests: int = 0
    refreshes: int = 0
    reuse_detected: int = 0
    grace_replays: int = 0
    overlaps: int = 0
    errors: int = 0
    peak_rate: float = 0.0


class SandboxAuthServer:
    """The token endpoint as an ASGI application (no framework, so it stays cheap and fast)."""

    def __init__(
        self,
        *,
        lifetime: int = 3600,
        rotate: bool = True,
        grace: float = 0.0,
        latency: float = 0.0,
        clients: dict[str, str] | None = None,
        clock: Any = None,
        users: dict[str, str] | None = None,
    ) -> None:
        self.lifetime = lifetime
        self.rotate = rotate
        #: Seconds a rotated-out refresh token may be replayed (answered with the current refresh token),
        #: as django-oauth-toolkit's REFRESH_TOKEN_GRACE_PERIOD_SECONDS and Xero's 30 minutes do.
        self.grace = grace
        self.latency = latency
        self.clients = clients or {"sandbox-client": "sandbox-secret"}
        self.clock = clock or time
        self.families: dict[str, _Family] = {}
        self._by_token: dict[str, str] = {}
        self.faults: deque[Fault] = deque()
        #: While set, every token request gets this answer (an outage), whatever the queue holds.
        self.outage: Fault | None = None
        self.stats = SandboxStats()
        self.last_request: dict[str, Any] = {}
        self._window: deque[float] = deque()
        self._lock = threading.Lock()
        #: GET/POST /authorize and the authorization_code grant (users: username -> password; default demo).
        self.authorization = AuthorizationEndpoint(self.clients, users=users, clock=self.clock)
        #: client_credentials, jwt-bearer and the GitHub-App-shaped installation tokens (sandbox/machine.py).
        self.machine = MachineGrants(self)

    # -- grants ------------------------------------------------------------------------------------
    def mint(self, client_id: str = "sandbox-client") -> dict[str, Any]:
        """A new grant, as the authorization_code exchange would return it."""
        with self._lock:
            family_id = secrets.token_hex(8)
            rt = "rt-" + secrets.token_urlsafe(24)
            self.families[family_id] = _Family(client_id=client_id, current=rt)
            self._by_token[rt] = family_id
        return self._token_body(rt)

    def _token_body(self, rt: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": "at-" + secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": self.lifetime,
        }
        if rt is not None:
            body["refresh_token"] = rt
        return body

    def inject(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    # -- ASGI --------------------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"] == "/authorize":
            query = scope.get("query_string", b"").decode("latin-1")
            status, payload, extra = self.authorization.handle(scope["method"], query, body)
        else:
            status, payload, extra = await self.handle(scope["method"], scope["path"], headers, body)
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        extra = dict(extra)
        ctype = extra.pop("content-type", "application/json").encode()
        out = [(b"content-type", ctype), (b"content-length", str(len(raw)).encode())]
        out += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": raw})

    async def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if path == "/_sandbox/stats":
            return 200, self.stats.__dict__ | {"families": len(self.families)}, {}
        if path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
            base = f"http://{headers.get('host', '127.0.0.1')}"
            meta = {"issuer": base, "token_endpoint": f"{base}/token", "revocation_endpoint": f"{base}/revoke",
                    "authorization_endpoint": f"{base}/authorize"}
            return 200, meta, {}
        if path == "/revoke" and method == "POST":
            params = self._params(headers, body)
            with self._lock:
                fid = self._by_token.get(params.get("token", ""))
                if fid:
                    self.families[fid].revoked = True
            return 200, {}, {}
        if path.startswith("/app/installations/"):
            self._count()
            return self.machine.installation_token(method, path, headers)
        if path != "/token" or method != "POST":
            return 404, {"error": "not_found"}, {}
        self._count()
        params = self._params(headers, body)
        self.last_request = {"headers": dict(headers), "params": {k: v for k, v in params.items()}}
        fault = self.outage if self.outage is not None else (self.faults.popleft() if self.faults else None)
        delay = self.latency + (fault.delay if fault else 0.0)
        if fault is not None and not fault.consume:
            if delay:
                await asyncio.sleep(delay)
            self.stats.errors += 1
            return fault.status, _raw(fault.body), fault.headers
        if params.get("grant_type") in MACHINE_GRANTS:
            return self.machine.token(headers, params)
        client_id = self._authenticate(headers, params)
        if client_id is None:
            return 401, {"error": "invalid_client", "error_description": "client authentication failed"}, {}
        if params.get("grant_type") == "authorization_code":
            return self._code_grant(client_id, params)
        if params.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}, {}
        rt = params.get("refresh_token", "")
        with self._lock:
            fid = self._by_token.get(rt)
            fam = self.families.get(fid) if fid else None
            if fam is None or fam.client_id != client_id:
                return 400, {"error": "invalid_grant", "error_description": "unknown refresh token"}, {}
            if fam.revoked:
                return 400, {"error": "invalid_grant", "error_description": "grant revoked"}, {}
            if rt != fam.current and rt == fam.previous and self.clock.time() - fam.rotated_at <= self.grace:
                self.stats.grace_replays += 1
                return 200, self._token_body(fam.current), {"cache-control": "no-store"}
            if rt != fam.current:
                fam.revoked = True
                self.stats.reuse_detected += 1
                return 400, {"error": "invalid_grant", "error_description": "refresh token reused"}, {}
            fam.in_flight += 1
            if fam.in_flight > 1:
                self.stats.overlaps += 1
            new_rt = "rt-" + secrets.token_urlsafe(24) if self.rotate else rt
            fam.previous, fam.current, fam.rotated_at = rt, new_rt, self.clock.time()
            self._by_token[new_rt] = fid  # type: ignore[assignment]
            fam.refreshes += 1
            self.stats.refreshes += 1
        try:
            if delay:
                await asyncio.sleep(delay)
        finally:
            with self._lock:
                fam.in_flight -= 1
        if fault is not None:  # consumed: the grant rotated, the client never hears of it
            self.stats.errors += 1
            return fault.status, _raw(fault.body), fault.headers
        return 200, self._token_body(new_rt if self.rotate else None), {"cache-control": "no-store"}

    def _code_grant(self, client_id: str, params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """The authorization_code grant: a new refresh-token family for a good code (see :mod:`.authorize`)."""
        ok, answer = self.authorization.exchange(client_id, params)
        if not ok:
            return 400, answer, {}
        body = self.mint(client_id)
        if answer.get("scope"):
            body["scope"] = answer["scope"]
        return 200, body, {"cache-control": "no-store"}

    def _params(self, headers: dict[str, str], body: bytes) -> dict[str, str]:
        if headers.get("content-type", "").startswith("application/json"):
            try:
                data = json.loads(body)
                return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
            except ValueError:
                return {}
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))

    def _authenticate(self, headers: dict[str, str], params: dict[str, str]) -> str | None:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                return None
            cid, secret = unquote_plus(user), unquote_plus(password)
        else:
            cid, secret = params.get("client_id", ""), params.get("client_secret", "")
        if cid in self.clients and secrets.compare_digest(self.clients[cid], secret):
            return cid
        return None

    def _count(self) -> None:
        self.stats.requests += 1
        now = time.monotonic()
        self._window.append(now)
        while self._window and self._window[0] < now - 1.0:
            self._window.popleft()
        self.stats.peak_rate = max(self.stats.peak_rate, float(len(self._window)))


def _raw(body: Any) -> Any:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    return body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SandboxServer:
    """Serves a :class:`SandboxAuthServer` with uvicorn on 127.0.0.1."""

    def __init__(self, app: SandboxAuthServer | None = None, *, port: int | None = None, **options: Any) -> None:
        self.app = app or SandboxAuthServer(**options)
        self.port = port or free_port()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def mint(self, client_id: str = "sandbox-client") -> dict[str, Any]:
        return self.app.mint(client_id)

    def _config(self) -> Any:
        import uvicorn

        return uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
            lifespan="off", timeout_keep_alive=30,
        )

    async def start(self) -> None:
        """Serve in the running event loop (returns once listening)."""
        import uvicorn

        self._server = uvicorn.Server(self._config())
        self._task = asyncio.ensure_future(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            await self._task

    @contextlib.contextmanager
    def run_in_thread(self) -> Iterator[SandboxServer]:
        """Serve from a background thread with its own event loop."""
        import uvicorn

        server = uvicorn.Server(self._config())
        thread = threading.Thread(target=server.run, name="freshtoken-sandbox", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("sandbox authorization server did not start")
            time.sleep(0.01)
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(timeout=10)
