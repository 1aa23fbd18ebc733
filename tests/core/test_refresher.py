"""The refresher state machine, in virtual time, against the real loopback sandbox token endpoint."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from freshtoken import KVRecord, ManualClock, NotRegistered, Status, TokenHTTP, TokenReader, TokenUnavailable
from freshtoken.errors import RetryableError
from freshtoken.providers.generic import GenericProvider
from freshtoken.sandbox.server import Fault

from .conftest import Rig

KEY = "acme:generic:user-1"


async def registered(rig: Rig) -> str:
    grant = rig.sandbox.mint()
    await rig.refresher.register(refresh_token=grant["refresh_token"])
    return grant["refresh_token"]


async def test_register_schedules_at_once_and_alarm_refreshes_writes_kv_and_rearms(rig: Rig):
    await registered(rig)
    assert await rig.storage.get_alarm() == rig.clock.now()
    out = await rig.fire()
    assert out.kind == "refreshed" and out.generation == 1
    record = await TokenReader(rig.kv, clock=rig.clock).get(KEY)
    assert record.expires_at == int(rig.clock.now() + 3600)
    assert await rig.storage.get_alarm() == pytest.approx(rig.clock.now() + 3000)
    assert rig.recorder.names() == ["succeeded"]


async def test_two_days_of_hour_long_tokens_run_in_virtual_time_and_kv_never_goes_stale(rig: Rig):
    await registered(rig)
    reader = TokenReader(rig.kv, clock=rig.clock, min_remaining=60)
    start = rig.clock.now()
    before = rig.sandbox.app.stats.refreshes
    while rig.clock.now() < start + 48 * 3600:
        await rig.fire()
        # just before the next alarm the gateway still has a token with >= 10 min left
        alarm = await rig.storage.get_alarm()
        rig.clock.set(alarm - 1)
        assert (await reader.get(KEY)).remaining(rig.clock.now()) >= 600
    refreshes = rig.sandbox.app.stats.refreshes - before
    assert 57 <= refreshes <= 59  # one every 50 minutes
    assert rig.sandbox.app.stats.reuse_detected == 0


async def test_rotated_refresh_token_is_persisted_before_kv_write_before_alarm(rig: Rig):
    first_rt = await registered(rig)
    calls: list[str] = []
    save, put, set_alarm = rig.storage.save, rig.kv.put, rig.storage.set_alarm

    async def rec_save(state):
        calls.append(f"save:{state.status.value}:{state.generation}")
        await save(state)

    async def rec_put(*a, **k):
        calls.append("kv")
        await put(*a, **k)

    async def rec_alarm(at):
        calls.append("alarm")
        await set_alarm(at)

    rig.storage.save, rig.kv.put, rig.storage.set_alarm = rec_save, rec_put, rec_alarm
    await rig.fire()
    assert calls == ["save:pending:0", "save:active:1", "kv", "alarm"]
    state = await rig.storage.load()
    assert state.refresh_token.get_secret_value() != first_rt
    assert state.previous_refresh_token.get_secret_value() == first_rt


async def test_kv_record_never_holds_the_refresh_token(rig: Rig):
    await registered(rig)
    await rig.fire()
    state = await rig.storage.load()
    raw = rig.kv.get_sync(KEY)
    assert state.refresh_token.get_secret_value() not in raw
    assert set(json.loads(raw)) == {"v", "access_token", "token_type", "expires_at", "scope", "generation",
                                    "refreshed_at", "extras"}


async def test_response_without_refresh_token_keeps_the_old_one(rig: Rig):
    rt = await registered(rig)
    rig.sandbox.app.rotate = False
    await rig.fire()
    await rig.fire()
    state = await rig.storage.load()
    assert state.refresh_token.get_secret_value() == rt and state.generation == 2


async def test_retryable_failures_back_off_alert_at_threshold_then_token_expired_then_recover(rig: Rig):
    await registered(rig)
    await rig.fire()
    rig.sandbox.app.inject(*[Fault(status=503) for _ in range(30)])
    delays, alerts = [], []
    for _ in range(30):
        at = await rig.storage.get_alarm()
        out = await rig.fire()
        assert out.kind == "retry_scheduled"
        delays.append(out.next_alarm - at)
    failed = [e for n, e in rig.recorder.events if n == "failed"]
    alerts = [e.consecutive_failures for e in failed if e.alert]
    assert alerts == [3]  # once per streak, at the policy threshold
    assert all(1 <= d <= 300 for d in delays) and max(delays[5:]) > 60  # exponential, capped
    assert rig.recorder.names().count("expired") == 1  # the KV token expired during the outage
    state = await rig.storage.load()
    assert state.status is Status.RETRYING and state.failures == 30
    out = await rig.fire()  # the endpoint is back
    assert out.kind == "refreshed"
    state = await rig.storage.load()
    assert state.failures == 0 and not state.alerted_failures and state.status is Status.ACTIVE


async def test_retry_after_is_honoured(rig: Rig):
    await registered(rig)
    rig.sandbox.app.inject(Fault(status=429, headers={"retry-after": "900"}, body={"error": "slow_down"}))
    now = rig.clock.now()
    out = await rig.fire()
    assert out.kind == "retry_scheduled" and out.next_alarm >= now + 900


class SlowHTTP(TokenHTTP):
    """The token request takes ``took`` seconds of the virtual clock (a slow endpoint, or one that times out)."""

    def __init__(self, clock: ManualClock, took: float, *, times_out: bool = False) -> None:
        super().__init__()
        self.clock, self.took, self.times_out = clock, took, times_out

    async def send(self, request: Any, client: Any, *, timeout: float = 30.0) -> Any:
        self.clock.set(self.clock.now() + self.took)
        if self.times_out:
            raise RetryableError("the token endpoint did not answer within the deadline")
        return await super().send(request, client, timeout=timeout)


async def test_retry_after_counts_from_the_answer_not_from_the_request(rig: Rig):
    """``Retry-After: 60`` in an answer that took 45 s to come: the retry is 60 s after the answer (RFC 9110
    10.2.3: seconds after the response is received). Before, the delay was counted from the alarm's start, so the
    refresher came back 15 s after the answer, 45 s before the provider allowed."""
    await registered(rig)
    rig.refresher.http = SlowHTTP(rig.clock, 45.0)
    rig.sandbox.app.inject(Fault(status=429, headers={"retry-after": "60"}, body={"error": "slow_down"}))
    alarm = await rig.storage.get_alarm()
    out = await rig.fire()
    answered = alarm + 45.0
    assert out.kind == "retry_scheduled" and out.next_alarm >= answered + 60, out.next_alarm - answered


async def test_the_backoff_counts_from_the_failure_not_from_the_request(rig: Rig):
    """A request that timed out after 30 s: the backoff starts when it failed. Before, it was counted from the
    alarm's start, so a first backoff shorter than the deadline put the retry in the past: the refresher tried
    again at once, without backing off, every time (the provider that was too slow got hammered)."""
    await registered(rig)
    rig.refresher.http = SlowHTTP(rig.clock, 30.0, times_out=True)
    for _ in range(3):
        alarm = await rig.storage.get_alarm()
        out = await rig.fire()
        assert out.kind == "retry_scheduled"
        assert out.next_alarm > alarm + 30.0, f"retry {out.next_alarm - alarm - 30:.1f} s after the failure"


async def test_a_slow_answer_counts_the_lifetime_from_the_request(rig: Rig):
    """An answer that took 45 s with ``expires_in`` N: the token was issued at some moment after the request was
    sent, so it expires no later than send + N. Before, the lifetime was counted from the answer, so the KV record
    said the token lived 45 s longer than it could, and a gateway would hand it out up to 45 s past its end when
    refreshing then failed."""
    await registered(rig)
    rig.refresher.http = SlowHTTP(rig.clock, 45.0)
    alarm = await rig.storage.get_alarm()
    out = await rig.fire()
    assert out.kind == "refreshed"
    state = await rig.storage.load()
    record = KVRecord.loads(await rig.kv.get("acme:generic:user-1"))
    assert state.expires_at == record.expires_at == alarm + rig.sandbox.app.lifetime


async def test_invalid_grant_stops_retrying_alerts_once_and_keeps_state(rig: Rig):
    await registered(rig)
    rig.sandbox.app.inject(Fault(status=400, body={"error": "invalid_grant", "error_description": "revoked"}))
    requests = rig.sandbox.app.stats.requests
    out = await rig.fire()
    assert out.kind == "reauth_required"
    assert await rig.storage.get_alarm() is None
    again = await rig.refresher.alarm()  # a stray re-delivery
    assert again.kind == "reauth_required"
    assert rig.sandbox.app.stats.requests == requests + 1  # no retry storm
    assert rig.recorder.names().count("reauth") == 1
    state = await rig.storage.load()
    assert state.status is Status.REAUTH_REQUIRED and "invalid_grant" in state.last_error


async def test_invalid_client_is_misconfiguration_alerted_and_retried_slowly(rig: Rig):
    await registered(rig)
    rig.sandbox.app.inject(Fault(status=401, body={"error": "invalid_client"}))
    now = rig.clock.now()
    out = await rig.fire()
    assert out.kind == "misconfigured"
    assert out.next_alarm == pytest.approx(now + rig.provider.retry.misconfigured_delay)
    failed = [e for n, e in rig.recorder.events if n == "failed"]
    assert failed[0].alert and failed[0].kind == "misconfigured"
    assert (await rig.fire()).kind == "refreshed"  # fixed: heals by itself


async def test_a_redelivered_alarm_does_not_refresh_twice_but_repairs_kv(rig: Rig):
    await registered(rig)
    await rig.fire()
    requests = rig.sandbox.app.stats.requests
    await rig.kv.delete(KEY)  # as if the process died between the state write and the KV write
    out = await rig.refresher.alarm()
    assert out.kind == "not_due"
    assert rig.sandbox.app.stats.requests == requests
    assert rig.kv.get_sync(KEY) is not None


async def test_kv_failure_after_refresh_keeps_the_token_and_retries_the_write_only(rig: Rig):
    await registered(rig)
    put = rig.kv.put

    async def broken(*a, **k):
        raise ConnectionError("kv down")

    rig.kv.put = broken
    out = await rig.fire()
    assert out.kind == "retry_scheduled"
    rig.kv.put = put
    requests = rig.sandbox.app.stats.requests
    out = await rig.fire()
    assert out.kind == "not_due" and rig.sandbox.app.stats.requests == requests
    assert KVRecord.loads(rig.kv.get_sync(KEY)).generation == 1


async def test_refresh_token_expiry_is_tracked_and_alerted_once(rig: Rig):
    await registered(rig)
    body = {"access_token": "A1", "expires_in": 3600, "refresh_token_expires_in": 86400}
    rig.sandbox.app.inject(Fault(status=200, body=body), Fault(status=200, body=body))
    await rig.fire()
    await rig.fire()
    assert rig.recorder.names().count("rt_expiring") == 1
    state = await rig.storage.load()
    assert state.refresh_token_expires_at == pytest.approx(rig.clock.now() - 3000 + 86400, abs=3600)


async def test_malformed_response_is_retried_and_a_plugin_bug_never_escapes(rig: Rig):
    await registered(rig)
    rig.sandbox.app.inject(Fault(status=200, body="<html>oops</html>"))
    assert (await rig.fire()).kind == "retry_scheduled"

    class Buggy(GenericProvider):
        def parse_token(self, payload, now):
            raise ZeroDivisionError("bug")

    rig.refresher.provider = Buggy(token_url=rig.sandbox.token_url)
    out = await rig.fire()
    assert out.kind == "retry_scheduled" and "ZeroDivisionError" in out.error


async def test_static_token_goes_to_kv_without_ttl_and_no_alarm(rig: Rig):
    await rig.refresher.register(refresh_token=None, access_token="static-token", never_expires=True)
    assert await rig.storage.get_alarm() is None
    record = KVRecord.loads(rig.kv.get_sync(KEY))
    assert record.expires_at is None
    rig.clock.advance(10 * 365 * 86400)
    assert (await TokenReader(rig.kv, clock=rig.clock).get(KEY)).access_token == "static-token"


async def test_register_with_a_valid_token_writes_kv_and_schedules_before_expiry(rig: Rig):
    grant = rig.sandbox.mint()
    now = rig.clock.now()
    await rig.refresher.register(
        refresh_token=grant["refresh_token"], access_token=grant["access_token"], expires_at=now + 3600
    )
    assert await rig.storage.get_alarm() == pytest.approx(now + 3000)
    assert KVRecord.loads(rig.kv.get_sync(KEY)).access_token == grant["access_token"]


async def test_remove_deletes_kv_state_and_alarm_and_revokes(sandbox):
    rig = Rig(sandbox, revocation_url=sandbox.url + "/revoke")
    rt = await registered(rig)
    await rig.fire()
    assert await rig.refresher.remove() is True
    assert rig.kv.get_sync(KEY) is None and await rig.storage.load() is None
    assert await rig.storage.get_alarm() is None
    assert rig.sandbox.app.last_request["params"]["grant_type"] == "refresh_token"  # last /token call
    with pytest.raises(NotRegistered):
        await rig.refresher.status()
    with pytest.raises(TokenUnavailable):
        await TokenReader(rig.kv, clock=rig.clock).get(KEY)
    assert rt
    await rig.http.aclose()


async def test_secrets_never_reach_events_errors_status_or_logs(rig: Rig, caplog):
    caplog.set_level(logging.DEBUG)
    rt = await registered(rig)
    await rig.fire()
    state = await rig.storage.load()
    secrets = {rt, "sandbox-secret", state.refresh_token.get_secret_value(), state.access_token.get_secret_value()}
    # a hostile provider echoes the refresh token back in its error description
    echo = state.refresh_token.get_secret_value()
    rig.sandbox.app.inject(
        Fault(status=400, body={"error": "invalid_grant", "error_description": f"bad token {echo} and secret sandbox-secret"})
    )
    await rig.fire()
    texts = [caplog.text, json.dumps(await rig.refresher.status())]
    texts += [json.dumps(e.to_dict()) for _, e in rig.recorder.events]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert "[redacted]" in (await rig.refresher.status())["last_error"]


async def test_account_data_is_validated_for_url_placeholders(sandbox):
    class Tenanted(GenericProvider):
        account_fields = {"tenant": r"[a-z0-9-]{1,40}"}

    rig = Rig(sandbox)
    rig.refresher.provider = Tenanted(token_url=sandbox.url + "/{tenant}/token")
    from freshtoken import InvalidAccountData

    with pytest.raises(InvalidAccountData, match="needs 'tenant'"):
        await rig.refresher.register(refresh_token="x")
    with pytest.raises(InvalidAccountData, match="'tenant'"):
        await rig.refresher.register(refresh_token="x", account_data={"tenant": "evil.com/x"})
    assert await rig.storage.load() is None
    await rig.http.aclose()


async def test_a_provider_that_cannot_build_its_request_is_misconfigured_not_a_crash(rig: Rig):
    await registered(rig)

    class Broken(GenericProvider):
        def build_refresh_request(self, refresh_token, client, account_data):
            raise KeyError("oops")

    rig.refresher.provider = Broken(token_url=rig.sandbox.token_url)
    out = await rig.fire()
    assert out.kind == "misconfigured" and "KeyError" in out.error


async def test_private_key_jwt_with_a_bad_key_is_misconfigured(rig: Rig):
    from freshtoken import OAuthClient

    await registered(rig)
    rig.refresher.client = OAuthClient(
        name="jwt", provider="generic", client_id="sandbox-client", auth_method="private_key_jwt",
        private_key="-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
    )
    out = await rig.fire()
    assert out.kind == "misconfigured" and "not a key" not in out.error


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
@pytest.mark.parametrize("body_format", ["form", "json"])
async def test_client_auth_methods_and_body_formats_on_the_wire(sandbox, method, body_format):
    from freshtoken import OAuthClient

    secret = "a+b/c:d%e f&g=h"
    sandbox.app.clients["odd client:id"] = secret
    rig = Rig(sandbox, body_format=body_format)
    rig.refresher.client = OAuthClient(
        name="odd", provider="generic", client_id="odd client:id", client_secret=secret, auth_method=method
    )
    grant = sandbox.mint("odd client:id")
    await rig.refresher.register(refresh_token=grant["refresh_token"])
    assert (await rig.fire()).kind == "refreshed"
    seen = sandbox.app.last_request
    if method == "client_secret_basic":
        assert seen["headers"]["authorization"].startswith("Basic ")
        assert "client_secret" not in seen["params"]
    else:
        assert "authorization" not in seen["headers"] and seen["params"]["client_secret"] == secret
    expected_type = "application/json" if body_format == "json" else "application/x-www-form-urlencoded"
    assert seen["headers"]["content-type"] == expected_type
    await rig.http.aclose()


async def test_a_provider_refresh_hint_schedules_the_next_alarm(sandbox):
    class Hinting(GenericProvider):
        def parse_refresh_hint(self, payload, now):
            return now + payload["refresh_in"] if "refresh_in" in payload else None

    rig = Rig(sandbox)
    rig.refresher.provider = Hinting(token_url=sandbox.token_url)
    await registered(rig)
    sandbox.app.inject(Fault(status=200, body={"access_token": "A", "expires_in": 86400, "refresh_in": 43200}))
    now = rig.clock.now()
    out = await rig.fire()
    assert out.kind == "refreshed" and out.next_alarm == pytest.approx(now + 43200)
    await rig.http.aclose()


async def test_a_lost_response_is_recovered_inside_the_providers_grace_window(sandbox):
    sandbox.app.grace = 30.0
    try:
        rig = Rig(sandbox)
        await registered(rig)
        sandbox.app.inject(Fault(status=504, consume=True))  # rotated at the provider, answer lost
        assert (await rig.fire()).kind == "retry_scheduled"
        assert (await rig.fire()).kind == "refreshed"  # the old token, replayed within the grace window
        assert sandbox.app.stats.grace_replays >= 1 and (await rig.fire()).kind == "refreshed"
        await rig.http.aclose()
    finally:
        sandbox.app.grace = 0.0
