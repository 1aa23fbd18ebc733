"""A hostile token endpoint on 127.0.0.1: it answers every refresh with an error that echoes secrets.

Each account is registered with its own refresh token; the endpoint reads the refresh token from the request
and looks up what to do with it (a :data:`Mode`), so one server serves every scenario. It echoes what it was
sent (body, ``Authorization`` header) and what it knows (the account's access token) in the encodings of
:mod:`tests.security.canaries`, in the body, in response headers and in the HTTP reason phrase.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fixtures_servers.threaded import serving


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        if self.headers.get("content-type", "").startswith("application/json"):
            data = json.loads(self.body)
            return {str(k): str(v) for k, v in data.items()}
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


#: What the endpoint answers for one account: a function of the request it received.
Mode = Callable[[Request], Answer]


class HostileEndpoint:
    def __init__(self) -> None:
        self.modes: dict[str, Mode] = {}  # refresh token -> mode
        self.requests: list[Request] = []
        self.answered: list[Answer] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = Request({k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(request)
                mode = outer.modes.get(request.params.get("refresh_token", ""))
                answer = mode(request) if mode else Answer(500, {"error": "server_error"})
                outer.answered.append(answer)
                raw = json.dumps(answer.body).encode()
                self.send_response(answer.status, answer.reason)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth/token"

    @contextmanager
    def running(self) -> Iterator[HostileEndpoint]:
        with serving(self.server):
            yield self
