"""Token endpoints for the benchmarks, each run in its own process, and a load generator to measure them.

``fast``     a minimal HTTP/1.1 token endpoint on raw asyncio (keep-alive, pipelining): ``grant_type=
             refresh_token`` with client authentication (Basic, RFC 6749 §2.3.1 urlencoded, or post) and
             *rotating* refresh tokens with reuse detection. Refresh tokens are ``rt.<family>.<generation>``:
             any family starts at generation 0 without being minted, so a million accounts cost nothing
             up front; presenting an older generation is a reuse and answers ``invalid_grant``.
             ``GET /stats`` returns counters. ``--token-bytes N`` pads the access tokens to N bytes and the refresh
             tokens to N / 2 (``rt.<family>.<generation>.<padding>``: see :func:`refresh_token`), for rows the
             size of real JWTs (a Microsoft Entra access token is 1.5–2.5 KB).
``sandbox``  freshtoken's own :class:`~freshtoken.sandbox.server.SandboxAuthServer` under uvicorn (latency
             injection), plus ``POST /_bench/mint?n=N`` to mint N grants over HTTP.
``loadgen``  raw asyncio keep-alive clients hammering ``fast`` (no pipelining, like httpx), to measure the
             endpoint's own limit.

    python -m bench.endpoint fast --port 8800 --lifetime 3600
    python -m bench.endpoint sandbox --port 8801 --latency 0.2 --lifetime 120
    python -m bench.endpoint capacity          # measures `fast` alone, prints JSON
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
import sys
import time
from typing import Any
from urllib.parse import parse_qs, unquote_plus

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"


def _pad(token: str, size: int) -> str:
    return token if len(token) + 1 >= size else f"{token}.{'p' * (size - len(token) - 1)}"


def refresh_token(family: str, generation: int, token_bytes: int = 0) -> str:
    """A refresh token of the ``fast`` endpoint (padded to ``token_bytes`` / 2 when given)."""
    return _pad(f"rt.{family}.{generation}", token_bytes // 2)


# -- fast endpoint ----------------------------------------------------------------------------------
class FastTokenServer:
    def __init__(self, lifetime: int, latency: float = 0.0, token_bytes: int = 0) -> None:
        self.lifetime = lifetime
        self.token_bytes = token_bytes
        self.latency = latency
        self.generations: dict[bytes, int] = {}
        self.stats = {"requests": 0, "refreshes": 0, "reuse_detected": 0, "errors": 0}
        self._basic = b"Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode())

    def handle(self, method: bytes, path: bytes, auth: bytes | None, body: bytes) -> tuple[int, bytes]:
        if path == b"/stats":
            return 200, json.dumps(self.stats | {"families": len(self.generations)}).encode()
        if path != b"/token" or method != b"POST":
            return 404, b'{"error":"not_found"}'
        self.stats["requests"] += 1
        params: dict[bytes, bytes] = {}
        for part in body.split(b"&"):
            k, _, v = part.partition(b"=")
            params[k] = v
        if auth is not None:
            ok = auth == self._basic
        else:
            ok = params.get(b"client_id") == CLIENT_ID.encode() and (
                unquote_plus(params.get(b"client_secret", b"").decode()) == CLIENT_SECRET
            )
        if not ok:
            self.stats["errors"] += 1
            return 401, b'{"error":"invalid_client"}'
        if params.get(b"grant_type") != b"refresh_token":
            self.stats["errors"] += 1
            return 400, b'{"error":"unsupported_grant_type"}'
        parts = params.get(b"refresh_token", b"").split(b".")
        if len(parts) not in (3, 4) or parts[0] != b"rt" or not parts[2].isdigit():
            self.stats["errors"] += 1
            return 400, b'{"error":"invalid_grant","error_description":"unknown refresh token"}'
        family, gen = parts[1], int(parts[2])
        current = self.generations.get(family, 0)
        if gen != current:
            self.stats["reuse_detected"] += 1
            return 400, b'{"error":"invalid_grant","error_description":"refresh token reused"}'
        self.generations[family] = gen + 1
        self.stats["refreshes"] += 1
        fam = family.decode()
        access = _pad(f"at.{fam}.{gen + 1}", self.token_bytes)
        return 200, (
            f'{{"access_token":"{access}","token_type":"Bearer","expires_in":{self.lifetime},'
            f'"refresh_token":"{refresh_token(fam, gen + 1, self.token_bytes)}"}}'
        ).encode()


_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found"}


class _ServerProtocol(asyncio.Protocol):
    def __init__(self, app: FastTokenServer) -> None:
        self.app = app
        self.buf = bytearray()
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(buf[:end]).split(b"\r\n")
            method, path, _ = lines[0].split(b" ", 2)
            length = 0
            auth = None
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"authorization":
                    auth = value.strip()
            if len(buf) < end + 4 + length:
                return
            body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            status, payload = self.app.handle(method, path.split(b"?", 1)[0], auth, body)
            response = (
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncache-control: no-store\r\n"
                b"content-length: %d\r\n\r\n%s" % (status, _REASONS.get(status, b"X"), len(payload), payload)
            )
            if self.app.latency:
                asyncio.get_running_loop().call_later(self.app.latency, self._write, response)
            else:
                self.transport.write(response)

    def _write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)


async def serve_fast(port: int, lifetime: int, latency: float, token_bytes: int = 0) -> None:
    app = FastTokenServer(lifetime, latency, token_bytes)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _ServerProtocol(app), "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


# -- sandbox under uvicorn ----------------------------------------------------------------------------
def serve_sandbox(port: int, lifetime: int, latency: float) -> None:
    import uvicorn

    from freshtoken.sandbox.server import SandboxAuthServer

    sandbox = SandboxAuthServer(lifetime=lifetime, latency=latency, clients={CLIENT_ID: CLIENT_SECRET})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/mint":
            n = int(parse_qs(scope.get("query_string", b"").decode()).get("n", ["1"])[0])
            raw = json.dumps([sandbox.mint(CLIENT_ID) for _ in range(n)]).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": raw})
            return
        await sandbox(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off",
                timeout_keep_alive=60, backlog=2048)


# -- load generator --------------------------------------------------------------------------------------
class _ClientProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        i = head.find(b"content-length:")
        length = int(head[i + 15 :].split(b"\r\n", 1)[0])
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        del self.buf[: end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)


async def loadgen(port: int, connections: int, duration: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    counts = {"ok": 0, "other": 0}
    deadline = time.monotonic() + duration

    async def worker(w: int) -> None:
        _, proto = await loop.create_connection(_ClientProtocol, "127.0.0.1", port)
        gen = 0
        while time.monotonic() < deadline:
            body = f"grant_type=refresh_token&refresh_token=rt.lg{w}x{int(deadline)}.{gen}".encode()
            req = (
                f"POST /token HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\naccept: application/json\r\n"
                f"content-type: application/x-www-form-urlencoded\r\nauthorization: Basic {basic}\r\n"
                f"content-length: {len(body)}\r\n\r\n"
            ).encode() + body
            proto.waiter = loop.create_future()
            proto.transport.write(req)
            status = await proto.waiter
            if status == 200:
                counts["ok"] += 1
                gen += 1
            else:
                counts["other"] += 1
        proto.transport.close()

    start = time.monotonic()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    elapsed = time.monotonic() - start
    return {"requests": counts["ok"] + counts["other"], "non_200": counts["other"], "seconds": elapsed,
            "rate": (counts["ok"] + counts["other"]) / elapsed}


def capacity(connections: int = 32, duration: float = 5.0) -> dict[str, Any]:
    """The fast endpoint's own limit: one endpoint process, one load-generator process, CPU of each measured.

    ``capacity_per_core`` extrapolates the rate to a fully busy endpoint core (rate / endpoint CPU share);
    when the endpoint's CPU share is near 1.0 that is its measured maximum.
    """
    from ._common import cpu_seconds, free_port, process, python_module

    port = free_port()
    with process(python_module("bench.endpoint", "fast", "--port", str(port)), port=port) as server:
        # warm up
        subprocess_run(python_module("bench.endpoint", "loadgen", "--port", str(port), "--connections", "4",
                                     "--duration", "0.5"))
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        out = subprocess_run(python_module("bench.endpoint", "loadgen", "--port", str(port), "--connections",
                                           str(connections), "--duration", str(duration)))
        cpu1, t1 = cpu_seconds(server.pid), time.monotonic()
    result = json.loads(out)
    share = (cpu1 - cpu0) / (t1 - t0)
    result["endpoint_cpu_share"] = round(share, 3)
    result["capacity_per_core"] = result["rate"] / share if share > 0 else None
    result["connections"] = connections
    return result


def subprocess_run(args: list[str]) -> str:
    import subprocess

    from ._common import ROOT

    return subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.endpoint")
    p.add_argument("mode", choices=["fast", "sandbox", "loadgen", "capacity"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--lifetime", type=int, default=3600)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--token-bytes", type=int, default=0, help="fast: pad access tokens to this size (refresh: half)")
    a = p.parse_args(argv)
    if a.mode == "fast":
        asyncio.run(serve_fast(a.port, a.lifetime, a.latency, a.token_bytes))
    elif a.mode == "sandbox":
        serve_sandbox(a.port, a.lifetime, a.latency)
    elif a.mode == "loadgen":
        print(json.dumps(asyncio.run(loadgen(a.port, a.connections, a.duration))))
    else:
        json.dump(capacity(a.connections, a.duration), sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
