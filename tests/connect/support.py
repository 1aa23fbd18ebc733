"""Shared by the connect tests: a sandbox with an authorization endpoint, a config naming it, a host, a recorder
of events, and a "browser" that signs in at the sandbox and returns where it was redirected."""

from __future__ import annotations

import html.parser
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from freshtoken import hookimpl
from freshtoken.embedded import generate_key
from freshtoken.events import Event
from freshtoken.sandbox.server import SandboxAuthServer, SandboxServer

CLIENT_ID = "connect-client"
#: Planted secrets: looked for in every output.
CLIENT_SECRET = "PLANTED-connect-secret-9b2c71"
ADMIN_TOKEN = "PLANTED-connect-admin-5e8d13"
USER, PASSWORD = "alice", "PLANTED-user-password-3a1f"
KEY = "acme:sandbox:alice"


def sandbox_server(**options: Any) -> SandboxServer:
    app = SandboxAuthServer(clients={CLIENT_ID: CLIENT_SECRET}, users={USER: PASSWORD}, **options)
    return SandboxServer(app)


def write_config(folder: Path, sandbox_url: str, *, extra: str = "", pkce: bool = True) -> Path:
    text = f"""
[clients.sandbox]
provider = "generic"
client_id = "{CLIENT_ID}"
client_secret = {{ env = "FT_CONNECT_CLIENT_SECRET" }}
auth_method = "client_secret_basic"
[clients.sandbox.provider_options]
token_url = "{sandbox_url}/token"
authorize_url = "{sandbox_url}/authorize"
revocation_url = "{sandbox_url}/revoke"
default_scopes = ["read", "offline"]
pkce = {str(pkce).lower()}
timeout = 5.0

[runtime]
database = "state.db"
startup_spread = 0

[kv]
backend = "sqlite"
path = "kv.db"

[admin]
token = {{ env = "FT_CONNECT_ADMIN_TOKEN" }}
"""
    path = folder / "freshtoken.toml"
    path.write_text(text + extra)
    return path


def set_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_CONNECT_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("FT_CONNECT_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", os.environ.get("FT_CONNECT_TEST_KEY") or generate_key("test"))
    monkeypatch.delenv("FRESHTOKEN_CONFIG", raising=False)


class Recorder:
    """A plugin recording every event it is given (by hook name)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []

    def named(self, hook: str) -> list[Event]:
        return [e for h, e in self.events if h == hook]

    @hookimpl
    def freshtoken_account_recovered(self, event: Event) -> None:
        self.events.append(("freshtoken_account_recovered", event))

    @hookimpl
    def freshtoken_reauth_required(self, event: Event) -> None:
        self.events.append(("freshtoken_reauth_required", event))

    @hookimpl
    def freshtoken_refresh_succeeded(self, event: Event) -> None:
        self.events.append(("freshtoken_refresh_succeeded", event))


# -- a browser --------------------------------------------------------------------------------------------------
class _Forms(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get"), "fields": {}})
        elif tag == "input" and self.forms and a.get("name") and a.get("type") != "submit":
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


def sandbox_authorize(url: str, *, action: str = "approve", user: str = USER, password: str = PASSWORD) -> str:
    """Play the user at the sandbox: open the authorization URL, fill its login and consent form, submit it;
    return the redirect's Location (not followed)."""
    with httpx.Client(follow_redirects=False, trust_env=False, timeout=10) as http:
        page = http.get(url)
        assert page.status_code == 200, page.text
        parser = _Forms()
        parser.feed(page.text)
        (form,) = parser.forms
        data = {**form["fields"], "username": user, "password": password, "action": action}
        resp = http.post(urljoin(url, form["action"]), data=data)
        assert resp.status_code == 302, resp.text
        return str(resp.headers["location"])


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def kv_record(kv: Any, key: str) -> dict[str, Any] | None:
    raw = kv.get_sync(key)
    return None if raw is None else json.loads(raw)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with sandbox_server(lifetime=3600).run_in_thread() as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer) -> Iterator[Path]:
    set_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    sandbox.app.faults.clear()
    yield tmp_path
    sandbox.app.faults.clear()
