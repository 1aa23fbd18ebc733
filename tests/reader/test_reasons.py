"""Reasons in KV: the refresher writes why an account cannot be served (a v2 record, no token), and every
Python reader (the SDK's TokenReader, the light reader) returns the typed reason. Real loopback sandbox,
virtual time."""

from __future__ import annotations

import json

import pytest

from freshtoken import TokenReader, TokenUnavailable
from freshtoken.record import EXPIRED_LINGER
from freshtoken.sandbox.server import Fault
from freshtoken_reader import Reader, Reason

from .conftest import Rig

KEY = "acme:generic:user-1"


async def registered(rig: Rig) -> str:
    grant = rig.sandbox.mint()
    await rig.refresher.register(refresh_token=grant["refresh_token"])
    out = await rig.fire()
    assert out.kind == "refreshed"
    return grant["refresh_token"]


def raw(rig: Rig) -> dict:
    text = rig.kv.get_sync(KEY)
    assert text is not None
    return json.loads(text)


async def reason_of(rig: Rig, min_remaining: float = 5.0) -> Reason:
    sdk = await TokenReader(rig.kv, clock=rig.clock, min_remaining=min_remaining).read(KEY)
    light = Reader(rig.kv.get_sync, clock=rig.clock.now, min_remaining=min_remaining).read(KEY)
    assert sdk.reason is light.reason and sdk.status == light.status  # one parser, one answer
    return sdk.reason


async def test_ok_then_reauth_required_replaces_the_token_in_kv(rig: Rig):
    await registered(rig)
    token = raw(rig)["access_token"]
    assert await reason_of(rig) is Reason.OK
    rig.sandbox.app.inject(Fault(status=400, body={"error": "invalid_grant", "error_description": "revoked"}))
    out = await rig.refresher.refresh_now()
    assert out.kind == "reauth_required"
    record = raw(rig)
    assert record == {"v": 2, "status": "reauth_required", "generation": 1, "since": int(rig.clock.now())}
    assert token not in rig.kv.get_sync(KEY)  # the token is gone from KV while the grant is refused
    assert await reason_of(rig) is Reason.REAUTH_REQUIRED
    with pytest.raises(TokenUnavailable, match="re-authorisation required") as err:
        await TokenReader(rig.kv, clock=rig.clock).get(KEY)
    assert err.value.reason == "reauth_required"
    assert (await TokenReader(rig.kv, clock=rig.clock).read(KEY)).status == 403


async def test_reauth_then_a_new_grant_serves_again(rig: Rig):
    await registered(rig)
    rig.sandbox.app.inject(Fault(status=400, body={"error": "invalid_grant"}))
    await rig.refresher.refresh_now()
    assert await reason_of(rig) is Reason.REAUTH_REQUIRED
    await rig.refresher.register(refresh_token=rig.sandbox.mint()["refresh_token"])
    assert (await rig.fire()).kind == "refreshed"
    assert await reason_of(rig) is Reason.OK and raw(rig)["generation"] == 2


async def test_refresh_failing_past_expiry_reads_expired_not_unknown(rig: Rig):
    await registered(rig)
    expires_at = raw(rig)["expires_at"]
    rig.sandbox.app.inject(*[Fault(status=503) for _ in range(200)])
    while rig.clock.now() < expires_at - 5:
        out = await rig.fire()
        assert out.kind == "retry_scheduled"
        if rig.clock.now() < expires_at - 5:
            assert await reason_of(rig) is Reason.OK  # still a valid token: keep serving it
            assert "access_token" in raw(rig)
    # past expiry, before the next retry: the token record lingers, so the reader says 'expired' (503)
    rig.clock.set(expires_at + 1)
    assert await reason_of(rig) is Reason.EXPIRED
    assert (await TokenReader(rig.kv, clock=rig.clock).read(KEY)).status == 503
    # the next failing attempt replaces the expired token by the reason
    out = await rig.fire()
    assert out.kind == "retry_scheduled"
    assert raw(rig)["status"] == "refresh_failing" and "access_token" not in raw(rig)
    assert await reason_of(rig) is Reason.EXPIRED
    # a day later, still failing: still 'expired', never 'unknown'
    rig.clock.advance(EXPIRED_LINGER + 3600)
    assert await reason_of(rig) is Reason.EXPIRED
    # the provider is back: a token again
    rig.sandbox.app.faults.clear()
    while (await rig.fire()).kind != "refreshed":
        pass
    assert await reason_of(rig) is Reason.OK


async def test_misconfigured_past_expiry_reads_expired(rig: Rig):
    await registered(rig)
    expires_at = raw(rig)["expires_at"]
    rig.sandbox.app.inject(*[Fault(status=401, body={"error": "invalid_client"}) for _ in range(50)])
    while rig.clock.now() <= expires_at:
        out = await rig.fire()
        assert out.kind == "misconfigured"
    assert raw(rig)["status"] == "misconfigured"
    assert await reason_of(rig) is Reason.EXPIRED


async def test_too_little_time_left_is_refused_as_expired(rig: Rig):
    await registered(rig)
    expires_at = raw(rig)["expires_at"]
    rig.clock.set(expires_at - 30)
    assert await reason_of(rig, min_remaining=5) is Reason.OK
    assert await reason_of(rig, min_remaining=60) is Reason.EXPIRED
    with pytest.raises(TokenUnavailable) as err:
        await TokenReader(rig.kv, clock=rig.clock, min_remaining=60).get(KEY)
    assert err.value.reason == "expired"


async def test_unknown_and_removed_read_unknown(rig: Rig):
    assert await reason_of(rig) is Reason.UNKNOWN
    await registered(rig)
    assert await rig.refresher.remove(revoke=False)
    assert await reason_of(rig) is Reason.UNKNOWN
    assert (await TokenReader(rig.kv, clock=rig.clock).read(KEY)).status == 404


async def test_an_unknown_version_reads_unsupported_version(rig: Rig):
    await rig.kv.put(KEY, json.dumps({"v": 3, "access_token": "from-the-future"}), None)
    assert await reason_of(rig) is Reason.UNSUPPORTED_VERSION
    reading = await TokenReader(rig.kv, clock=rig.clock).read(KEY)
    assert reading.status == 500 and reading.token is None and "from-the-future" not in reading.detail
