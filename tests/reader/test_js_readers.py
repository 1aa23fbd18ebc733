"""The JavaScript readers on records written by the SDK: the Worker gateway (readers/js/worker.mjs) in real
workerd through miniflare reading Workers KV, and the Node reader (readers/node) on a real redis-server."""

from __future__ import annotations

import contextlib
import http.server
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures_servers.threaded import serving

from . import toolchains
from .sdk_records import EXPECTED, MIN_REMAINING, put_in_redis

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


class Upstream(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        Upstream.seen.append((self.path, self.headers.get("Authorization")))
        body = b'{"upstream": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def worker_gateway(records: dict[str, str], upstream: str) -> Iterator[str]:
    """readers/js/worker.mjs in workerd (miniflare) with ``records`` in its Workers KV; yields its base URL."""
    node = toolchains.node()
    toolchains.miniflare()
    config = {"upstream": upstream, "minRemaining": MIN_REMAINING, "prefix": "gw:"}
    proc = subprocess.Popen([node, str(HERE / "worker_driver.mjs"), json.dumps(config)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(records) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line.startswith("READY "), line
        yield json.loads(line[6:])["url"].rstrip("/")
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise


@pytest.mark.workerd
def test_worker_gateway_in_workerd(sdk_written: dict[str, str]):
    Upstream.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    with serving(server), worker_gateway(sdk_written, f"http://127.0.0.1:{server.server_address[1]}") as url:
        answers = {}
        with httpx.Client(trust_env=False, timeout=30) as client:
            for key in EXPECTED:
                r = client.get(f"{url}/{key}/v1/me?x=1")
                answers[key] = (r.json().get("reason", "ok") if r.status_code != 200 else "ok", r.status_code)
                if r.status_code == 503:
                    assert r.headers["retry-after"] == "30"
    assert answers == EXPECTED
    token = json.loads(sdk_written["t:generic:ok"])["access_token"]
    # only the keys with a token reached upstream
    assert Upstream.seen == [("/v1/me?x=1", f"Bearer {token}"), ("/v1/me?x=1", "Bearer static-token-1")]


class Elsewhere(http.server.BaseHTTPRequestHandler):
    """Another origin: whatever reaches it, and with which Authorization."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        Elsewhere.seen.append((self.path, self.headers.get("Authorization")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class RedirectingUpstream(Upstream):
    """The upstream, except that ``/base/go-elsewhere`` redirects to ``RedirectingUpstream.elsewhere``."""

    elsewhere = ""

    def do_GET(self) -> None:
        if self.path.startswith("/base/go-elsewhere"):
            Upstream.seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(302)
            self.send_header("Location", RedirectingUpstream.elsewhere)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


#: Paths a caller sends after the account key, trying to steer the token away from UPSTREAM (its host, or its
#: path prefix /base/).
HOSTILE_PATHS = ["/..%2f..%2fadmin", "/%2e%2e/%2e%2e/admin", "/../../admin", "//elsewhere.example/x",
                 "/\\elsewhere.example/x", "/@elsewhere.example/x", "/%2F%2Felsewhere.example/x",
                 "/x?next=//elsewhere.example", "/go-elsewhere"]


@pytest.mark.workerd
def test_worker_gateway_sends_the_token_to_upstream_only(sdk_written: dict[str, str]):
    """A caller's path cannot take the token off UPSTREAM (its host and its path prefix), and an upstream's
    redirect to another origin does not carry it there (the Worker passes the redirect back, unfollowed, or
    fetch drops Authorization across origins)."""
    Upstream.seen, Elsewhere.seen = [], []
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RedirectingUpstream)
    RedirectingUpstream.elsewhere = f"http://127.0.0.1:{other.server_address[1]}/stolen"
    key = "t:generic:ok"
    token = json.loads(sdk_written[key])["access_token"]
    with serving(other), serving(server), \
            worker_gateway(sdk_written, f"http://127.0.0.1:{server.server_address[1]}/base") as url:
        with httpx.Client(trust_env=False, timeout=30) as client:
            for path in HOSTILE_PATHS:
                client.get(f"{url}/{key}{path}")
    assert Elsewhere.seen == [] or all(auth is None for _, auth in Elsewhere.seen), Elsewhere.seen
    assert Upstream.seen, "nothing reached the upstream"
    for path, auth in Upstream.seen:
        assert path.startswith("/base/"), path  # the prefix held
        assert auth == f"Bearer {token}"


@pytest.mark.redis
def test_node_reader_on_redis(redis_server: str, sdk_written: dict[str, str]):
    node = toolchains.node()
    toolchains.node_redis()
    prefix = "nodereader:"
    put_in_redis(redis_server, prefix, sdk_written)
    out = subprocess.run([node, str(ROOT / "readers" / "node" / "cli.mjs"), "read", redis_server, prefix,
                          str(MIN_REMAINING), *EXPECTED], capture_output=True, text=True, timeout=60, check=True)
    readings = json.loads(out.stdout)
    assert {k: (v["reason"], v["status"]) for k, v in readings.items()} == EXPECTED
    token = json.loads(sdk_written["t:generic:ok"])["access_token"]
    assert readings["t:generic:ok"]["authorization"] == f"Bearer {token}"
    assert readings["t:generic:static"]["authorization"] == "Bearer static-token-1"
    assert all("authorization" not in v for k, v in readings.items() if EXPECTED[k][0] != "ok")
