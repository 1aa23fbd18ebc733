"""The connect flow end to end against the sandbox's real authorization endpoint (login + consent over HTTP,
PKCE S256, the code exchanged at its token endpoint), through the embedded runtime's registration path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.clock import ManualClock
from freshtoken.connect import ConnectError, ConnectFlow, MemoryStateStore, PendingConnection
from freshtoken.errors import AccountExists
from freshtoken.http import TokenResponse
from freshtoken.outcome import OutcomeKind
from tests.connect.support import CLIENT_SECRET, KEY, PASSWORD, Recorder, kv_record, query_of, sandbox_authorize

REDIRECT = "http://127.0.0.1:1/callback"  # never contacted: the test plays the browser and the callback


def flow_of(host: Any, states: Any = None, ttl: float = 600.0) -> ConnectFlow:
    return ConnectFlow.for_runtime(host.runtime, states if states is not None else MemoryStateStore(), ttl=ttl)


async def connect(flow: ConnectFlow, key: str = KEY, **kw: Any) -> Any:
    started = await flow.start(key, "sandbox", redirect_uri=REDIRECT, **kw)
    back = query_of(sandbox_authorize(started.authorization_url))
    return await flow.finish(back.get("state"), code=back.get("code"), error=back.get("error"),
                             redirect_uri=REDIRECT)


def assert_clean(text: str, *secrets: str) -> None:
    for secret in (CLIENT_SECRET, PASSWORD, *secrets):
        assert secret not in text


def nothing_registered(host: Any, key: str = KEY) -> None:
    assert host.runtime.store.load_state(key) is None
    assert host.kv.get_sync(key) is None


async def test_connect_registers_writes_kv_and_the_next_refresh_works(host: Any, sandbox: Any,
                                                                      clock: ManualClock) -> None:
    before = sandbox.app.authorization.stats.exchanged
    flow = flow_of(host)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    url = httpx.URL(started.authorization_url)
    assert url.params["code_challenge_method"] == "S256" and url.params["scope"] == "read offline"
    assert url.params["redirect_uri"] == REDIRECT and url.params["client_id"] == "connect-client"
    back = query_of(sandbox_authorize(started.authorization_url))
    result = await flow.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    assert sandbox.app.authorization.stats.exchanged == before + 1
    assert result.key == KEY and result.status == "active" and not result.recovered and not result.replaced
    assert "access_token" not in result.view and "refresh_token" not in result.view
    record = kv_record(host.kv, KEY)
    assert record is not None and record["access_token"].startswith("at-")
    state = host.runtime.store.load_state(KEY)
    assert state.refresh_token is not None and state.generation == 1
    first_rt = state.refresh_token.get_secret_value()
    # the refresh that follows (due ~10 min before expiry) works with the connected grant
    clock.advance(3600)
    outcome = await host.runtime.refresh_now(KEY)
    assert outcome.kind is OutcomeKind.REFRESHED, outcome
    after = host.runtime.store.load_state(KEY)
    assert after.generation == 2 and after.refresh_token.get_secret_value() != first_rt
    assert kv_record(host.kv, KEY)["access_token"] != record["access_token"]


async def test_wrong_state_registers_nothing(host: Any, sandbox: Any) -> None:
    flow = flow_of(host)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    back = query_of(sandbox_authorize(started.authorization_url))
    exchanged = sandbox.app.authorization.stats.exchanged
    for wrong in (back["state"] + "x", "", None):
        with pytest.raises(ConnectError) as info:
            await flow.finish(wrong, code=back["code"], redirect_uri=REDIRECT)
        assert info.value.code == "invalid_state"
        assert_clean(str(info.value), back["code"], back["state"])
    assert sandbox.app.authorization.stats.exchanged == exchanged  # no exchange was attempted
    nothing_registered(host)


async def test_replayed_state_is_refused(host: Any, sandbox: Any) -> None:
    flow = flow_of(host)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    back = query_of(sandbox_authorize(started.authorization_url))
    await flow.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    generation = host.runtime.store.load_state(KEY).generation
    exchanged = sandbox.app.authorization.stats.exchanged
    with pytest.raises(ConnectError, match="already used") as info:
        await flow.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    assert info.value.code == "invalid_state"
    assert sandbox.app.authorization.stats.exchanged == exchanged
    assert host.runtime.store.load_state(KEY).generation == generation


async def test_a_state_is_spent_by_a_failed_callback_too(host: Any) -> None:
    flow = flow_of(host)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    back = query_of(sandbox_authorize(started.authorization_url))
    with pytest.raises(ConnectError) as info:  # a callback for another redirect URI burns the state
        await flow.finish(back["state"], code=back["code"], redirect_uri="http://127.0.0.1:2/callback")
    assert info.value.code == "invalid_state"
    with pytest.raises(ConnectError, match="already used"):
        await flow.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    nothing_registered(host)


async def test_expired_state_registers_nothing(host: Any, sandbox: Any, clock: ManualClock) -> None:
    flow = flow_of(host, ttl=120)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    assert started.expires_at == clock.now() + 120
    back = query_of(sandbox_authorize(started.authorization_url))
    clock.advance(121)
    exchanged = sandbox.app.authorization.stats.exchanged
    with pytest.raises(ConnectError, match="expired") as info:
        await flow.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    assert info.value.code == "expired_state"
    assert sandbox.app.authorization.stats.exchanged == exchanged
    nothing_registered(host)


async def test_access_denied_registers_nothing(host: Any) -> None:
    flow = flow_of(host)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    back = query_of(sandbox_authorize(started.authorization_url, action="deny"))
    assert back == {"error": "access_denied", "state": back["state"]}
    with pytest.raises(ConnectError, match="refused") as info:
        await flow.finish(back["state"], error=back["error"], redirect_uri=REDIRECT)
    assert info.value.code == "access_denied"
    assert_clean(str(info.value), back["state"])
    nothing_registered(host)


async def test_missing_verifier_is_refused_before_anything_is_sent(host: Any, sandbox: Any) -> None:
    states = MemoryStateStore()
    flow = flow_of(host, states)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    back = query_of(sandbox_authorize(started.authorization_url))
    pending = states.take(back["state"])
    assert pending is not None and pending.verifier
    states.put(PendingConnection(**{**pending.__dict__, "verifier": None}), 0.0)  # the verifier is lost
    exchanged = sandbox.app.authorization.stats.exchanged
    with pytest.raises(ConnectError, match="verifier") as info:
        await flow.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    assert info.value.code == "missing_verifier"
    assert sandbox.app.authorization.stats.exchanged == exchanged
    nothing_registered(host)


async def test_a_code_exchanged_without_its_verifier_is_refused_by_the_provider(host: Any, sandbox: Any) -> None:
    """The provider's side of PKCE: a code issued for a challenge is refused without the verifier; the refusal
    is a clear error, with neither the code nor the client secret in it, and nothing is registered."""
    flow = flow_of(host)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    back = query_of(sandbox_authorize(started.authorization_url))
    pending = flow.states.take(back["state"])
    assert pending is not None
    # a connection that holds no verifier, with a provider that does not do PKCE (so it is sent without one)
    provider = await host.runtime.shell.provider(host.runtime.shell.client("sandbox"))
    no_pkce = provider.model_copy(update={"pkce": False})

    async def provider_of(client: Any) -> Any:
        return no_pkce

    flow2 = ConnectFlow(client=host.runtime.shell.client, provider=provider_of, http=host.runtime.http,
                        register=host.runtime.register, status=host.runtime.status, states=flow.states,
                        clock=host.runtime.clock)
    flow.states.put(PendingConnection(**{**pending.__dict__, "verifier": None}), 0.0)
    refused = sandbox.app.authorization.stats.refused_exchanges
    with pytest.raises(ConnectError, match="invalid_grant") as info:
        await flow2.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    assert info.value.code == "exchange_failed"
    assert sandbox.app.authorization.stats.refused_exchanges == refused + 1
    assert_clean(str(info.value), back["code"], back["state"], pending.verifier or "")
    nothing_registered(host)


async def test_reconnecting_a_reauth_required_account_recovers_it(host: Any, sandbox: Any,
                                                                   recorder: Recorder, clock: ManualClock) -> None:
    flow = flow_of(host)
    await connect(flow)
    for family in sandbox.app.families.values():  # the user revoked the app at the provider
        family.revoked = True
    clock.advance(3600)
    outcome = await host.runtime.refresh_now(KEY)
    assert outcome.kind is OutcomeKind.REAUTH_REQUIRED
    assert host.runtime.store.load_state(KEY).status.value == "reauth_required"
    result = await connect(flow)  # no replace needed
    assert result.recovered and result.status == "active" and result.key == KEY
    (event,) = recorder.named("freshtoken_account_recovered")
    assert event.key == KEY and event.to_dict()["previous_status"] == "reauth_required"
    clock.advance(3600)
    assert (await host.runtime.refresh_now(KEY)).kind is OutcomeKind.REFRESHED


async def test_an_active_account_needs_replace(host: Any, sandbox: Any, recorder: Recorder) -> None:
    flow = flow_of(host)
    await connect(flow)
    rt = host.runtime.store.load_state(KEY).refresh_token.get_secret_value()
    with pytest.raises(AccountExists, match="replace"):
        await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    result = await connect(flow, replace=True)
    assert result.replaced and not result.recovered and result.status == "active"
    assert host.runtime.store.load_state(KEY).refresh_token.get_secret_value() != rt
    assert recorder.named("freshtoken_account_recovered") == []


async def test_start_refuses_what_would_fail_later(host: Any) -> None:
    flow = flow_of(host)
    with pytest.raises(Exception, match=r"unknown client|nope"):
        await flow.start(KEY, "nope", redirect_uri=REDIRECT)
    with pytest.raises(Exception, match="provider part"):
        await flow.start("acme:google:alice", "sandbox", redirect_uri=REDIRECT)
    with pytest.raises(Exception, match="redirect URI"):
        await flow.start(KEY, "sandbox", redirect_uri="javascript:alert(1)")
    with pytest.raises(Exception, match="key"):
        await flow.start("not a key", "sandbox", redirect_uri=REDIRECT)


def test_sandbox_login_refuses_wrong_credentials(sandbox: Any, env: Path) -> None:
    params = {"response_type": "code", "client_id": "connect-client", "redirect_uri": REDIRECT, "state": "s1",
              "username": "alice", "password": "wrong", "action": "approve"}
    resp = httpx.post(sandbox.url + "/authorize", data=params, follow_redirects=False, trust_env=False)
    assert resp.status_code == 401 and "location" not in resp.headers
    bad = httpx.get(sandbox.url + "/authorize", params={**params, "client_id": "unknown"}, trust_env=False)
    assert bad.status_code == 400 and "location" not in bad.headers


async def test_an_account_registered_meanwhile_is_not_replaced_and_the_new_grant_is_revoked(
        host: Any, sandbox: Any) -> None:
    flow = flow_of(host)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)  # the key is free: no replace asked
    back = query_of(sandbox_authorize(started.authorization_url))
    other = sandbox.mint("connect-client")  # meanwhile someone registers the key with another grant
    await host.runtime.register(KEY, client="sandbox", refresh_token=other["refresh_token"])
    families = set(sandbox.app.families)
    with pytest.raises(ConnectError, match="registered meanwhile") as info:
        await flow.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    assert info.value.code == "account_exists"
    (new,) = set(sandbox.app.families) - families  # the grant the code was exchanged for
    assert sandbox.app.families[new].revoked  # not left alive at the provider
    assert host.runtime.store.load_state(KEY).refresh_token.get_secret_value() == other["refresh_token"]


@pytest.mark.parametrize("echo", ["client_secret", "code", "header_injection"])
async def test_an_answer_that_echoes_the_credentials_registers_nothing(host: Any, sandbox: Any, echo: str) -> None:
    """The sandbox's real answer to the code exchange, rewritten on its way back as a hostile endpoint would
    write it: the client secret (or the code sent) as the access token. Nothing is registered, nothing reaches
    KV, and the error names the field without the value (freshtoken.echo; failed first: the client secret was
    registered as the account's access token). Likewise an access token with a CR LF and a second header line
    in it (freshtoken.header_safe; failed first: registered, and written to KV)."""
    flow = flow_of(host)
    started = await flow.start(KEY, "sandbox", redirect_uri=REDIRECT)
    back = query_of(sandbox_authorize(started.authorization_url))
    send = flow.http.send

    async def echoing(request: Any, client: Any, **kw: Any) -> Any:
        response = await send(request, client, **kw)
        body = json.loads(response.body)
        body["access_token"] = {"client_secret": CLIENT_SECRET, "code": "x." + back["code"],
                                "header_injection": body["access_token"] + "\r\nX-Injected: 1"}[echo]
        return TokenResponse(status=response.status, headers=response.headers, body=json.dumps(body).encode())

    flow.http.send = echoing  # type: ignore[method-assign]
    try:
        with pytest.raises(ConnectError, match="access_token") as info:
            await flow.finish(back["state"], code=back["code"], redirect_uri=REDIRECT)
    finally:
        del flow.http.send
    assert info.value.code == "exchange_failed"
    assert_clean(str(info.value), back["code"], back["state"])
    nothing_registered(host)
