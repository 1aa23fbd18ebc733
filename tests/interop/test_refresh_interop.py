"""Issue #4: the SDK's refresher against real authorization servers.

The production embedded runtime (SQLite state + alarms, AES-GCM at rest, leases) with the generic
declarative provider refreshes grants minted honestly at oidc-provider and django-oauth-toolkit. Time on the
SDK side is virtual (alarms fire when the test says); the servers run on real time and are never patched.
What the SDK sends is inspected on the wire (:class:`~.transports.WireTap`), because neither server
rejects a client that authenticates with a method other than the one it registered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from freshtoken.refresher import Outcome

from .sdk_host import Host, make_host, sdk_client
from .servers import SHORT_AT_TTL, TRICKY_SECRET, AuthServer, DotServer

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
async def hosts(tmp_path: Path) -> AsyncIterator[Callable[..., Host]]:
    made: list[Host] = []
    keys = [("interop", os.urandom(32))]  # one deployment: every host of a test shares the keys

    def make(clients: list[Any], **kw: Any) -> Host:
        kw.setdefault("keys", keys)
        host = make_host(tmp_path, clients, **kw)
        made.append(host)
        return host

    yield make
    for host in made:
        await host.aclose()


def server_of(request: pytest.FixtureRequest, name: str) -> AuthServer:
    fixture = {"oidc": "oidc_server", "dot": "dot_server", "dot_grace": "dot_grace_server"}[name]
    server: AuthServer = request.getfixturevalue(fixture)
    return server


async def mint(server: AuthServer, label: str) -> dict[str, Any]:
    return await asyncio.to_thread(server.mint_tokens, label)


def new_key(label: str) -> str:
    return f"interop:generic:{label}-{uuid.uuid4().hex[:10]}"


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    def seg(s: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
        return out

    header, claims, _ = token.split(".")
    return seg(header), seg(claims)


async def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def assert_chain(sent: list[Any], first_rt: str) -> None:
    """No refresh token was ever sent twice, and the first one sent was the grant's."""
    rts = [s.refresh_token for s in sent]
    dupes = [rt[:6] for rt, n in Counter(rts).items() if n > 1]
    assert not dupes, f"refresh tokens sent more than once (replay): {dupes}"
    assert rts[0] == first_rt


# ------------------------------------------------------------------------------------------------
# client authentication, on the wire
# ------------------------------------------------------------------------------------------------
AUTH_CASES = [
    ("oidc", "basic"),
    ("oidc", "post"),
    ("oidc", "jwt"),
    ("oidc", "public"),
    ("dot", "basic"),
    ("dot", "post"),
    ("dot", "public"),
]


@pytest.mark.parametrize(("server_name", "label"), AUTH_CASES, ids=[f"{s}-{c}" for s, c in AUTH_CASES])
async def test_refresh_with_each_client_auth_method(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str, label: str
) -> None:
    server = server_of(request, server_name)
    reg = server.client(label)
    tokens = await mint(server, label)
    host = hosts([sdk_client(server, label)])
    key = new_key(label)
    await host.register_grant(key, label, tokens)

    assert await host.fire_due() == 1
    state = host.state(key)
    assert state.status == "active", state.last_error
    record = host.kv_record(key)
    assert record is not None and record.access_token != tokens["access_token"]
    live = await asyncio.to_thread(server.introspect, "post", record.access_token)
    assert live["active"] is True and live["client_id"] == reg.client_id

    (sent,) = host.token_requests()
    assert sent.status == 200 and sent.url == server.token_endpoint
    assert sent.refresh_token == tokens["refresh_token"]
    assert sent.auth_method == reg.auth_method, sent
    if reg.auth_method == "client_secret_basic":
        # RFC 6749 §2.3.1: urlencoded, then Basic; the secret "a+b/c:d%e f" survives the round trip.
        assert sent.basic_credentials == (reg.client_id, TRICKY_SECRET)
        assert "client_secret" not in sent.form
    elif reg.auth_method == "client_secret_post":
        assert sent.form["client_id"] == reg.client_id and sent.form["client_secret"] == reg.secret
        assert "authorization" not in sent.headers
    elif reg.auth_method == "private_key_jwt":
        assert sent.form["client_assertion_type"] == JWT_BEARER and "client_secret" not in sent.form
        header, claims = jwt_parts(sent.form["client_assertion"])
        assert header["alg"] == "RS256" and header.get("kid") == reg.private_jwk["kid"]  # type: ignore[index]
        assert claims["iss"] == claims["sub"] == reg.client_id
        assert claims["aud"] == server.token_endpoint
        assert "authorization" not in sent.headers
    else:
        assert sent.form["client_id"] == reg.client_id
        assert "client_secret" not in sent.form and "authorization" not in sent.headers

    # The next alarm uses the rotated refresh token, never the original.
    assert await host.fire_due() == 1
    first, second = host.token_requests()
    assert second.status == 200
    assert second.refresh_token != first.refresh_token
    assert host.state(key).refresh_count == 2


