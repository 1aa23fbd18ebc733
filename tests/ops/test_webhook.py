"""The generic webhook alerter against real receivers on 127.0.0.1: signatures checked by the receiver, retries
with backoff deliver an event once, a hung receiver never blocks a refresh, the queue bound holds, recovered
events, the endpoint policy, no secret in a body."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from freshtoken.errors import UnsafeEndpoint
from freshtoken.events import BacklogRising, ReauthRequiredEvent
from freshtoken.host.config import load_settings, settings_from_dict
from freshtoken.host.factory import build_host, build_plugins
from freshtoken.observability.alerts.webhook import WebhookAlerter, sign, verify
from freshtoken.observability.metrics import Metrics
from freshtoken.redaction import secret_forms
from freshtoken.sandbox.server import Fault
from tests.admin.support import CLIENT_ID, CLIENT_SECRET, write_config
from tests.ops.webhook_receiver import Receiver

SECRET = "PLANTED-webhook-signing-secret-31b7"
KEY = "t1:generic:w"
NOW = 1_800_000_000.0


def event(n: int = 0) -> ReauthRequiredEvent:
    return ReauthRequiredEvent(f"t1:generic:u{n}", "generic", NOW + n, "invalid_grant: revoked")


def webhook_config(env: Path, sandbox: Any, url: str) -> Path:
    return write_config(env, sandbox.token_url, extra=f"""
