"""The logging and Slack alerters: what they post, when, and that no secret is ever in it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from freshtoken.events import ReauthRequiredEvent, RefreshFailed, RefreshTokenExpiring, TokenExpired
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from freshtoken.observability.alerts import LoggingAlerter, SlackAlerter, format_message
from freshtoken.sandbox.server import Fault
from tests.admin.support import CLIENT_SECRET, Webhook, write_config

NOW = 1_800_000_000.0


def failed(alert: bool = True, error: str = "retryable HTTP 503: down") -> RefreshFailed:
    return RefreshFailed("t1:acme:u1", "generic", NOW, "retryable", error, 3, NOW + 30, alert)


async def test_slack_posts_alert_events_to_a_real_loopback_webhook() -> None:
    with Webhook().running() as hook:
        slack = SlackAlerter(hook.url, timeout=2.0)
        try:
            assert slack.freshtoken_refresh_failed(failed(alert=False)) is None  # below the threshold: quiet
            await slack.freshtoken_refresh_failed(failed())
            await slack.freshtoken_reauth_required(ReauthRequiredEvent("t1:acme:u1", "generic", NOW, "invalid_grant"))
            await slack.freshtoken_token_expired(TokenExpired("t1:acme:u1", "generic", NOW, NOW - 5, 4))
            await slack.freshtoken_refresh_token_expiring(
                RefreshTokenExpiring("t1:acme:u1", "generic", NOW, NOW + 3 * 86400)
            )
        finally:
            await slack.aclose()
    assert slack.sent == 4 and slack.failed == 0
    assert [set(p) for p in hook.posts] == [{"text"}] * 4
    texts = [p["text"] for p in hook.posts]
    assert "is failing" in texts[0] and "3 consecutive" in texts[0] and "`t1:acme:u1`" in texts[0]
    assert "re-authorisation" in texts[1]
    assert "expired in KV" in texts[2]
    assert "3.0 day(s)" in texts[3]


async def test_slack_selects_events() -> None:
    with Webhook().running() as hook:
        slack = SlackAlerter(hook.url, on=["reauth_required"])
        try:
            assert slack.freshtoken_refresh_failed(failed()) is None
            assert slack.freshtoken_token_expired(TokenExpired("a:b:c", "generic", NOW, NOW, 1)) is None
            await slack.freshtoken_reauth_required(ReauthRequiredEvent("a:b:c", "generic", NOW, "invalid_grant"))
        finally:
            await slack.aclose()
    assert len(hook.posts) == 1


async def test_slack_scrubs_known_secrets_and_never_logs_the_webhook(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Webhook(status=500).running() as hook:
        slack = SlackAlerter(hook.url, secrets=["PLANTED-refresh-token-xyz"])
        try:
            ok = await slack.post(failed(error="provider said: PLANTED-refresh-token-xyz is bad"))
        finally:
            await slack.aclose()
    assert ok is False and slack.failed == 1
    assert "PLANTED-refresh-token-xyz" not in hook.raw[0].decode()
    assert "[redacted]" in hook.posts[0]["text"]
    assert "HTTP 500" in caplog.text
    assert "PLANTEDhookpath" not in caplog.text


async def test_slack_timeout_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    with Webhook(delay=2.0).running() as hook:
        slack = SlackAlerter(hook.url, timeout=0.3)
        started = time.monotonic()
        try:
            assert await slack.post(failed()) is False
        finally:
            await slack.aclose()
    assert time.monotonic() - started < 1.5
    assert "ReadTimeout" in caplog.text and "PLANTEDhookpath" not in caplog.text


async def test_slack_unreachable_never_raises() -> None:
    slack = SlackAlerter("http://127.0.0.1:9/hook", timeout=0.5)
    try:
        assert await slack.post(failed()) is False
    finally:
        await slack.aclose()


def test_format_message_holds_no_token_fields() -> None:
    text = format_message(RefreshFailed("t:p:a", "generic", NOW, "misconfigured", "invalid_client", 1, None, True))
    assert "misconfigured" in text and "invalid_client" in text


def test_logging_alerter(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="freshtoken.observability.alerts")
    alerter = LoggingAlerter()
    alerter.freshtoken_refresh_failed(failed(alert=False))
    assert caplog.records == []
    alerter.freshtoken_refresh_failed(failed())
    alerter.freshtoken_reauth_required(ReauthRequiredEvent("t1:acme:u1", "generic", NOW, "invalid_grant"))
    alerter.freshtoken_token_expired(TokenExpired("t1:acme:u1", "generic", NOW, NOW - 5, 4))
    alerter.freshtoken_refresh_token_expiring(RefreshTokenExpiring("t1:acme:u1", "generic", NOW, NOW + 86400))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4 and all(m.startswith("ALERT t1:acme:u1") for m in messages)
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR", "ERROR", "WARNING"]


async def test_end_to_end_dead_grant_reaches_slack_without_secrets(
    env: Path, sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Config -> factory -> runtime -> refresher -> event hook -> Slack, with a provider that echoes the token."""
    caplog.set_level(logging.DEBUG)
    with Webhook().running() as hook:
        monkeypatch.setenv("FT_TEST_SLACK", hook.url)
        path = write_config(env, sandbox.token_url, extra='\n[alerting]\nslack_webhook = { env = "FT_TEST_SLACK" }\n')
        host = build_host(load_settings(path))
        try:
            grant = sandbox.mint("ui-client")
            rt = grant["refresh_token"]
            await host.runtime.register("t1:generic:dead", client="sandbox", refresh_token=rt)
            sandbox.app.inject(Fault(400, {"error": "invalid_grant", "error_description": f"token {rt} was revoked"}))
            outcome = await host.runtime.refresh_now("t1:generic:dead")
        finally:
            await host.aclose()
    assert outcome.kind == "reauth_required"
    assert len(hook.posts) == 1
    raw = hook.raw[0].decode()
    assert "t1:generic:dead" in raw and "invalid_grant" in raw
    for secret in (rt, CLIENT_SECRET, "PLANTEDhookpath"):
        assert secret not in raw
        assert secret not in caplog.text


async def test_slack_rate_limit_during_a_mass_outage() -> None:
    clock = [0.0]
    with Webhook().running() as hook:
        slack = SlackAlerter(hook.url, max_per_minute=3, monotonic=lambda: clock[0])
        try:
            for _ in range(10):
                await slack.freshtoken_refresh_failed(failed())
            assert slack.sent == 3 and slack.suppressed == 7
            clock[0] = 61.0
            await slack.freshtoken_reauth_required(ReauthRequiredEvent("t1:acme:u1", "generic", NOW, "invalid_grant"))
        finally:
            await slack.aclose()
    assert len(hook.posts) == 4
    assert "7 more alert(s) suppressed" in hook.posts[-1]["text"]
