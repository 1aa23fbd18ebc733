"""Salesforce: the kit (no ``expires_in``: lifetime from configuration), My Domain validation, and the
documented refresh response (``instance_url``, ``issued_at`` in ms, ``signature``) and errors."""

from typing import Any

import pytest
from freshtoken_salesforce import SalesforceProvider

from freshtoken import InvalidAccountData, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay, run_async

P = SalesforceProvider()
DOCUMENTED = {
    "access_token": "00Dx0000000BV7z!AR8AQP0jITN80ESEsj5EbaZTFG0RNBaT1cyWk7TrqoDjoNIWQ2ME_sTZzBjfmOE6zMHq6y8PIW4eWze",
    "signature": "SSSbLO/gBhmmyNUvN18ODBDFYHzakxOMgqYtu+hDPsc=", "scope": "id api refresh_token",
    "instance_url": "https://yourInstance.salesforce.com", "token_type": "Bearer", "issued_at": "1278448384422",
    "id": "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
}


class TestSalesforceConformance(ProviderConformance):
    provider = P
    account_data = {"my_domain": "acme.my.salesforce.com"}
    valid_account_data = [{"my_domain": d} for d in (
        "login.salesforce.com", "test.salesforce.com", "acme--uat.sandbox.my.salesforce.com",
        "acme-dev-ed.develop.my.salesforce.com", "power-force-1234.scratch.my.salesforce.com")]
    hostile_account_data = [{"my_domain": d} for d in (
        "evil.com#.my.salesforce.com", "acme.my.salesforce.com.evil.com", "acme.my.salesforce.com:8443",
        "acme.my.salesforce.com/services", "user@acme.my.salesforce.com", "evil.salesforce.com",
        "acme.my.salesforce.co", "acme.my.site.com", "login.salesforce.com.evil.com", "acme\u3002my.salesforce.com")]

    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> Any:
        body = {**DOCUMENTED, "access_token": access_token}  # never an expires_in
        if refresh_token is not None:  # only with refresh token rotation enabled on the connected app
            body["refresh_token"] = refresh_token
        return body

    def expected_lifetime(self, expires_in: int | None) -> float | None:
        return self.provider.default_lifetime

    def test_instance_url_reaches_kv(self) -> None:
        run, outcome, _ = run_async(lambda: self.refresh_once(self.success()))
        record = run.kv_record()
        assert outcome.kind == "refreshed" and record is not None
        assert record.extras == {"instance_url": "https://yourInstance.salesforce.com"}


def test_documented_response_lifetime_from_configuration() -> None:
    tokens = replay(P, 200, DOCUMENTED)
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 900  # the safe short default (issue 15), not the org's 2-hour default
    assert tokens.refresh_token is None
    org = replay(SalesforceProvider(default_lifetime=3600), 200, DOCUMENTED)  # the operator sets the org's timeout
    assert isinstance(org, TokenSet) and org.expires_at == KIT_NOW + 3600


def test_documented_errors() -> None:
    expired = {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    assert isinstance(replay(P, 400, expired), ReauthRequired)
    assert isinstance(replay(P, 400, {"error": "inactive_user", "error_description": "user is inactive"}),
                      ReauthRequired)


def test_my_domain_error_is_clear() -> None:
    with pytest.raises(InvalidAccountData, match="my_domain"):
        P.validate_account_data({"my_domain": "evil.com#.my.salesforce.com"})
