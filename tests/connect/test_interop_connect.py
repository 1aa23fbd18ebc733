"""The connect flow end to end against real authorization servers: oidc-provider (Node) and
django-oauth-toolkit. The test drives their login and consent forms over HTTP and follows the final redirect to
the flow's real loopback listener (RFC 8252); the code is exchanged by the SDK (PKCE S256, Basic credentials
form-urlencoded), the account registered through the embedded runtime, its token written to KV, and the refresh
that follows is made at the same server. An access_denied redirect and a forged state register nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.connect import ConnectError, ConnectFlow, MemoryStateStore, PendingConnection
from freshtoken.connect.loopback import LoopbackListener
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from freshtoken.outcome import OutcomeKind
from tests.connect import interop_servers as srv
from tests.interop import servers

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("connect-interop")


@pytest.fixture(scope="module")
def oidc(workdir: Path) -> Iterator[dict[str, str]]:
    ok, why = servers.oidc_available()
    servers.require(ok, why)
    proc, issuer = srv.start_oidc(workdir)
    try:
        meta = httpx.get(issuer + "/.well-known/openid-configuration", trust_env=False).json()
        yield {"issuer": issuer, "token": meta["token_endpoint"], "authorize": meta["authorization_endpoint"],
               "revoke": meta["revocation_endpoint"]}
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def dot(workdir: Path) -> Iterator[dict[str, str]]:
    ok, why = servers.dot_available()
    servers.require(ok, why)
    proc, base = srv.start_dot(workdir)
    try:
        yield {"issuer": base, "token": base + "/o/token/", "authorize": base + "/o/authorize/",
               "revoke": base + "/o/revoke_token/"}
    finally:
        proc.stop()


def client_section(name: str, client_id: str, ends: dict[str, str], scopes: list[str]) -> str:
    return f"""
