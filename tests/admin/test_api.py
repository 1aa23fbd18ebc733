"""The admin API through httpx's ASGITransport, and on a real uvicorn on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.admin import AdminServer, check_bind, create_app, is_loopback, serve_host
from freshtoken.errors import ConfigError
from freshtoken.host.config import load_settings
from freshtoken.host.factory import Host, build_host
from tests.admin.support import ADMIN_TOKEN, write_config

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def register(api: httpx.AsyncClient, sandbox, key: str = "t1:generic:u1", **extra: Any) -> httpx.Response:
    grant = sandbox.mint("ui-client")
    body = {"key": key, "client": "sandbox", "refresh_token": grant["refresh_token"], **extra}
    return await api.post("/accounts", json=body, headers=AUTH)


async def test_health_is_open_everything_else_needs_the_token(api: httpx.AsyncClient) -> None:
    r = await api.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    for method, path in [("GET", "/accounts"), ("POST", "/accounts"), ("GET", "/accounts/a:b:c"),
                         ("POST", "/accounts/a:b:c/refresh"), ("DELETE", "/accounts/a:b:c"), ("GET", "/metrics")]:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ADMIN_TOKEN}"},
                        {"Authorization": f"Bearer {ADMIN_TOKEN}x"}):
            r = await api.request(method, path, headers=headers)
            assert r.status_code == 401, (method, path, headers)
            assert r.json()["error"] == "unauthorized"
            assert r.headers["www-authenticate"].startswith("Bearer")


async def test_register_list_show_refresh_remove(api: httpx.AsyncClient, sandbox) -> None:
    r = await register(api, sandbox, account_data={})
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["key"] == "t1:generic:u1" and view["status"] == "pending" and view["has_refresh_token"] is True
    assert "refresh_token" not in view and "access_token" not in view

    for i in range(3):
        assert (await register(api, sandbox, key=f"t2:generic:u{i}")).status_code == 201
    r = await api.get("/accounts", params={"limit": 2}, headers=AUTH)
    page = r.json()
    assert [a["key"] for a in page["accounts"]] == ["t1:generic:u1", "t2:generic:u0"]
    assert page["next_after"] == "t2:generic:u0"
    r = await api.get("/accounts", params={"limit": 2, "after": page["next_after"]}, headers=AUTH)
    assert [a["key"] for a in r.json()["accounts"]] == ["t2:generic:u1", "t2:generic:u2"]
    r = await api.get("/accounts", params={"status": "active"}, headers=AUTH)
    assert r.json() == {"accounts": [], "next_after": None}

    r = await api.post("/accounts/t1:generic:u1/refresh", headers=AUTH)
    assert r.status_code == 200 and r.json()["kind"] == "refreshed" and r.json()["ok"] is True
    r = await api.get("/accounts/t1:generic:u1", headers=AUTH)
    state = r.json()
    assert state["status"] == "active" and state["generation"] == 1 and state["has_access_token"] is True
    assert not {"refresh_token", "access_token", "previous_refresh_token"} & set(state)

    r = await api.delete("/accounts/t1:generic:u1", headers=AUTH)
    assert r.json() == {"key": "t1:generic:u1", "removed": True}
    r = await api.get("/accounts/t1:generic:u1", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await api.delete("/accounts/t1:generic:u1", headers=AUTH, params={"revoke": "false"})
    assert r.status_code == 404


async def test_account_ids_with_slashes(api: httpx.AsyncClient, sandbox) -> None:
    assert (await register(api, sandbox, key="t1:generic:org/team:user")).status_code == 201
    r = await api.get("/accounts/t1:generic:org/team:user", headers=AUTH)
    assert r.status_code == 200 and r.json()["key"] == "t1:generic:org/team:user"


async def test_bad_input_gives_clear_json_errors(api: httpx.AsyncClient, sandbox) -> None:
    async def post(body: Any, raw: bool = False) -> httpx.Response:
        if raw:
            return await api.post("/accounts", content=body, headers={**AUTH, "content-type": "application/json"})
        return await api.post("/accounts", json=body, headers=AUTH)

    r = await post(b"{not json", raw=True)
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
    r = await post({"key": "t:generic:a", "client": "sandbox", "refresh_token": 5, "bogus": 1, "expires_at": "soon"})
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["problems"]}
    assert fields == {"refresh_token", "bogus", "expires_at"}
    r = await post({"key": "no-colons", "client": "sandbox", "refresh_token": "x"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_key"
    r = await post({"key": "t:generic:a", "client": "nope", "refresh_token": "x"})
    assert r.status_code == 422 and "unknown client 'nope'" in r.json()["message"]
    r = await post({"key": "t:generic:a", "client": "sandbox"})
    assert r.status_code == 422 and "refresh token is required" in r.json()["message"]
    r = await api.get("/accounts", params={"limit": "lots"}, headers=AUTH)
    assert r.status_code == 400 and "limit" in r.json()["message"]
    r = await api.get("/accounts", params={"limit": 0}, headers=AUTH)
    assert r.status_code == 400
    r = await api.get("/accounts", params={"status": "weird"}, headers=AUTH)
    assert r.status_code == 400 and "status must be one of" in r.json()["message"]
    r = await api.get("/accounts/bad key", headers=AUTH)
    assert r.status_code == 400
    r = await api.post("/accounts/t:generic:missing/refresh", headers=AUTH)
    assert r.status_code == 404
    r = await api.get("/nowhere", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await api.put("/accounts", headers=AUTH)
    assert r.status_code == 405
    for resp in (r,):
        assert "Traceback" not in resp.text


async def test_refresh_failure_is_reported_not_raised(api: httpx.AsyncClient, sandbox) -> None:
    assert (await register(api, sandbox, key="t1:generic:bad", refresh_token="rt-unknown")).status_code == 201
    r = await api.post("/accounts/t1:generic:bad/refresh", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["kind"] == "reauth_required" and body["ok"] is False and "invalid_grant" in body["error"]


async def test_metrics(api: httpx.AsyncClient, sandbox) -> None:
    await register(api, sandbox, key="t1:generic:m")
    await api.post("/accounts/t1:generic:m/refresh", headers=AUTH)
    r = await api.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'freshtoken_refreshes_total{outcome="refreshed",provider="generic"} 1.0' in text
    assert 'freshtoken_accounts{status="active"}' in text
    assert "freshtoken_refresh_duration_seconds_bucket" in text
    assert "t1:generic:m" not in text  # no per-account labels


async def test_no_token_means_no_auth_only_on_loopback(host: Host) -> None:
    app = create_app(host.runtime, token=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        assert (await client.get("/accounts")).status_code == 200
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.0.0.1")
    assert not is_loopback("example.com")
    for address in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        with pytest.raises(ConfigError, match="refusing to serve the admin API"):
            check_bind(address, None)
        check_bind(address, "a-token")  # fine with a token
    with pytest.raises(ConfigError):
        AdminServer(app, host="0.0.0.0", port=0, token=None)


async def test_serve_host_refuses_non_loopback_without_token(env: Path, sandbox) -> None:
    h = build_host(load_settings(write_config(env, sandbox.token_url, admin_token=False)))
    try:
        with pytest.raises(ConfigError, match=r"0\.0\.0\.0"):
            await serve_host(h, listen_host="0.0.0.0", port=0, install_signals=False)
    finally:
        await h.aclose()


async def test_real_uvicorn_on_loopback(host: Host, sandbox) -> None:
    """serve_host: the scheduler and the API in one loop; a registration is refreshed by the scheduler."""
    stop = asyncio.Event()
    ready: asyncio.Future[AdminServer] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(
        serve_host(host, listen_host="127.0.0.1", port=0, stop=stop, install_signals=False,
                   on_ready=ready.set_result)
    )
    server = await asyncio.wait_for(ready, 10)
    try:
        assert server.port != 0
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
            assert (await client.get("/health")).json()["scheduler"] == "running"
            assert (await client.get("/accounts")).status_code == 401
            assert (await client.get("/accounts", headers={"Authorization": "Bearer nope"})).status_code == 401
            grant = sandbox.mint("ui-client")
            r = await client.post("/accounts", headers=AUTH, json={
                "key": "t1:generic:live", "client": "sandbox", "refresh_token": grant["refresh_token"]})
            assert r.status_code == 201
            for _ in range(100):  # the scheduler refreshes it (no access token yet: due at once)
                state = (await client.get("/accounts/t1:generic:live", headers=AUTH)).json()
                if state["status"] == "active":
                    break
                await asyncio.sleep(0.05)
            assert state["status"] == "active" and state["generation"] == 1
            raw = await host.kv.get("t1:generic:live")
            assert raw is not None and json.loads(raw)["generation"] == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    # the port is free again: the server shut down
    with socket.socket() as s:
        s.bind(("127.0.0.1", server.port))


async def test_port_in_use_is_a_clear_error(host: Host) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"admin API cannot listen on 127.0.0.1:{port}"):
            await serve_host(host, listen_host="127.0.0.1", port=port, install_signals=False)
