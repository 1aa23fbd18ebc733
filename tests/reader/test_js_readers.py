"""The JavaScript readers on records written by the SDK: the Worker gateway (readers/js/worker.mjs) in real
workerd through miniflare reading Workers KV, and the Node reader (readers/node) on a real redis-server."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.fixtures_servers.threaded import serving

from . import toolchains
from .climbing_paths import CLIMBING, ENCODED_TOO_DEEP, PLAIN, resolved
from .sdk_records import EXPECTED, MIN_REMAINING, put_in_redis

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


class Upstream(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1, connections kept: workerd's fetch reuses a connection, and an HTTP/1.0 server's close raced that
    # reuse ("Network connection lost", a 500 in about one run of four of a test making a dozen requests)
    protocol_version = "HTTP/1.1"
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


#: The Worker gateway's GATEWAY_KEY in these tests, and the header its callers send.
CALLER_KEY = "gw-key-7Hq2Ls9Xv4Rt1Pn6Zb3Mk8Wd5Yc0Ja"
CALLER = {"Authorization": f"Bearer {CALLER_KEY}"}


@contextlib.contextmanager
def worker_gateway(records: dict[str, str], upstream: str, **gateway: object) -> Iterator[str]:
    """readers/js/worker.mjs in workerd (miniflare) with ``records`` in its Workers KV; yields its base URL.
    ``gateway``: who may call it (``gatewayKey="..."`` or ``open=True``; default: the key :data:`CALLER_KEY`)."""
    node = toolchains.node()
    toolchains.miniflare()
    config = {"upstream": upstream, "minRemaining": MIN_REMAINING, "prefix": "gw:",
              **(gateway or {"gatewayKey": CALLER_KEY})}
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


def raw_get(base: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    """GET ``path`` exactly as written (no client-side encoding); (status, JSON body or {})."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(body)
    except ValueError:
        return response.status, {}


@pytest.mark.workerd
def test_worker_gateway_in_workerd(sdk_written: dict[str, str]):
    Upstream.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    with serving(server), worker_gateway(sdk_written, f"http://127.0.0.1:{server.server_address[1]}") as url:
        answers = {}
        with httpx.Client(trust_env=False, timeout=30, headers=CALLER) as client:
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

    protocol_version = "HTTP/1.1"  # (as Upstream)

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
        with httpx.Client(trust_env=False, timeout=30, headers=CALLER) as client:
            for path in HOSTILE_PATHS:
                client.get(f"{url}/{key}{path}")
    assert Elsewhere.seen == [] or all(auth is None for _, auth in Elsewhere.seen), Elsewhere.seen
    assert Upstream.seen, "nothing reached the upstream"
    for path, auth in Upstream.seen:
        assert resolved(path).startswith("/base/"), path  # the prefix held, even where the upstream decodes
        assert auth == f"Bearer {token}"


@pytest.mark.workerd
def test_worker_gateway_refuses_a_path_that_climbs_out_of_the_upstream_base(sdk_written: dict[str, str]):
    """A path whose dot segments are hidden by encoding (``..%2f``, ``%252e%252e``), a backslash or a ``;``
    parameter passed the Worker as one segment, and took the token to ``/admin`` at an upstream that decodes
    before it routes (tests/reader/climbing_paths.py). The Worker now answers 400 ``bad_path`` before it reads
    the token, and sends nothing upstream; names with encoded slashes or dots (GitLab's ``group%2Fproject``)
    still go through as sent."""
    Upstream.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    key = "t:generic:ok"
    token = json.loads(sdk_written[key])["access_token"]
    with serving(server), \
            worker_gateway(sdk_written, f"http://127.0.0.1:{server.server_address[1]}/base") as url, \
            httpx.Client(trust_env=False, timeout=30, headers=CALLER) as client:
        refused = {}
        for path in CLIMBING + ENCODED_TOO_DEEP:
            r = client.get(f"{url}/{key}{path}")
            refused[path] = (r.status_code, r.json().get("reason"))
        assert Upstream.seen == []
        assert refused == {path: (400, "bad_path") for path in CLIMBING + ENCODED_TOO_DEEP}
        for path in PLAIN:
            r = client.get(f"{url}/{key}{path}")
            assert r.status_code == 200, (path, r.text[:300])
        # a key that is not valid percent-encoding names no account: 400, not an exception in the Worker
        # (sent as written: httpx would encode the lone "%")
        for bad in ("t:generic:ok%", "t%ZZ", "t%E0%A4%A", "t%C3%28"):
            status, answer = raw_get(url, f"/{bad}/v1/me", CALLER)
            assert (status, answer.get("reason")) == (400, "bad_path"), (bad, status, answer)
    assert [path for path, _ in Upstream.seen] == [f"/base{path}" for path in PLAIN]
    for path, auth in Upstream.seen:
        assert resolved(path).startswith("/base/") and auth == f"Bearer {token}"


@pytest.mark.workerd
def test_worker_gateway_serves_only_callers_it_was_told_of(sdk_written: dict[str, str]):
    """Whoever reaches the Worker would act upstream as any account it names: with GATEWAY_KEY it serves only
    callers that present it (compared in constant time; it never goes upstream: the account's token replaces
    it), with neither GATEWAY_KEY nor OPEN_GATEWAY it serves nobody. Before, it served everyone."""
    Upstream.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    upstream = f"http://127.0.0.1:{server.server_address[1]}"
    key = "t:generic:ok"
    token = json.loads(sdk_written[key])["access_token"]
    with serving(server), httpx.Client(trust_env=False, timeout=30) as client:
        with worker_gateway(sdk_written, upstream) as url:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": CALLER_KEY},
                            {"Authorization": f"Bearer {CALLER_KEY}x"}, {"Authorization": f"Bearer {CALLER_KEY[:-1]}"},
                            {"Authorization": f"Basic {CALLER_KEY}"}):
                r = client.get(f"{url}/{key}/v1/me", headers=headers)
                assert (r.status_code, r.json()) == (401, {"reason": "unauthenticated"}), headers
                assert r.headers["www-authenticate"] == "Bearer"
            assert Upstream.seen == []
            r = client.get(f"{url}/{key}/v1/me", headers=CALLER)
            assert r.status_code == 200
        assert Upstream.seen == [("/v1/me", f"Bearer {token}")]  # the account's token, not the caller's key
        with worker_gateway(sdk_written, upstream, unconfigured=True) as url:
            r = client.get(f"{url}/{key}/v1/me", headers=CALLER)
            assert r.status_code == 500 and r.json()["reason"] == "gateway_not_configured"
        with worker_gateway(sdk_written, upstream, open=True) as url:
            assert client.get(f"{url}/{key}/v1/me").status_code == 200
    assert len(Upstream.seen) == 2


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
