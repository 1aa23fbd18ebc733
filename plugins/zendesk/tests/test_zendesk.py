"""Zendesk: the kit at the account's subdomain, subdomain validation, the documented refresh-grant response,
and a missing ``expires_in`` that must never mean "never refresh"."""

import pytest
from freshtoken_zendesk import ZendeskProvider
from pydantic import ValidationError

from freshtoken import InvalidAccountData, ReauthRequired, Status, TokenSet
from freshtoken.testing import KIT_NOW, RT1, ProviderConformance, replay, run_async

P = ZendeskProvider()
HOSTILE = ["evil.com#", "acme.evil.com", "acme:8443", "acme/oauth", "user@acme", "127.0.0.1", "acme.zendesk.com",
           "evil.com#.zendesk.com", "ACME", "acme-", "\uff41cme", "acme\u3002evil", "", "a" * 64]


class TestZendeskConformance(ProviderConformance):
    provider = P
    account_data = {"subdomain": "acme"}
    valid_account_data = [{"subdomain": "acme-support"}, {"subdomain": "d3v-acme"}]
    hostile_account_data = [{"subdomain": s} for s in HOSTILE]

    def test_missing_expires_in_still_schedules_a_refresh(self) -> None:
        run, outcome, state = run_async(lambda: self.refresh_once(self.success(RT1, expires_in=None)))
        assert outcome.kind == "refreshed" and state.status is Status.ACTIVE
        assert state.expires_at == pytest.approx(run.now + 1800)
        assert run.storage.alarm is not None and run.storage.alarm < state.expires_at


@pytest.mark.parametrize("subdomain", HOSTILE)
def test_hostile_subdomain_refused_clearly(subdomain: str) -> None:
    with pytest.raises(InvalidAccountData, match="account data 'subdomain'"):
        P.validate_account_data({"subdomain": subdomain})


def test_never_expiring_configuration_is_refused() -> None:
    with pytest.raises(ValidationError):
        ZendeskProvider(default_lifetime=None)  # type: ignore[arg-type]


def test_documented_refresh_grant_response() -> None:
    tokens = replay(P, 200, {"access_token": "gErypPlm4dOVgGRvA1ZzMH5MQ3nLo8bo", "token_type": "bearer",
                             "refresh_token": "31048ba4d7c601302f3173f243da835f", "scope": "tickets:read",
                             "expires_in": 172800, "refresh_token_expires_in": 800000})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 172800 and tokens.refresh_token_expires_at == KIT_NOW + 800000
    no_expiry = replay(P, 200, {"access_token": "x", "token_type": "bearer", "refresh_token": "y"})
    assert isinstance(no_expiry, TokenSet) and no_expiry.expires_at == KIT_NOW + 1800


def test_invalid_grant() -> None:
    body = {"error": "invalid_grant", "error_description": "The provided refresh token is invalid or expired."}
    assert isinstance(replay(P, 400, body), ReauthRequired)
