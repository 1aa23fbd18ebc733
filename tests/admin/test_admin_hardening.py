"""The admin API as an attacker's web page, a rebinding DNS name and a hostile client see it: a real uvicorn on
loopback (serve_host), the scheduler beside it, the loopback sandbox behind it.

CSRF (a cross-origin text/plain POST needs no preflight), DNS rebinding (a foreign Host), a 400 MB body, JSON
nested 30,000 deep, registering over an existing account, tenant-scoped tokens, a key naming another provider.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.admin import AdminServer, serve_host
from freshtoken.host.config import load_settings
from freshtoken.host.factory import Host, build_host
from tests.admin.support import ADMIN_TOKEN, write_config

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"content-type": "application/json"}
ACME_TOKEN = "PLANTED-acme-scoped-token-19ab"
GLOBEX_TOKEN = "PLANTED-globex-scoped-token-7c4e"


@asynccontextmanager
async def served(env: Path, sandbox: Any, *, admin_token: bool = False, extra: str = "",
                 ) -> AsyncIterator[tuple[AdminServer, Host]]:
    """``freshtoken serve`` in this event loop: uvicorn on 127.0.0.1 (a free port) and the scheduler."""
    host = build_host(load_settings(write_config(env, sandbox.token_url, admin_token=admin_token, extra=extra)))
    stop = asyncio.Event()
    ready: asyncio.Future[AdminServer] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(serve_host(host, listen_host="127.0.0.1", port=0, stop=stop,
                                            install_signals=False, on_ready=ready.set_result))
    try:
        server = await asyncio.wait_for(ready, 30)
        yield server, host
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await host.aclose()


def register_body(sandbox: Any, key: str = "t1:generic:u1", client: str = "sandbox", *, fresh: bool = False,
                  ) -> dict[str, Any]:
    """A new grant. ``fresh``: with its access token, so the scheduler does not refresh it by itself."""
    grant = sandbox.mint("ui-client")
    body = {"key": key, "client": client, "refresh_token": grant["refresh_token"]}
    if fresh:
        body |= {"access_token": grant["access_token"], "expires_at": time.time() + 3000}
    return body


def family_of(sandbox: Any, refresh_token: str) -> Any:
    return sandbox.app.families[sandbox.app._by_token[refresh_token]]


# -- CSRF -------------------------------------------------------------------------------------------------------
async def test_cross_origin_text_plain_post_is_refused_and_registers_nothing(env: Path, sandbox: Any) -> None:
    """What any web page can send without a CORS preflight: a text/plain POST (a form, or fetch no-cors)."""
    async with served(env, sandbox) as (server, host), httpx.AsyncClient(base_url=server.url,
                                                                         trust_env=False) as api:
        body = json.dumps(register_body(sandbox, "t1:generic:csrf")).encode()
        for headers in ({"content-type": "text/plain", "origin": "http://evil.example"},
                        {"content-type": "text/plain;charset=UTF-8", "origin": "null"},
                        {"content-type": "text/plain"},  # a browser that drops Origin
                        {"content-type": "application/x-www-form-urlencoded"},
                        {"content-type": "multipart/form-data; boundary=x"},
                        {}):
            r = await api.post("/accounts", content=body, headers=headers)
            assert r.status_code in (403, 415), (headers, r.status_code, r.text)
            assert r.json()["error"] in ("forbidden_origin", "unsupported_media_type"), r.text
        # the JSON content type does not help a foreign origin (a preflight would be needed; still refused)
        r = await api.post("/accounts", content=body, headers={**JSON, "origin": "http://evil.example"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden_origin"
        assert "origin" in r.json()["message"].lower()
        r = await api.post("/accounts", content=body, headers={**JSON, "origin": f"http://localhost.evil:{server.port}"})
        assert r.status_code == 403
        # state-changing routes without a body need the JSON content type too (a form POST to /refresh)
        r = await api.post("/accounts/t1:generic:csrf/refresh", headers={"content-type": "text/plain"})
        assert r.status_code == 415 and "application/json" in r.json()["message"]
        r = await api.delete("/accounts/t1:generic:csrf", headers={"origin": "http://evil.example", **JSON})
        assert r.status_code == 403
        assert host.runtime.list_accounts() == []
        # the same request from the API's own origin, as JSON, is fine
        r = await api.post("/accounts", content=body, headers={**JSON, "origin": server.url})
        assert r.status_code == 201, r.text
        assert [a["key"] for a in host.runtime.list_accounts()] == ["t1:generic:csrf"]


# -- DNS rebinding ---------------------------------------------------------------------------------------------
async def test_foreign_host_header_cannot_read_accounts(env: Path, sandbox: Any) -> None:
    """A rebinding name resolves to 127.0.0.1 but the browser still sends ``Host: rebind.evil``."""
    extra = '\n[admin]\nallowed_hosts = ["admin.internal"]\n'
    async with served(env, sandbox, extra=extra) as (server, host), httpx.AsyncClient(
            base_url=server.url, trust_env=False) as api:
        r = await api.post("/accounts", json=register_body(sandbox, "t1:generic:secretive"))
        assert r.status_code == 201, r.text
        for bad in (f"rebind.evil:{server.port}", "rebind.evil", f"127.0.0.1.evil:{server.port}",
                    f"admin.internal.evil:{server.port}", f"10.0.0.1:{server.port}", ""):
            r = await api.get("/accounts", headers={"host": bad})
            assert r.status_code in (400, 421), (bad, r.status_code, r.text)
            assert "secretive" not in r.text
            r = await api.post("/accounts", json=register_body(sandbox, "t1:generic:rebound"), headers={"host": bad})
            assert r.status_code in (400, 421), (bad, r.status_code)
        assert [a["key"] for a in host.runtime.list_accounts()] == ["t1:generic:secretive"]
        # the address served, loopback names and configured names are fine
        for good in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"LOCALHOST:{server.port}",
                     f"admin.internal:{server.port}", "admin.internal"):
            r = await api.get("/accounts", headers={"host": good})
            assert r.status_code == 200 and r.json()["accounts"][0]["key"] == "t1:generic:secretive", good


# -- bodies ----------------------------------------------------------------------------------------------------
HUGE = 400 * 1024 * 1024
#: The client gives up after sending this much without an answer: the server is reading the whole body.
GIVE_UP = 32 * 1024 * 1024


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes of a JSON-looking body, produced lazily: never held in memory at once."""
    piece = b" " * size
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield piece[:n]
        sent += n


