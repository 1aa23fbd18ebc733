"""Salesforce lifetimes and rate limits (issue 15).

Sources:
* no ``expires_in`` in the token response; sessions expire after the org's timeout (default two hours) with
  ``INVALID_SESSION_ID``: https://developer.salesforce.com/docs/platform/api-metadata/guide/meta-error-handling-session-exp.html
* the refresh response (``issued_at``, ``instance_url``, ``signature``) replayed in test_salesforce.py
* token requests beyond 3,600 per user per hour are refused (Login Rate Exceeded):
  https://help.salesforce.com/s/articleView?id=000381578&language=en_US&type=1
* ``rate_limit_exceeded``: the code is the one issue 15 names; no Salesforce page with a full response body
  was found, so no documented replay is shipped for it: the test checks the alias only.
"""

import pytest
from freshtoken_salesforce import SalesforceProvider
from pydantic import ValidationError

from freshtoken import MalformedResponse, Misconfigured, RetryableError, Status
from freshtoken.testing import RT0, KitRun, Reply, TokenEndpoint, replay, run_async

P = SalesforceProvider()
DATA = {"my_domain": "acme.my.salesforce.com"}
DOCUMENTED = {
    "access_token": "00Dx0000000BV7z!AR8AQP0jITN80ESEsj5EbaZTFG0RNBaT1cyWk7TrqoDjoNIWQ2ME_sTZzBjfmOE6zMHq6y8PIW4eWze",
    "signature": "SSSbLO/gBhmmyNUvN18ODBDFYHzakxOMgqYtu+hDPsc=", "scope": "id api refresh_token",
    "instance_url": "https://yourInstance.salesforce.com", "token_type": "Bearer", "issued_at": "1278448384422",
    "id": "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P",
}


def test_the_default_lifetime_is_safe_and_short() -> None:
    assert P.default_lifetime == 900  # the shortest session timeout an org can set, not the 2-hour default


def test_the_token_is_in_kv_only_while_a_15_minute_session_would_live(freshtoken_endpoint: TokenEndpoint) -> None:
    async def scenario() -> None:
        async with KitRun(P, freshtoken_endpoint, account_data=DATA) as run:
            await run.register(RT0)
            freshtoken_endpoint.script(Reply(200, DOCUMENTED))
            assert (await run.alarm()).kind == "refreshed"
            state = await run.state()
            assert state.status is Status.ACTIVE and state.expires_at == run.now + 900
            assert run.storage.alarm is not None and run.storage.alarm <= run.now + 450  # refreshed within it

    freshtoken_endpoint.reset()
    run_async(scenario)


def test_a_lifetime_is_required() -> None:
    with pytest.raises(ValidationError):
        SalesforceProvider(default_lifetime=None)  # type: ignore[arg-type]


def test_rate_limit_exceeded_is_retried_not_a_configuration_error() -> None:
    err = replay(P, 400, {"error": "rate_limit_exceeded", "error_description": "rate limit exceeded"})
    assert isinstance(err, RetryableError) and not isinstance(err, MalformedResponse | Misconfigured)
