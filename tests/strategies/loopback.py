"""A loopback form endpoint for replaying a provider's documented answers: ``answer(path, form, headers)`` decides
the status and JSON body; it runs on a real socket, served from a thread."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.fixtures_servers.threaded import serving

Answer = Callable[[str, dict[str, str], dict[str, str]], tuple[int, dict[str, Any]]]


class FormEndpoint:
    def __init__(self, answer: Answer) -> None:
        outer = self
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                form = dict(parse_qsl(body))
                outer.requests.append((self.path, form, headers))
                status, payload = answer(self.path, form, headers)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def form_endpoint(answer: Answer) -> Iterator[FormEndpoint]:
    endpoint = FormEndpoint(answer)
    with serving(endpoint.server):
        yield endpoint