[clients.{name}]
provider = "generic"
client_id = "{client_id}"
client_secret = {{ env = "FT_CONNECT_INTEROP_SECRET" }}
auth_method = "client_secret_basic"
[clients.{name}.provider_options]
token_url = "{ends['token']}"
authorize_url = "{ends['authorize']}"
revocation_url = "{ends['revoke']}"
default_scopes = {json.dumps(scopes)}
timeout = 10.0
"""


@pytest.fixture(params=["oidc", "dot"])
def server(request: pytest.FixtureRequest, env: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("FT_CONNECT_INTEROP_SECRET", srv.SECRET)
    if request.param == "oidc":
        ends = request.getfixturevalue("oidc")
        section = client_section("oidc", srv.OIDC_CLIENT, ends, ["openid"])

        def browse(url: str, redirect: str, deny: bool = False) -> str:
            return srv.oidc_browser(url, ends["issuer"], redirect, deny=deny)
    else:
        ends = request.getfixturevalue("dot")
        section = client_section("dot", srv.DOT_CLIENT, ends, ["read"])

        def browse(url: str, redirect: str, deny: bool = False) -> str:
            return srv.dot_browser(url, ends["issuer"], deny=deny)
    config = env / "freshtoken.toml"
    config.write_text(section + '\n[runtime]\ndatabase = "state.db"\nstartup_spread = 0\n'
                      '[kv]\nbackend = "sqlite"\npath = "kv.db"\n')
    return {"name": request.param, "config": config, "browse": browse, "ends": ends}


async def connect_once(host: Any, server: dict[str, Any], key: str, *, deny: bool = False,
                       forge: bool = False, drop_verifier: bool = False) -> tuple[Any, str, str]:
    """Start, let the server's forms redirect to the loopback listener, hand it the redirect; the result (or the
    ConnectError), the page the browser got, and the redirect. ``drop_verifier``: the code is exchanged without
    its PKCE verifier (the connection loses it, and a provider without PKCE sends none)."""
    states = MemoryStateStore()
    flow = ConnectFlow.for_runtime(host.runtime, states)
    listener = LoopbackListener()
    await listener.start()
    started = await flow.start(key, server["name"], redirect_uri=listener.redirect_uri)
    browse: Callable[..., str] = server["browse"]
    location = await asyncio.to_thread(browse, started.authorization_url, listener.redirect_uri, deny)
    assert location.startswith(listener.redirect_uri + "?"), location
    if forge:
        location = location.replace("state=", "state=forged", 1)
    if drop_verifier:
        pending = states.take(dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))["state"])
        assert pending is not None and pending.verifier
        states.put(PendingConnection(**{**pending.__dict__, "verifier": None}), 0.0)
        provider = (await host.runtime.shell.provider(host.runtime.shell.client(server["name"])))
        no_pkce = provider.model_copy(update={"pkce": False})

        async def provider_of(client: Any) -> Any:
            return no_pkce

        flow = ConnectFlow(client=host.runtime.shell.client, provider=provider_of, http=host.runtime.http,
                           register=host.runtime.register, status=host.runtime.status, states=states,
                           clock=host.runtime.clock)
    outcome: dict[str, Any] = {}

    async def handle(query: dict[str, str]) -> tuple[int, str, str]:
        try:
            outcome["result"] = await flow.finish(query.get("state"), code=query.get("code"),
                                                  error=query.get("error"), redirect_uri=listener.redirect_uri)
        except ConnectError as exc:
            outcome["result"] = exc
            return 400, "Not connected", str(exc)
        return 200, "Connected", "ok"

    waiting = asyncio.ensure_future(listener.wait(handle, timeout=60))
    page = await asyncio.to_thread(httpx.get, location, trust_env=False, timeout=60)
    await waiting
    return outcome["result"], page.text, location


async def test_connect_end_to_end(server: dict[str, Any]) -> None:
    key = f"acme:{server['name']}:alice"
    host = build_host(load_settings(server["config"]))
    try:
        result, page, _location = await connect_once(host, server, key)
        assert not isinstance(result, Exception), result
        assert result.status == "active" and result.key == key
        record = json.loads(host.kv.get_sync(key))
        state = host.runtime.store.load_state(key)
        rt = state.refresh_token.get_secret_value()
        for secret in (record["access_token"], rt, srv.SECRET):
            assert secret not in page
        # the refresh that follows works at the same server, and rotates the refresh token
        outcome = await host.runtime.refresh_now(key)
        assert outcome.kind is OutcomeKind.REFRESHED, outcome
        after = host.runtime.store.load_state(key)
        assert after.generation == state.generation + 1 and after.refresh_token.get_secret_value() != rt
        assert json.loads(host.kv.get_sync(key))["access_token"] != record["access_token"]
    finally:
        await host.aclose()


async def test_access_denied_registers_nothing(server: dict[str, Any]) -> None:
    key = f"acme:{server['name']}:bob"
    host = build_host(load_settings(server["config"]))
    try:
        result, _page, location = await connect_once(host, server, key, deny=True)
        assert isinstance(result, ConnectError) and result.code == "access_denied", result
        assert "access_denied" in location
        assert host.runtime.store.load_state(key) is None and host.kv.get_sync(key) is None
    finally:
        await host.aclose()


async def test_forged_state_registers_nothing(server: dict[str, Any]) -> None:
    key = f"acme:{server['name']}:carol"
    host = build_host(load_settings(server["config"]))
    try:
        result, page, location = await connect_once(host, server, key, forge=True)
        assert isinstance(result, ConnectError) and result.code == "invalid_state", result
        code = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))["code"]
        assert code not in str(result) and code not in page
        assert host.runtime.store.load_state(key) is None and host.kv.get_sync(key) is None
    finally:
        await host.aclose()


async def test_a_code_without_its_verifier_is_refused_and_registers_nothing(server: dict[str, Any]) -> None:
    key = f"acme:{server['name']}:dave"
    host = build_host(load_settings(server["config"]))
    try:
        result, page, location = await connect_once(host, server, key, drop_verifier=True)
        assert isinstance(result, ConnectError) and result.code == "exchange_failed", result
        # oidc-provider: invalid_grant (PKCE verification failed); django-oauth-toolkit: "Code verifier required."
        assert "invalid_grant" in str(result) or "verifier" in str(result).lower()
        code = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))["code"]
        for secret in (code, srv.SECRET):
            assert secret not in str(result) and secret not in page
        assert host.runtime.store.load_state(key) is None and host.kv.get_sync(key) is None
    finally:
        await host.aclose()


async def test_connect_with_only_the_issuer_configured(oidc: dict[str, str], env: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The generic provider with nothing but ``issuer``: the authorization endpoint, like the token endpoint, comes
    from the server's discovery document."""
    monkeypatch.setenv("FT_CONNECT_INTEROP_SECRET", srv.SECRET)
    config = env / "freshtoken.toml"
    config.write_text(f"""
[clients.oidc]
provider = "generic"
client_id = "{srv.OIDC_CLIENT}"
client_secret = {{ env = "FT_CONNECT_INTEROP_SECRET" }}
auth_method = "client_secret_basic"
[clients.oidc.provider_options]
issuer = "{oidc['issuer']}"
default_scopes = ["openid"]
[runtime]
database = "state.db"
[kv]
backend = "sqlite"
path = "kv.db"
""")
    server = {"name": "oidc", "browse": lambda url, redirect, deny=False: srv.oidc_browser(
        url, oidc["issuer"], redirect, deny=deny)}
    host = build_host(load_settings(config))
    try:
        result, _page, _location = await connect_once(host, server, "acme:oidc:erin")
        assert not isinstance(result, Exception), result
        assert result.status == "active" and host.kv.get_sync("acme:oidc:erin") is not None
        assert (await host.runtime.refresh_now("acme:oidc:erin")).kind is OutcomeKind.REFRESHED
    finally:
        await host.aclose()