@pytest.mark.parametrize("server_name", ["oidc", "dot"])
async def test_registering_the_granted_access_token_refreshes_on_schedule(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str
) -> None:
    """The usual hand-over: the app finishes the OAuth flow and registers both tokens."""
    server = server_of(request, server_name)
    tokens = await mint(server, "post")
    host = hosts([sdk_client(server, "post")])
    key = new_key("handover")
    now = host.clock.now()
    await host.runtime.register(
        key,
        client="post",
        refresh_token=tokens["refresh_token"],
        access_token=tokens["access_token"],
        expires_at=now + tokens["expires_in"],
        scope=tokens.get("scope"),
    )
    record = host.kv_record(key)
    assert record is not None and record.access_token == tokens["access_token"]
    assert await host.runtime.run_due() == 0 and not host.token_requests()
    # 600 s tokens are refreshed half-way (lifetime < 2 x the 600 s lead), never later than 60 s before expiry.
    alarm = host.store.get_alarm(key)
    assert alarm is not None and alarm == pytest.approx(now + tokens["expires_in"] / 2)
    assert await host.fire_due() == 1
    (sent,) = host.token_requests()
    assert sent.status == 200 and sent.refresh_token == tokens["refresh_token"]
    record = host.kv_record(key)
    assert record is not None and record.access_token != tokens["access_token"]
    assert record.expires_at is not None and record.expires_at > host.clock.now()


# ------------------------------------------------------------------------------------------------
# rotation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("server_name", ["oidc", "dot"])
async def test_rotation_never_sends_an_old_refresh_token(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str
) -> None:
    server = server_of(request, server_name)
    tokens = await mint(server, "post")
    host = hosts([sdk_client(server, "post")])
    key = new_key("rotation")
    await host.register_grant(key, "post", tokens)
    for _ in range(5):
        assert await host.fire_due() == 1
    sent = host.token_requests()
    assert len(sent) == 5 and all(s.status == 200 for s in sent)
    assert_chain(sent, tokens["refresh_token"])
    state = host.state(key)
    assert state.refresh_count == 5 and state.generation == 5
    assert state.refresh_token is not None
    assert state.refresh_token.get_secret_value() not in {s.refresh_token for s in sent}

    # Someone else replays the grant's first refresh token: the server kills the family (RFC 9700
    # §4.14.2), and the SDK's next refresh reports re-authorisation, once, without retrying.
    replay = await asyncio.to_thread(server.refresh, "post", tokens["refresh_token"])
    assert replay.json()["error"] == "invalid_grant"
    assert await host.fire_due() == 1
    assert host.state(key).status == "reauth_required"
    assert len(host.events.of("ReauthRequiredEvent")) == 1
    host.clock.advance(7 * 86400)
    assert await host.fire_due() == 0
    assert len(host.token_requests()) == 6


