"""A real webhook receiver on 127.0.0.1 (stdlib ``ThreadingHTTPServer``): it checks the signature itself (HMAC
computed here, not with freshtoken's helper), can fail its first N requests, or hang until released."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.fixtures_servers.threaded import serving


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def signature_ok(secret: str, body: bytes, header: str, tolerance: float = 300.0) -> bool:
    """The receiver's check, as a reader of the README would write it."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or abs(time.time() - int(parts["t"])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class Receiver:
    def __init__(self, secret: str, *, fail_first: int = 0, hang: bool = False) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.deliveries: list[Delivery] = []
        self.started = threading.Event()  # a request arrived (for hang)
        self.release = threading.Event()
        self.hang = hang
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.started.set()
                if outer.hang:
                    outer.release.wait(60)
                with outer._lock:
                    status = 500 if len(outer.deliveries) < outer.fail_first else 200
                    outer.deliveries.append(Delivery(
                        {k.lower(): v for k, v in self.headers.items()}, body,
                        signature_ok(outer.secret, body, self.headers.get("freshtoken-signature", "")), status))
                try:
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/freshtoken"

    @property
    def accepted(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.status == 200]

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        with serving(self.server):
            try:
                yield self
            finally:
                self.release.set()
