"""Hostile token endpoints, and two witnesses that nothing was sent.

* :class:`RecordingEndpoint` — a real HTTP server on 127.0.0.2 (loopback) that records every request and
  answers a valid token. A hostile URL that points *at it* (userinfo, another scheme...) must leave it silent.
* :class:`NeverConnect` — an httpx transport for hostile URLs that point *off this machine*: it records the
  URL it was asked for and sends nothing, so a test that reaches it has failed without a packet leaving.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.fixtures_servers.threaded import serving

#: Planted values: must never reach a recorder, an error message or a log line.
CANARY_SECRET = "CanaryClientSecret-9d1e77"
CANARY_QUERY = "canary-query-6b2f"

#: URLs that point off this machine (or nowhere): refused whatever the switch says.
ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/iam",
    "https://169.254.169.254/latest/meta-data/iam",
    "https://2852039166/latest",                 # decimal 169.254.169.254
    "http://2852039166/latest",
    "https://0xa9fea9fe/latest",                  # hex
    "https://0xA9.0xFE.0xA9.0xFE/latest",         # hex per label
    "https://0251.0376.0251.0376/latest",         # octal
    "https://169.254.43518/latest",               # short form
    "https://169.254.169.254./latest",            # trailing dot
    "https://[::ffff:169.254.169.254]/latest",    # IPv4-mapped IPv6
    "https://[::ffff:a9fe:a9fe]/latest",
    "https://[64:ff9b::a9fe:a9fe]/latest",        # NAT64
    "https://[fd00:ec2::254]/latest",             # AWS metadata over IPv6
    "https://100.100.100.200/latest",             # Alibaba metadata
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://169.254.10.10/token",                # link-local
    "https://[fe80::1]/token",
    "https://[fe80::1%25eth0]/token",
    "https://0.0.0.0/token",                      # unspecified
    "https://0/token",
    "https://[::]/token",
    "https://224.0.0.1/token",                    # multicast
    "https://240.0.0.1/token",                    # reserved
    "https://255.255.255.255/token",
    "https://192.0.2.10/token",                   # documentation range
    "http://auth.example.com/oauth/token",        # plain http off loopback
    "http://10.1.2.3/token",                      # plain http to a private address: never, even with the switch
    "https://user:pw@auth.example.com/token",     # userinfo
    "https://@auth.example.com/token",
    "file:///etc/passwd",
    "gopher://auth.example.com:70/_POST",
    "ftp://auth.example.com/token",
    "data:text/plain,token",
    "https://auth.example.com\\@evil.example/token",
    "https://auth.example.com /token",
    "https://ho%73t.example/token",
]

#: Private addresses over https: refused unless ``allow_private_networks``.
PRIVATE = [
    "https://10.1.2.3/token",
    "https://172.16.5.4/token",
    "https://192.168.1.10/token",
    "https://100.64.0.7/token",
    "https://[fd12:3456::1]/token",
    "https://[::ffff:10.1.2.3]/token",
    "https://167838211/token",                    # decimal 10.1.2.3
]

#: Allowed (and never contacted by a test: they go to :class:`NeverConnect`).
ALLOWED = [
    "https://auth.example.com/oauth/token",
    "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    "https://8.8.8.8/token",
    "https://[2606:4700::1111]/token",
    "http://127.0.0.1:9/token",
    "http://127.0.0.2:9/token",
    "http://localhost:9/token",
    "http://[::1]:9/token",
]


def with_query(url: str) -> str:
    """``url`` with a planted query string (which no error message may repeat)."""
    if url.startswith(("data:", "file:")):
        return url
    return url + ("&" if "?" in url else "?") + f"client_secret={CANARY_QUERY}"


class NeverConnect(httpx.AsyncBaseTransport):
    """Records every URL it is asked for, and sends nothing."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(str(request.url))
        return httpx.Response(599, json={"error": "never_connect", "error_description": "the test transport"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.owner.requests.append((self.command, self.path, dict(self.headers), body))
        raw = json.dumps({"access_token": "at-from-recorder", "token_type": "Bearer", "expires_in": 3600,
                          "refresh_token": "rt-from-recorder"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: RecordingEndpoint


class RecordingEndpoint:
    """A token endpoint on 127.0.0.2 (by default) that records every request (and answers a token)."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.HOST = host
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._server = _Server((self.HOST, 0), _Handler)
        self._server.owner = self

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://{self.HOST}:{self.port}"

    @contextmanager
    def running(self) -> Iterator[RecordingEndpoint]:
        with serving(self._server):
            yield self


def hostile_at(recorder: RecordingEndpoint) -> list[str]:
    """Hostile URLs that point at the recorder itself: each must leave it silent."""
    host, port = recorder.HOST, recorder.port
    return [
        f"http://user:pw@{host}:{port}/token",
        f"http://{CANARY_SECRET}@{host}:{port}/token",
        f"http://@{host}:{port}/token",
        f"gopher://{host}:{port}/_POST%20/token",
        f"ftp://{host}:{port}/token",
        f"ws://{host}:{port}/token",
        f"https://user:pw@{host}:{port}/token",
    ]