# ------------------------------------------------------------------------------------------------
# no replay under concurrency
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("server_name", ["oidc", "dot"])
async def test_no_replay_under_many_concurrent_alarms(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str
) -> None:
    """Two runtimes ("processes") on one state file fire the same due alarm many times at once."""
    server = server_of(request, server_name)
    tokens = await mint(server, "post")
    client = sdk_client(server, "post")
    a = hosts([client])
    b = hosts([client], clock=a.clock)  # a second process on the same state file
    key = new_key("alarms")
    await a.register_grant(key, "post", tokens)

    fired = await asyncio.gather(*(h.runtime.run_due() for _ in range(10) for h in (a, b)))
    assert sum(fired) == 1, fired
    sent = a.token_requests() + b.token_requests()
    assert len(sent) == 1 and sent[0].status == 200

    # Again at the next alarm, with refresh_now calls from both processes in the mix.
    a.clock.set(a.store.next_alarm_at() or a.clock.now())
    results = await asyncio.gather(
        *(h.runtime.run_due() for _ in range(10) for h in (a, b)),
        *(h.runtime.refresh_now(key) for _ in range(3) for h in (a, b)),
    )
    refreshes = [r for r in results if isinstance(r, Outcome)]
    assert all(r.kind == "refreshed" for r in refreshes), [r.kind for r in refreshes]
    all_sent = a.token_requests() + b.token_requests()
    assert all(s.status == 200 for s in all_sent), [s.status for s in all_sent]
    rts = [s.refresh_token for s in all_sent]
    assert len(rts) == len(set(rts)), "a refresh token was sent twice"
    assert tokens["refresh_token"] in rts
    state = a.state(key)
    assert state.status == "active" and state.refresh_count == len(all_sent)
    # The grant is alive at the server: one more refresh succeeds.
    assert (await a.runtime.refresh_now(key)).kind == "refreshed"


@pytest.mark.parametrize("server_name", ["oidc", "dot"])
async def test_refresh_now_racing_the_scheduled_alarm(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str
) -> None:
    """The scheduler loop fires the alarm while refresh_now calls from two processes race it."""
    server = server_of(request, server_name)
    tokens = await mint(server, "basic")
    client = sdk_client(server, "basic")
    # Virtual time jumps to the next alarm (+300 s) while a refresh is in flight. Real refreshes take
    # milliseconds; the lease (wall-clock, 180 s by default) must outlive the jump, or the other process
    # rightly treats the holder as dead and takes over.
    a = hosts([client], lease_ttl=3600)
    b = hosts([client], clock=a.clock, lease_ttl=3600)  # a second process on the same state file
    key = new_key("race")
    await a.register_grant(key, "basic", tokens)

    async def refreshing(host: Host) -> bool:
        view = await host.runtime.status(key)
        return bool(view["refreshing"])

    stop = asyncio.Event()
    loop_task = asyncio.create_task(a.runtime.run(stop))
    expected = 0
    try:
        for round_ in range(4):
            due = a.store.get_alarm(key)
            assert due is not None
            if round_ % 2 == 0:
                # The alarm goes first: the scheduler has it in flight when both refresh_now calls arrive.
                a.clock.set(due)
                a.runtime.wake()
                deadline = time.monotonic() + 5
                while not await refreshing(a):
                    assert time.monotonic() < deadline, "the scheduler did not fire the due alarm"
                    await asyncio.sleep(0)
                results = await asyncio.gather(a.runtime.refresh_now(key), b.runtime.refresh_now(key))
                expected += 3
            else:
                # The other process's refresh_now goes first; the alarm comes due while it is in flight.
                other = asyncio.create_task(b.runtime.refresh_now(key))
                deadline = time.monotonic() + 5
                while not await refreshing(b):
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0)
                a.clock.set(due)
                a.runtime.wake()
                results = await asyncio.gather(a.runtime.refresh_now(key), other)
                expected += 2
            assert [r.kind for r in results] == ["refreshed", "refreshed"]
            await wait_until(lambda n=expected: a.state(key).refresh_count >= n)  # type: ignore[misc]
            await asyncio.sleep(0.05)  # let the scheduler look again: nothing may be due now
    finally:
        stop.set()
        await loop_task
    assert a.runtime.stats()["alarms_fired"] == 2
    sent = a.token_requests() + b.token_requests()
    assert len(sent) == expected == a.state(key).refresh_count
    assert all(s.status == 200 for s in sent), [s.status for s in sent]
    rts = [s.refresh_token for s in sent]
    assert len(rts) == len(set(rts)), "a refresh token was sent twice"
    assert tokens["refresh_token"] in rts
    assert a.state(key).status == "active"
    assert (await a.runtime.refresh_now(key)).kind == "refreshed"


