"""The 4xx-without-code rule (freshtoken.provider's docstring): a 4xx whose body names no error code is retried a
few times (``RetryPolicy.client_error_retries``), then the account is misconfigured with an alert; never re-auth,
never retried forever. Driven through the real Refresher against a local HTTP token endpoint (virtual time)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from freshtoken import Misconfigured, Plugins, ReauthRequired, RetryPolicy, UnexplainedClientError, hookimpl
from freshtoken.http import TokenResponse
from freshtoken.providers.generic import GenericProvider
from freshtoken.state import Status
from freshtoken.testing import KitRun, Reply, TokenEndpoint

NOW = 1_800_000_000.0
P = GenericProvider(token_url="https://auth.example/token")


def parse(status: int, raw: bytes) -> Exception:
    with pytest.raises(Exception) as info:
        P.parse_response(TokenResponse(status=status, headers={}, body=raw), NOW)
    return info.value


@pytest.mark.parametrize(
    ("status", "raw"),
    [
        (400, b""),
        (400, b"<html><body>Request Rejected</body></html>"),
        (400, json.dumps({"message": "Bad Request"}).encode()),
        (401, b""),
        (401, json.dumps({"detail": "Unauthorized"}).encode()),
        (403, b"<html>Forbidden by WAF</html>"),
        (404, b"Not Found"),
        (418, b"oops"),
    ],
)
def test_a_4xx_without_a_code_is_unexplained(status: int, raw: bytes) -> None:
    err = parse(status, raw)
    assert isinstance(err, UnexplainedClientError), err
    assert err.retryable and err.status == status and err.kind == "unexplained_client_error"
    assert f"HTTP {status}" in str(err) and "without an error code" in str(err)


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, {"error": "invalid_client"}, Misconfigured),
        (403, {"error": "invalid_grant"}, ReauthRequired),
        (400, {"error": "some_provider_code"}, Misconfigured),
    ],
)
def test_a_4xx_with_a_code_is_classified_by_the_code(status: int, body: dict[str, Any], cls: type) -> None:
    err = parse(status, json.dumps(body).encode())
    assert type(err) is cls


def test_408_425_429_stay_plainly_retryable() -> None:
    for status in (408, 425, 429):
        err = parse(status, b"")
        assert err.retryable and not isinstance(err, UnexplainedClientError), status


class Alerts:
    def __init__(self) -> None:
        self.failed: list[Any] = []

    @hookimpl
    def freshtoken_refresh_failed(self, event: Any) -> None:
        self.failed.append(event)


def run_streak(endpoint: TokenEndpoint, replies: list[Reply], policy: RetryPolicy) -> tuple[list[str], Alerts, Any]:
    provider = P.model_copy(update={"retry": policy})
    alerts = Alerts()
    plugins = Plugins(entry_points=False)
    plugins.register(alerts, "alerts")

    async def scenario() -> tuple[list[str], Any]:
        async with KitRun(provider, endpoint) as run:
            run._r().plugins = plugins
            await run.register("rt-0")
            endpoint.script(*replies)
            kinds = []
            for _ in replies:
                run.advance_to_alarm()
                kinds.append((await run.alarm()).kind)
            await run.assert_no_secrets("rt-0")
            return kinds, await run.state()

    endpoint.reset()
    kinds, state = asyncio.run(scenario())
    return kinds, alerts, state


HTML_400 = Reply(400, "<html><body>Bad Request</body></html>", content_type="text/html")


def test_retried_a_few_times_then_misconfigured_with_an_alert(freshtoken_endpoint: TokenEndpoint) -> None:
    policy = RetryPolicy(client_error_retries=3, alert_after=3)
    kinds, alerts, state = run_streak(freshtoken_endpoint, [HTML_400] * 6, policy)
    assert kinds == ["retry_scheduled"] * 3 + ["misconfigured"] * 3
    assert state.status is Status.MISCONFIGURED and state.unexplained_failures == 6
    assert state.refresh_token is not None and state.refresh_token.get_secret_value() == "rt-0"
    # the repeated-failure alert at the threshold, then one more on entering misconfigured; no more after
    assert [e.alert for e in alerts.failed] == [False, False, True, True, False, False]
    assert [e.kind for e in alerts.failed][-1] == "unexplained_client_error"
    # retried slowly (the misconfigured delay) so that a fixed configuration heals
    last = alerts.failed[-1]
    assert last.retry_at == pytest.approx(last.at + policy.misconfigured_delay)


def test_the_streak_counts_only_consecutive_unexplained_4xx(freshtoken_endpoint: TokenEndpoint) -> None:
    policy = RetryPolicy(client_error_retries=2, alert_after=100)
    down = Reply(503, "<html>down</html>", content_type="text/html")
    kinds, _, state = run_streak(freshtoken_endpoint, [HTML_400, HTML_400, down, HTML_400, HTML_400, HTML_400], policy)
    assert kinds == ["retry_scheduled"] * 5 + ["misconfigured"]
    assert state.unexplained_failures == 3


def test_a_success_clears_the_streak(freshtoken_endpoint: TokenEndpoint) -> None:
    policy = RetryPolicy(client_error_retries=1, alert_after=100)
    ok = Reply(200, {"access_token": "at-1", "expires_in": 3600})
    kinds, _, _ = run_streak(freshtoken_endpoint, [HTML_400, ok, HTML_400, HTML_400], policy)
    assert kinds == ["retry_scheduled", "refreshed", "retry_scheduled", "misconfigured"]


def test_zero_retries_is_misconfigured_at_once(freshtoken_endpoint: TokenEndpoint) -> None:
    kinds, alerts, _ = run_streak(freshtoken_endpoint, [HTML_400], RetryPolicy(client_error_retries=0))
    assert kinds == ["misconfigured"] and alerts.failed[0].alert is True
