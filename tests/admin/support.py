"""Shared by the CLI, admin, config and alerts tests: a loopback sandbox, a config file, a host."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from freshtoken.embedded import generate_key
from freshtoken.sandbox.server import SandboxAuthServer, SandboxServer
from tests.fixtures_servers.threaded import serving

CLIENT_ID = "ui-client"
#: Planted secrets: looked for in every output.
CLIENT_SECRET = "PLANTED-client-secret-4f1d9a"
ADMIN_TOKEN = "PLANTED-admin-token-77c2e0"


def sandbox_server(**options: Any) -> SandboxServer:
    app = SandboxAuthServer(clients={CLIENT_ID: CLIENT_SECRET}, **options)
    return SandboxServer(app)


def write_config(tmp: Path, token_url: str, *, admin_token: bool = True, extra: str = "") -> Path:
    text = f"""
[clients.sandbox]
provider = "generic"
client_id = "{CLIENT_ID}"
client_secret = {{ env = "FT_TEST_CLIENT_SECRET" }}
auth_method = "client_secret_post"
[clients.sandbox.provider_options]
token_url = "{token_url}"
revocation_url = "{token_url.rsplit('/', 1)[0]}/revoke"
timeout = 5.0

[runtime]
database = "state.db"
startup_spread = 0

[kv]
backend = "sqlite"
path = "kv.db"
"""
    if admin_token:
        text += '\n[admin]\ntoken = { env = "FT_TEST_ADMIN_TOKEN" }\n'
    text += extra
    path = tmp / "freshtoken.toml"
    path.write_text(text)
    return path


def set_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_TEST_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("FT_TEST_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", generate_key("test"))
    for name in ("FRESHTOKEN_CONFIG",):
        monkeypatch.delenv(name, raising=False)


class Webhook:
    """A loopback HTTP server recording POSTed JSON (a stand-in for Slack's incoming webhook)."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.posts: list[Any] = []
        self.raw: list[bytes] = []
        self.status = status
        self.delay = delay
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.raw.append(body)
                try:
                    outer.posts.append(json.loads(body))
                except ValueError:
                    outer.posts.append(None)
                if outer.delay:
                    import time

                    time.sleep(outer.delay)
                try:
                    self.send_response(outer.status)
                    self.send_header("content-type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up (timeout tests)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/PLANTEDhookpath"

    @contextmanager
    def running(self) -> Iterator[Webhook]:
        with serving(self.server):
            yield self


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    """A loopback sandbox for a test module (imported by the CLI, admin, config and alerts conftests)."""
    with sandbox_server(lifetime=3600).run_in_thread() as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer) -> Iterator[Path]:
    """Secrets and the encryption key in the environment; cwd in a fresh folder; sandbox faults cleared."""
    set_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    sandbox.app.faults.clear()
    yield tmp_path
    sandbox.app.faults.clear()