[[alerting.webhook]]
url = "{url}"
secret = {{ env = "FT_TEST_WEBHOOK_SECRET" }}
""")


async def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_refresh_events_reach_a_receiver_signed_redacted_and_recovered(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FT_TEST_WEBHOOK_SECRET", SECRET)
    with Receiver(SECRET).running() as receiver:
        host = build_host(load_settings(webhook_config(env, sandbox, receiver.url)))
        [hook] = [a for a in host.closers if isinstance(a, WebhookAlerter)]
        try:
            grant = sandbox.mint(CLIENT_ID)
            await host.runtime.register(KEY, client="sandbox", refresh_token=grant["refresh_token"])
            for _ in range(3):  # the third failure in a row alerts
                sandbox.app.inject(Fault(503, {"error": "temporarily_unavailable",
                                               "error_description": f"<!channel> {CLIENT_SECRET}"}))
                assert (await host.runtime.refresh_now(KEY)).kind.value == "retry_scheduled"
            assert (await host.runtime.refresh_now(KEY)).kind.value == "refreshed"
            sandbox.app.inject(Fault(400, {"error": "invalid_grant"}))
            assert (await host.runtime.refresh_now(KEY)).kind.value == "reauth_required"
            fresh = sandbox.mint(CLIENT_ID)  # the user re-authorises
            await host.runtime.register(KEY, client="sandbox", refresh_token=fresh["refresh_token"])
            await hook.flush()
        finally:
            await host.aclose()
    types = [d.json["type"] for d in receiver.deliveries]
    assert types == ["refresh_failed", "recovered", "reauth_required", "recovered"], types
    assert all(d.signature_ok and d.status == 200 for d in receiver.deliveries)
    assert all(d.headers["content-type"] == "application/json" for d in receiver.deliveries)
    assert [d.headers["freshtoken-event"] for d in receiver.deliveries] == types
    assert len({d.headers["freshtoken-delivery"] for d in receiver.deliveries}) == 4
    failed, recovered, _, reauth_recovered = (d.json for d in receiver.deliveries)
    assert failed["data"]["key"] == KEY and failed["data"]["consecutive_failures"] == 3
    assert "[redacted]" in failed["data"]["error"] and failed["created_at"].endswith("Z")
    assert recovered["data"]["via"] == "refresh" and recovered["data"]["previous_status"] == "retrying"
    assert reauth_recovered["data"]["via"] == "reauth"
    raw = b"\n".join(d.body for d in receiver.deliveries).decode().lower()
    for secret in (CLIENT_SECRET, SECRET, grant["refresh_token"], fresh["refresh_token"]):
        assert not any(form in raw for form in secret_forms(secret)), secret[:8]


async def test_a_receiver_that_fails_twice_gets_the_event_once_after_backoff() -> None:
    delays: list[float] = []

    async def virtual_sleep(seconds: float) -> None:  # the backoff is recorded, not waited
        delays.append(seconds)

    with Receiver(SECRET, fail_first=2).running() as receiver:
        hook = WebhookAlerter(receiver.url, SECRET, base_delay=1.0, max_delay=60.0, sleep=virtual_sleep,
                              rng=random.Random(7))
        try:
            hook.freshtoken_reauth_required(event())
            await hook.flush()
        finally:
            await hook.aclose()
    assert [d.status for d in receiver.deliveries] == [500, 500, 200]
    assert len(receiver.accepted) == 1 and hook.delivered == 1 and hook.failed == 0 and hook.attempts == 3
    assert len({d.headers["freshtoken-delivery"] for d in receiver.deliveries}) == 1  # one event, retried
    assert all(d.signature_ok for d in receiver.deliveries)  # re-signed at each attempt
    assert len(delays) == 2 and 0 <= delays[0] <= 1.0 and 0 <= delays[1] <= 2.0  # full jitter under 1 s, 2 s


async def test_a_refused_event_is_not_retried_and_retries_are_bounded() -> None:
    async def no_sleep(seconds: float) -> None:
        return None

    with Receiver(SECRET, fail_first=100).running() as receiver:
        hook = WebhookAlerter(receiver.url, SECRET, max_attempts=4, sleep=no_sleep)
        try:
            hook.freshtoken_reauth_required(event())
            await hook.flush()
        finally:
            await hook.aclose()
    assert len(receiver.deliveries) == 4 and hook.failed == 1 and hook.delivered == 0


async def test_a_hung_receiver_blocks_no_refresh_and_the_queue_bound_holds(
    env: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FT_TEST_WEBHOOK_SECRET", SECRET)
    with Receiver(SECRET, hang=True).running() as receiver:
        settings = load_settings(webhook_config(env, sandbox, receiver.url))
        settings.alerting.webhook[0].queue_size = 3
        settings.alerting.webhook[0].timeout = 60.0
        host = build_host(settings)
        [hook] = [a for a in host.closers if isinstance(a, WebhookAlerter)]
        try:
            keys = [f"t1:generic:h{i}" for i in range(10)]
            for key in keys:
                await host.runtime.register(key, client="sandbox", refresh_token="rt-unknown-to-the-sandbox")
            # liveness bounds only (the receiver holds each request 60 s): a refresh that waited for it fails here
            outcome = await asyncio.wait_for(host.runtime.refresh_now(keys[0]), 30)  # one webhook event
            assert outcome.kind.value == "reauth_required"
            await asyncio.get_running_loop().run_in_executor(None, receiver.started.wait, 30)
            outcomes = [await asyncio.wait_for(host.runtime.refresh_now(k), 30) for k in keys[1:]]  # still hung
            assert [o.kind.value for o in outcomes] == ["reauth_required"] * 9
            assert receiver.deliveries == [] and hook.delivered == 0  # nothing answered yet, and yet done
            assert hook.pending == 3 and hook.dropped == 6  # the oldest six of the nine queued are dropped
            text = host.metrics.render().decode() if host.metrics else ""
            assert 'freshtoken_webhook_events_total{outcome="dropped"} 6.0' in text
            assert "freshtoken_webhook_queue 3.0" in text
            receiver.release.set()
            receiver.hang = False
            await hook.flush()
        finally:
            await host.aclose()
    delivered = [d.json["data"]["key"] for d in receiver.deliveries]
    assert delivered == [keys[0], *keys[-3:]]  # the one in flight, then the newest three


async def test_the_backlog_warning_is_delivered_and_on_filters() -> None:
    with Receiver(SECRET).running() as receiver:
        hook = WebhookAlerter(receiver.url, SECRET)
        quiet = WebhookAlerter(receiver.url, SECRET, on=["recovered"])
        try:
            for alerter in (hook, quiet):
                alerter.freshtoken_backlog_rising(BacklogRising("*", "*", NOW, 5000, 0.4, 32, 600.0, 62.5, 0.1))
                alerter.freshtoken_reauth_required(event())
                await alerter.flush()
        finally:
            await hook.aclose()
            await quiet.aclose()
    assert [d.json["type"] for d in receiver.deliveries] == ["backlog_rising", "reauth_required"]
    assert receiver.deliveries[0].json["data"]["due"] == 5000 and receiver.deliveries[0].signature_ok


async def test_sign_and_verify() -> None:
    body = b'{"a":1}'
    header = sign(SECRET, body, int(NOW))
    assert verify(SECRET, body, header, now=NOW)
    assert not verify(SECRET, body + b" ", header, now=NOW)  # body changed
    assert not verify("another-secret-value", body, header, now=NOW)
    assert not verify(SECRET, body, header, now=NOW + 301)  # too old: a replay
    assert not verify(SECRET, body, "garbage", now=NOW)


def test_the_webhook_url_goes_through_the_endpoint_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FT_TEST_WEBHOOK_SECRET", SECRET)

    def plugins(url: str, allow: bool = False) -> Any:
        settings = settings_from_dict({
            "alerting": {"webhook": [{"url": url, "secret": {"env": "FT_TEST_WEBHOOK_SECRET"}}]},
            "security": {"allow_private_networks": allow},
        }, source="test.toml")
        return build_plugins(settings, metrics=Metrics())

    with pytest.raises(UnsafeEndpoint, match=r"test.toml: alerting.webhook\[0\].url: .*private") as exc:
        plugins("https://10.1.2.3/hook?token=PLANTEDurltoken")
    assert "PLANTEDurltoken" not in str(exc.value)
    with pytest.raises(UnsafeEndpoint, match=r"metadata|never allowed"):
        plugins("https://169.254.169.254/latest", allow=True)
    with pytest.raises(UnsafeEndpoint, match="plain http"):
        plugins("http://hooks.example.com/x")
    _, alerters = plugins("https://10.1.2.3/hook", allow=True)
    assert [type(a).__name__ for a in alerters] == ["LoggingAlerter", "WebhookAlerter"]
