"""The admin API's connect routes over real HTTP (uvicorn on 127.0.0.1): POST /connect with an admin token, the
provider's redirect to GET /connect/callback without one (the state authenticates it), the pending connection
kept encrypted in the state database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.admin import create_app
from freshtoken.admin.auth import AdminToken, Scope
from freshtoken.admin.server import AdminServer
from freshtoken.connect.sqlite_states import SQLiteStateStore
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from freshtoken.outcome import OutcomeKind
from tests.connect.support import (
    ADMIN_TOKEN,
    CLIENT_SECRET,
    KEY,
    PASSWORD,
    Recorder,
    query_of,
    sandbox_authorize,
    write_config,
)
from tests.raw_files import raw_bytes

TENANT_TOKEN = "PLANTED-tenant-token-other-1c9e"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"accept": "application/json"}


@pytest.fixture
async def served(env: Path, sandbox: Any, recorder: Recorder) -> AsyncIterator[tuple[Any, str]]:
    from freshtoken.plugins import Plugins

    plugins = Plugins()
    plugins.register(recorder, name="connect-admin-recorder")
    host = build_host(load_settings(write_config(env, sandbox.url)), plugins=plugins)
    app = create_app(host.runtime, token=ADMIN_TOKEN, tokens=[AdminToken(TENANT_TOKEN, Scope.parse("other:*"))],
                     secrets=[CLIENT_SECRET])
    server = AdminServer(app, host="127.0.0.1", port=0, token=ADMIN_TOKEN)
    await server.start()
    try:
        yield host, server.url
    finally:
        await server.stop()
        await host.aclose()


async def start(http: httpx.AsyncClient, url: str, body: dict[str, Any], query: str = "",
                headers: dict[str, str] | None = None) -> httpx.Response:
    return await http.post(f"{url}/connect{query}", json=body, headers=headers if headers is not None else AUTH)


async def test_connect_through_the_admin_api(served: tuple[Any, str], sandbox: Any) -> None:
    host, url = served
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        resp = await start(http, url, {"key": KEY, "client": "sandbox", "scopes": ["read"]})
        assert resp.status_code == 201, resp.text
        started = resp.json()
        assert set(started) == {"authorization_url", "expires_at", "redirect_uri", "key", "client"}
        assert started["redirect_uri"] == f"{url}/connect/callback"
        location = sandbox_authorize(started["authorization_url"])
        assert location.startswith(started["redirect_uri"] + "?")
        # the pending connection is in the state database, encrypted: neither the state nor the verifier in clear
        raw = await asyncio.to_thread(lambda: raw_bytes(Path(".").glob("state.db*")))
        assert query_of(location)["state"].encode() not in raw and b"acme:sandbox:alice" not in raw
        assert SQLiteStateStore(host.runtime.store).count() == 1
        page = await http.get(location, headers=JSON)  # no admin token: the browser has none
        assert page.status_code == 200, page.text
        done = page.json()
        assert done == {"key": KEY, "client": "sandbox", "status": "active", "expires_at": done["expires_at"],
                        "recovered": False, "replaced": False}
        assert SQLiteStateStore(host.runtime.store).count() == 0
        assert host.kv.get_sync(KEY) is not None
        assert (await host.runtime.refresh_now(KEY)).kind is OutcomeKind.REFRESHED
        # the same redirect again: refused, nothing changes
        generation = host.runtime.store.load_state(KEY).generation
        again = await http.get(location, headers=JSON)
        assert again.status_code == 400 and again.json()["error"] == "invalid_state"
        assert query_of(location)["code"] not in again.text
        assert host.runtime.store.load_state(KEY).generation == generation


async def test_callback_refusals_register_nothing(served: tuple[Any, str], sandbox: Any) -> None:
    host, url = served
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        started = (await start(http, url, {"key": KEY, "client": "sandbox"})).json()
        denied = sandbox_authorize(started["authorization_url"], action="deny")
        page = await http.get(denied)  # a browser: HTML
        assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
        assert "access_denied" in page.text
        started = (await start(http, url, {"key": KEY, "client": "sandbox"})).json()
        approved = sandbox_authorize(started["authorization_url"])
        q = query_of(approved)
        for query in ({"code": q["code"]}, {"code": q["code"], "state": "forged"}, {}):
            bad = await http.get(f"{url}/connect/callback", params=query, headers=JSON)
            assert bad.status_code == 400 and bad.json()["error"] in ("invalid_state",), bad.text
            for secret in (q["code"], CLIENT_SECRET, PASSWORD, ADMIN_TOKEN):
                assert secret not in bad.text
    assert host.runtime.store.load_state(KEY) is None and host.kv.get_sync(KEY) is None


async def test_start_needs_a_token_allowing_the_key(served: tuple[Any, str]) -> None:
    _host, url = served
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        assert (await start(http, url, {"key": KEY, "client": "sandbox"}, headers={})).status_code == 401
        other = {"authorization": f"Bearer {TENANT_TOKEN}"}
        resp = await start(http, url, {"key": KEY, "client": "sandbox"}, headers=other)
        assert resp.status_code == 403 and resp.json()["error"] == "forbidden"
        resp = await start(http, url, {"key": KEY, "client": "sandbox", "token": "x"})
        assert resp.status_code == 422 and resp.json()["error"] == "invalid_body"
        resp = await start(http, url, {"key": KEY, "client": "sandbox"}, query="?replace=maybe")
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_query"
        resp = await start(http, url, {"key": KEY, "client": "sandbox", "scopes": ["bad scope"]})
        assert resp.status_code == 422 and "not a scope" in resp.json()["message"]
        resp = await start(http, url, {"key": KEY, "client": "nope"})
        assert resp.status_code == 422 and "nope" in resp.json()["message"]


async def test_reauth_through_the_admin_api_recovers(served: tuple[Any, str], sandbox: Any,
                                                     recorder: Recorder) -> None:
    host, url = served
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        started = (await start(http, url, {"key": KEY, "client": "sandbox"})).json()
        assert (await http.get(sandbox_authorize(started["authorization_url"]), headers=JSON)).status_code == 200
        resp = await start(http, url, {"key": KEY, "client": "sandbox"})
        assert resp.status_code == 409 and "replace" in resp.json()["message"]
        for family in sandbox.app.families.values():
            family.revoked = True
        assert (await host.runtime.refresh_now(KEY)).kind is OutcomeKind.REAUTH_REQUIRED
        started = (await start(http, url, {"key": KEY, "client": "sandbox"})).json()
        done = (await http.get(sandbox_authorize(started["authorization_url"]), headers=JSON)).json()
        assert done["recovered"] is True and done["status"] == "active"
    assert [e.key for e in recorder.named("freshtoken_account_recovered")] == [KEY]