def stream_post(port: int, path: str, total: int, *, chunked: bool) -> tuple[int | None, int]:
    """POST ``total`` bytes from a generator on a raw socket; stop as soon as the server answers.

    Returns (status or None, body bytes sent before the answer).
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
        head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sent = 0
        for piece in _chunks(total):
            readable, _, _ = select.select([sock], [], [], 0)
            if readable or sent >= GIVE_UP:
                break
            data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(piece)
        if sent >= GIVE_UP:
            return None, sent
        answer = b""
        try:
            while b"\r\n" not in answer:
                more = sock.recv(4096)
                if not more:
                    break
                answer += more
        except (ConnectionResetError, TimeoutError):
            pass
        parts = answer.split(b" ", 2)
        return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None), sent
    finally:
        sock.close()


async def test_a_400_mb_body_is_refused_before_it_is_read(env: Path, sandbox: Any) -> None:
    async with served(env, sandbox) as (server, host):
        for chunked in (False, True):
            status, sent = await asyncio.to_thread(stream_post, server.port, "/accounts", HUGE, chunked=chunked)
            assert status == 413, (chunked, status, sent)
            assert sent < GIVE_UP, sent  # the answer came long before the body did
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as api:
            r = await api.post("/accounts", content=b" " * (64 * 1024 + 1), headers=JSON)
            assert r.status_code == 413 and "65536" in r.json()["message"]
            assert (await api.get("/health")).json()["status"] == "ok"  # the server is still fine
        assert host.runtime.list_accounts() == []


async def test_deeply_nested_or_malformed_json_is_a_400(env: Path, sandbox: Any) -> None:
    async with served(env, sandbox) as (server, _), httpx.AsyncClient(base_url=server.url,
                                                                      trust_env=False) as api:
        deep_list = b"[" * 30_000 + b"]" * 30_000
        deep_obj = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
        for body in (deep_list, deep_obj):
            r = await api.post("/accounts", content=body, headers=JSON)
            assert r.status_code == 400, (r.status_code, r.text[:200])
            assert r.json()["error"] == "invalid_json" and "nested deeper than 64" in r.json()["message"]
        # a string full of brackets is not nesting
        text = json.dumps({"key": "t1:generic:b", "client": "sandbox", "refresh_token": "[{" * 20_000 + '"'})
        r = await api.post("/accounts", content=text.encode(), headers=JSON)
        assert r.status_code == 201, r.text[:300]
        for bad in (b"{not json", b"", b"\xff\xfe", b'{"key": "a"} trailing', b"NaN"):
            r = await api.post("/accounts", content=bad, headers=JSON)
            assert r.status_code == 400 and r.json()["error"] == "invalid_json", (bad, r.text)


# -- overwrite -------------------------------------------------------------------------------------------------
async def test_register_over_an_existing_account_needs_replace(env: Path, sandbox: Any) -> None:
    async with served(env, sandbox) as (server, _host), httpx.AsyncClient(base_url=server.url,
                                                                          trust_env=False) as api:
        first = register_body(sandbox, "t1:generic:acct", fresh=True)
        assert (await api.post("/accounts", json=first)).status_code == 201
        r = await api.post("/accounts/t1:generic:acct/refresh", headers=JSON)
        assert r.json()["kind"] == "refreshed"
        second = register_body(sandbox, "t1:generic:acct", fresh=True)
        r = await api.post("/accounts", json=second)
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "account_exists" and "replace=true" in r.json()["message"]
        assert second["refresh_token"] not in r.text
        # nothing changed: the first grant still works, the second was never used, nothing was revoked
        r = await api.post("/accounts/t1:generic:acct/refresh", headers=JSON)
        assert r.json()["kind"] == "refreshed" and r.json()["generation"] == 3
        assert family_of(sandbox, first["refresh_token"]).refreshes == 2
        assert not family_of(sandbox, first["refresh_token"]).revoked
        assert family_of(sandbox, second["refresh_token"]).refreshes == 0
        # with replace: the new grant is stored, the old one is revoked at the provider
        r = await api.post("/accounts", params={"replace": "true"}, json=second)
        assert r.status_code == 201, r.text
        assert family_of(sandbox, first["refresh_token"]).revoked
        assert not family_of(sandbox, second["refresh_token"]).revoked
        r = await api.post("/accounts/t1:generic:acct/refresh", headers=JSON)
        assert r.json()["kind"] == "refreshed", r.text
        assert family_of(sandbox, second["refresh_token"]).refreshes == 1
        r = await api.post("/accounts", params={"replace": "maybe"}, json=second)
        assert r.status_code == 400 and "replace" in r.json()["message"]
        # a dead grant is re-authorised without replace
        dead = {"key": "t1:generic:dead", "client": "sandbox", "refresh_token": "rt-unknown-to-the-sandbox"}
        assert (await api.post("/accounts", json=dead)).status_code == 201
        r = await api.post("/accounts/t1:generic:dead/refresh", headers=JSON)
        assert r.json()["kind"] == "reauth_required"
        r = await api.post("/accounts", json=register_body(sandbox, "t1:generic:dead"))
        assert r.status_code == 201 and r.json()["status"] == "pending", r.text


async def test_a_key_naming_another_provider_is_refused(env: Path, sandbox: Any) -> None:
    extra = f"""