async def test_connect_through_the_admin_api_logs_no_secret(server: dict[str, Any],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """POST /connect, the server's forms, the redirect to GET /connect/callback of a real admin API; with every
    logger at DEBUG, no record carries the code, the state, the verifier, a token or the client secret."""
    import logging
    import threading

    from freshtoken.admin import create_app
    from freshtoken.admin.server import AdminServer
    from freshtoken.connect.sqlite_states import SQLiteStateStore

    caplog.set_level(logging.DEBUG)
    key = f"acme:{server['name']}:frank"
    host = build_host(load_settings(server["config"]))
    app = create_app(host.runtime, token="admin-token-for-this-test", secrets=[srv.SECRET])
    admin = AdminServer(app, host="127.0.0.1", port=0, token="admin-token-for-this-test")
    await admin.start()
    seen: list[str] = []
    original_take = SQLiteStateStore.take

    def take(self: SQLiteStateStore, state: str) -> Any:  # remember the verifier to look for it (read only)
        pending = original_take(self, state)
        if pending is not None and pending.verifier:
            seen.append(pending.verifier)
        return pending

    SQLiteStateStore.take = take  # type: ignore[method-assign]
    try:
        # the test's own HTTP clients (the operator, the browser) run in worker threads: their request lines are
        # theirs to log; the SDK (admin API, flow, refresher) runs in this thread's event loop
        resp = await asyncio.to_thread(
            httpx.post, f"{admin.url}/connect", json={"key": key, "client": server["name"]}, trust_env=False,
            headers={"authorization": "Bearer admin-token-for-this-test"}, timeout=60)
        assert resp.status_code == 201, resp.text
        started = resp.json()
        location = await asyncio.to_thread(server["browse"], started["authorization_url"], started["redirect_uri"])
        page = await asyncio.to_thread(httpx.get, location, headers={"accept": "application/json"},
                                       trust_env=False, timeout=60)
        assert page.status_code == 200, page.text
        assert page.json()["status"] == "active"
        assert (await host.runtime.refresh_now(key)).kind is OutcomeKind.REFRESHED
        state = host.runtime.store.load_state(key)
        query = dict(p.split("=", 1) for p in location.split("?", 1)[1].split("&"))
        secrets = [query["code"], query["state"], srv.SECRET, state.refresh_token.get_secret_value(),
                   json.loads(host.kv.get_sync(key))["access_token"], *seen]
        assert seen, "the verifier was never taken"
        ours = [r for r in caplog.records if r.thread == threading.get_ident()]
        text = "\n".join(r.getMessage() for r in ours)
        assert any(r.name.startswith("freshtoken") for r in ours)  # the SDK did log (the refresh, the POST...)
        for secret in secrets:
            assert secret not in text
    finally:
        SQLiteStateStore.take = original_take  # type: ignore[method-assign]
        await admin.stop()
        await host.aclose()


def test_freshtoken_connect_as_a_process(server: dict[str, Any]) -> None:
    """The one command, as a real process, against the real server: the test is the person at the browser."""
    import os
    import subprocess
    import sys

    key = f"acme:{server['name']}:grace"
    binary = Path(sys.executable).parent / "freshtoken"
    env = {k: v for k, v in os.environ.items() if k != "FRESHTOKEN_CONFIG"}
    proc = subprocess.Popen([str(binary), "-c", str(server["config"]), "connect", key, "--client", server["name"],
                             "--timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        redirect = httpx.URL(url).params["redirect_uri"]
        location = server["browse"](url, redirect)
        page = httpx.get(location, trust_env=False, timeout=60)
        assert page.status_code == 200 and "Connected" in page.text
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"connected {key} (client {server['name']}, status active" in out
    from freshtoken.embedded import AesGcmCodec, SQLiteKV, SQLiteStore

    folder = server["config"].parent
    store = SQLiteStore(folder / "state.db", AesGcmCodec.from_env(os.environ))
    kv = SQLiteKV(folder / "kv.db")
    try:
        state, record = store.load_state(key), kv.get_sync(key)
    finally:
        store.close()
        kv.close()
    assert state is not None and record is not None
    for secret in (srv.SECRET, state.refresh_token.get_secret_value(), json.loads(record)["access_token"]):
        assert secret not in out + err + page.text