# ------------------------------------------------------------------------------------------------
# a lost response
# ------------------------------------------------------------------------------------------------
async def test_dot_grace_window_recovers_a_lost_response(
    dot_grace_server: DotServer, hosts: Callable[..., Host]
) -> None:
    server = dot_grace_server
    tokens = await mint(server, "post")
    host = hosts([sdk_client(server, "post")])
    key = new_key("lost")
    await host.register_grant(key, "post", tokens)

    host.tap.lose = 1  # the server rotates; the answer never arrives
    assert await host.fire_due() == 1
    state = host.state(key)
    assert state.status == "retrying" and state.failures == 1
    assert host.refresh_token(key) == tokens["refresh_token"]
    (_, lost_status, lost_body) = host.tap.lost[0]
    assert lost_status == 200
    lost = json.loads(lost_body)

    # The retry (after backoff) sends the same token; within the window DOT answers with the same pair.
    assert await host.fire_due() == 1
    state = host.state(key)
    assert state.status == "active", state.last_error
    assert host.refresh_token(key) == lost["refresh_token"]
    record = host.kv_record(key)
    assert record is not None and record.access_token == lost["access_token"]
    assert [s.refresh_token for s in host.token_requests()] == [tokens["refresh_token"]] * 2

    # And the family is intact: the next refresh uses the new token and succeeds.
    assert await host.fire_due() == 1
    last = host.token_requests()[-1]
    assert last.refresh_token == lost["refresh_token"] and last.status == 200
    assert host.state(key).status == "active"
    assert not host.events.of("ReauthRequiredEvent")


@pytest.mark.parametrize("server_name", ["oidc", "dot"])
async def test_lost_response_without_grace_window_is_reauth_without_retry_storm(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str
) -> None:
    server = server_of(request, server_name)
    tokens = await mint(server, "post")
    host = hosts([sdk_client(server, "post")])
    key = new_key("lost-nograce")
    await host.register_grant(key, "post", tokens)
    host.tap.lose = 1
    assert await host.fire_due() == 1
    assert host.state(key).status == "retrying"
    assert await host.fire_due() == 1
    state = host.state(key)
    assert state.status == "reauth_required"
    assert len(host.events.of("ReauthRequiredEvent")) == 1
    host.clock.advance(30 * 86400)
    assert await host.fire_due() == 0
    assert len(host.token_requests()) == 2


# ------------------------------------------------------------------------------------------------
# dead grants and bad clients
# ------------------------------------------------------------------------------------------------
DEAD_CASES = [("oidc", "expired"), ("oidc", "revoked"), ("dot", "revoked")]


@pytest.mark.parametrize(("server_name", "how"), DEAD_CASES, ids=[f"{s}-{h}" for s, h in DEAD_CASES])
async def test_dead_refresh_token_is_reauth_required_without_retry_storm(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str, how: str
) -> None:
    server = server_of(request, server_name)
    label = "short_rt" if how == "expired" else "post"
    tokens = await mint(server, label)
    if how == "expired":
        minted = time.time()
        await asyncio.sleep(max(0.0, minted + 2.05 - time.time()))  # short_rt refresh tokens live 2 s
    else:
        assert (await asyncio.to_thread(server.revoke, label, tokens["refresh_token"])).status_code == 200
    host = hosts([sdk_client(server, label)])
    key = new_key(f"dead-{how}")
    await host.register_grant(key, label, tokens)

    assert await host.fire_due() == 1
    state = host.state(key)
    assert state.status == "reauth_required"
    assert state.last_error_kind is not None and "invalid_grant" in (state.last_error or "")
    assert host.store.get_alarm(key) is None
    (event,) = host.events.of("ReauthRequiredEvent")
    assert event.key == key
    assert not host.events.of("RefreshFailed")
    (sent,) = host.token_requests()
    assert sent.status == 400

    # No retry storm: a week of virtual time later, nothing more has been sent.
    for _ in range(3):
        host.clock.advance(86400 * 2.5)
        assert await host.fire_due() == 0
    assert len(host.token_requests()) == 1
    # The KV holds no token, only the reason a gateway can act on (a v2 reason record: 403, re-authorise).
    raw = host.kv.get_sync(key)
    assert raw is not None
    reason = json.loads(raw)
    assert reason["v"] == 2 and reason["status"] == "reauth_required" and "access_token" not in reason