[clients.loose]
provider = "generic"
client_id = "ui-client"
client_secret = {{ env = "FT_TEST_CLIENT_SECRET" }}
auth_method = "client_secret_post"
provider_mismatch_ok = true
[clients.loose.provider_options]
token_url = "{sandbox.token_url}"
"""
    async with served(env, sandbox, extra=extra) as (server, host), httpx.AsyncClient(
            base_url=server.url, trust_env=False) as api:
        r = await api.post("/accounts", json=register_body(sandbox, "t1:google:u1"))
        assert r.status_code == 400, r.text
        message = r.json()["message"]
        assert r.json()["error"] == "provider_mismatch"
        assert "'google'" in message and "'generic'" in message and "provider_mismatch_ok" in message
        assert host.runtime.list_accounts() == []
        # the key may name the client's provider or the client itself; or the client allows any
        for key, client in (("t1:generic:u1", "sandbox"), ("t1:sandbox:u1", "sandbox"), ("t1:google:u1", "loose")):
            r = await api.post("/accounts", json=register_body(sandbox, key, client))
            assert r.status_code == 201, (key, client, r.text)


# -- tenant-scoped tokens --------------------------------------------------------------------------------------
SCOPED = """
[admin]
token = { env = "FT_TEST_ADMIN_TOKEN" }
[[admin.tokens]]
token = { env = "FT_TEST_ACME_TOKEN" }
scope = "acme:*"
[[admin.tokens]]
token = { env = "FT_TEST_GLOBEX_TOKEN" }
scope = "globex:*"
"""


async def test_a_tenant_scoped_token_sees_and_changes_only_its_tenant(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FT_TEST_ACME_TOKEN", ACME_TOKEN)
    monkeypatch.setenv("FT_TEST_GLOBEX_TOKEN", GLOBEX_TOKEN)
    acme = {"Authorization": f"Bearer {ACME_TOKEN}", **JSON}
    globex = {"Authorization": f"Bearer {GLOBEX_TOKEN}", **JSON}
    admin = {**AUTH, **JSON}
    async with served(env, sandbox, extra=SCOPED) as (server, host), httpx.AsyncClient(
            base_url=server.url, trust_env=False) as api:
        # each operator registers in its own tenant; not in the other's
        for key in ("acme:generic:a1", "acme:generic:a2"):
            assert (await api.post("/accounts", json=register_body(sandbox, key), headers=acme)).status_code == 201
        assert (await api.post("/accounts", json=register_body(sandbox, "globex:generic:g1"),
                               headers=globex)).status_code == 201
        assert (await api.post("/accounts", json=register_body(sandbox, "acmecorp:generic:x"),
                               headers=admin)).status_code == 201
        r = await api.post("/accounts", json=register_body(sandbox, "globex:generic:g2"), headers=acme)
        assert r.status_code == 403 and "acme" in r.json()["message"]
        r = await api.post("/accounts", params={"replace": "true"}, json=register_body(sandbox, "globex:generic:g1"),
                           headers=acme)
        assert r.status_code == 403

        # list: only its own tenant, paginated within it ("acmecorp" is another tenant)
        r = await api.get("/accounts", headers=acme)
        assert [a["key"] for a in r.json()["accounts"]] == ["acme:generic:a1", "acme:generic:a2"]
        r = await api.get("/accounts", params={"limit": 1}, headers=acme)
        assert [a["key"] for a in r.json()["accounts"]] == ["acme:generic:a1"]
        r = await api.get("/accounts", params={"limit": 1, "after": r.json()["next_after"]}, headers=acme)
        assert [a["key"] for a in r.json()["accounts"]] == ["acme:generic:a2"]
        r = await api.get("/accounts", params={"after": "acme:generic:a2"}, headers=acme)
        assert r.json() == {"accounts": [], "next_after": None}
        r = await api.get("/accounts", params={"after": "a"}, headers=globex)
        assert [a["key"] for a in r.json()["accounts"]] == ["globex:generic:g1"]
        r = await api.get("/accounts", headers=admin)
        assert len(r.json()["accounts"]) == 4

        # another tenant's account does not exist for it: show, refresh, remove
        for method, path in (("GET", "/accounts/globex:generic:g1"), ("POST", "/accounts/globex:generic:g1/refresh"),
                             ("DELETE", "/accounts/globex:generic:g1")):
            r = await api.request(method, path, headers=acme)
            assert r.status_code == 404, (method, path, r.status_code)
            assert "globex:generic:g1" in r.json()["message"]
        assert (await host.runtime.status("globex:generic:g1"))["key"] == "globex:generic:g1"
        assert (await api.get("/accounts/acme:generic:a1", headers=acme)).status_code == 200
        assert (await api.post("/accounts/acme:generic:a1/refresh", headers=acme)).json()["kind"] == "refreshed"
        assert (await api.delete("/accounts/acme:generic:a2", headers=acme)).json()["removed"] is True

        # global routes need the full-scope token
        r = await api.get("/metrics", headers=acme)
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        assert (await api.get("/metrics", headers=AUTH)).status_code == 200
        # and a wrong token is still a 401
        r = await api.get("/accounts", headers={"Authorization": f"Bearer {ACME_TOKEN}x"})
        assert r.status_code == 401
        assert ACME_TOKEN not in r.text and GLOBEX_TOKEN not in r.text
