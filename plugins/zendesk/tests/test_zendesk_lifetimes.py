"""Zendesk (issue 15): every refresh asks for its lifetimes, which Zendesk then applies.

Sources:
* ``expires_in`` and ``refresh_token_expires_in`` may be passed to /oauth/tokens with the refresh_token grant;
  "If you set an expiry, it will be applied and enforced":
  https://support.zendesk.com/hc/en-us/articles/9182123625370
* default, minimum and maximum TTLs (access 30 min / 5 min / 48 h; refresh 30 d / 7 d / 90 d):
  https://support.zendesk.com/hc/en-us/articles/10212201463962
"""

import pytest
from freshtoken_zendesk import ZendeskProvider
from pydantic import ValidationError

from freshtoken import Provider, Status
from freshtoken.testing import RT0, KitRun, Reply, TokenEndpoint, run_async

DATA = {"subdomain": "acme"}


def refresh(endpoint: TokenEndpoint, provider: Provider, body: dict[str, object]) -> tuple[dict[str, str], object]:
    async def scenario() -> tuple[dict[str, str], object]:
        async with KitRun(provider, endpoint, account_data=DATA) as run:
            await run.register(RT0)
            endpoint.script(Reply(200, body))
            assert (await run.alarm()).kind == "refreshed"
            return endpoint.requests[-1].params, await run.state()

    endpoint.reset()
    return run_async(scenario)


def test_each_refresh_asks_for_both_lifetimes(freshtoken_endpoint: TokenEndpoint) -> None:
    params, _ = refresh(freshtoken_endpoint, ZendeskProvider(), {"access_token": "a", "refresh_token": "b"})
    assert params["grant_type"] == "refresh_token"
    assert params["expires_in"] == "1800" and params["refresh_token_expires_in"] == "2592000"


def test_configured_lifetimes_are_asked_for_and_assumed_when_not_echoed(freshtoken_endpoint: TokenEndpoint) -> None:
    provider = ZendeskProvider(access_token_lifetime=7200, refresh_token_lifetime=90 * 86400)
    params, state = refresh(freshtoken_endpoint, provider, {"access_token": "a", "refresh_token": "b"})
    assert params["expires_in"] == "7200" and params["refresh_token_expires_in"] == str(90 * 86400)
    assert state.status is Status.ACTIVE  # type: ignore[attr-defined]
    assert state.expires_at == state.issued_at + 7200  # type: ignore[attr-defined]


def test_none_leaves_a_lifetime_to_the_client_defaults(freshtoken_endpoint: TokenEndpoint) -> None:
    provider = ZendeskProvider(access_token_lifetime=None, refresh_token_lifetime=None)
    params, state = refresh(freshtoken_endpoint, provider, {"access_token": "a", "refresh_token": "b"})
    assert "expires_in" not in params and "refresh_token_expires_in" not in params
    assert state.expires_at == state.issued_at + 1800  # type: ignore[attr-defined]  # still refreshed


@pytest.mark.parametrize(("field", "value"), [("access_token_lifetime", 299), ("access_token_lifetime", 172801),
                                              ("refresh_token_lifetime", 604799), ("refresh_token_lifetime", 7776001)])
def test_lifetimes_outside_zendesk_bounds_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValidationError, match=field):
        ZendeskProvider(**{field: value})