@pytest.mark.parametrize(
    ("server_name", "label"), [("oidc", "basic"), ("oidc", "post"), ("dot", "basic"), ("dot", "post")]
)
async def test_invalid_client_is_misconfigured_alerts_and_heals(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str, label: str
) -> None:
    server = server_of(request, server_name)
    tokens = await mint(server, label)
    bad = hosts([sdk_client(server, label, secret="not-the-secret")], state_db="heal.sqlite3")
    key = new_key("badclient")
    await bad.register_grant(key, label, tokens)

    assert await bad.fire_due() == 1
    state = bad.state(key)
    assert state.status == "misconfigured"
    assert "invalid_client" in (state.last_error or "")
    (failed,) = bad.events.of("RefreshFailed")
    assert failed.alert is True and failed.kind == "misconfigured"
    (sent,) = bad.token_requests()
    assert sent.status in (400, 401)
    retry_at = bad.store.get_alarm(key)
    assert retry_at is not None and retry_at - bad.clock.now() >= 600  # slow retry, not a storm
    bad.clock.advance(300)
    assert await bad.runtime.run_due() == 0
    assert len(bad.token_requests()) == 1
    await bad.aclose()

    # The operator fixes the secret; the same state heals at the next alarm with the untouched grant.
    good = hosts([sdk_client(server, label)], clock=bad.clock, state_db="heal.sqlite3")
    assert await good.fire_due() == 1
    assert good.state(key).status == "active", good.state(key).last_error
    (healed,) = good.token_requests()
    assert healed.status == 200 and healed.refresh_token == tokens["refresh_token"]


# ------------------------------------------------------------------------------------------------
# discovery and removal
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("server_name", ["oidc", "dot"])
async def test_issuer_discovery_and_remove_revokes(
    request: pytest.FixtureRequest, hosts: Callable[..., Host], server_name: str
) -> None:
    server = server_of(request, server_name)
    tokens = await mint(server, "basic")
    host = hosts([sdk_client(server, "basic", discover=True)])
    key = new_key("discover")
    await host.register_grant(key, "basic", tokens)
    assert await host.fire_due() == 1
    (sent,) = host.token_requests()
    assert sent.url == server.token_endpoint and sent.status == 200
    current = host.refresh_token(key)

    assert await host.runtime.remove(key) is True
    revocation = [s for s in host.tap.sent if s.url == server.revocation_endpoint]
    assert len(revocation) == 1 and revocation[0].status == 200
    assert revocation[0].auth_method == "client_secret_basic"
    assert revocation[0].form["token"] == current
    after = await asyncio.to_thread(server.refresh, "basic", current)
    assert after.json().get("error") == "invalid_grant"
    assert host.kv_record(key) is None


# ------------------------------------------------------------------------------------------------
# Regressions: SDK defects these tests found (short tokens looping at issue time; the scheduler
# oversleeping a retry), fixed in lead.refresh_at and EmbeddedRuntime._task_done.
# ------------------------------------------------------------------------------------------------
async def test_a_short_lived_token_is_not_due_again_right_after_its_refresh(
    oidc_server: AuthServer, hosts: Callable[..., Host]
) -> None:
    tokens = await mint(oidc_server, "short_at")
    assert tokens["expires_in"] == SHORT_AT_TTL
    host = hosts([sdk_client(oidc_server, "short_at")])
    key = new_key("short-at")
    await host.register_grant(key, "short_at", tokens)
    # refresh_now, not run_due: with the defect run_due never returns (the account is always due again).
    assert (await host.runtime.refresh_now(key)).kind == "refreshed"
    state = host.state(key)
    alarm = host.store.get_alarm(key)
    assert state.issued_at is not None and alarm is not None
    assert alarm > host.clock.now(), (
        f"the fresh {SHORT_AT_TTL} s token is due again at once (alarm at issued_at + {alarm - state.issued_at:.0f} s)"
    )


async def test_the_scheduler_retries_when_the_retry_is_due(oidc_server: AuthServer, hosts: Callable[..., Host]) -> None:
    tokens = await mint(oidc_server, "post")
    host = hosts([sdk_client(oidc_server, "post")])
    key = new_key("retry-timing")
    await host.register_grant(key, "post", tokens)
    host.tap.lose = 1  # the first attempt's answer is lost: a retryable failure, retry in 1-5 s
    stop = asyncio.Event()
    loop_task = asyncio.create_task(host.runtime.run(stop))
    try:
        await wait_until(lambda: host.state(key).status == "retrying" and key not in host.runtime._busy)
        retry_at = host.store.get_alarm(key)
        assert retry_at is not None and retry_at - host.clock.now() <= 5.0 + 1e-6
        host.clock.set(retry_at)  # the retry is due (virtual time); the scheduler should fire it
        await wait_until(lambda: len(host.token_requests()) == 2, timeout=2.0)
    finally:
        stop.set()
        await loop_task
