"""Intercom: the kit, and the documented static token registered as never expiring.

Source: https://intercom-developer-hub.readme.io/reference/using-oauth (authorize at https://app.intercom.io/oauth
with client_id, state, redirect_uri; the code exchanged at https://api.intercom.io/auth/eagle/token with code,
client_id, client_secret; the token then used like a personal access token). The exchange's response body is
not on that page, so no replay of it is shipped.
"""

from freshtoken_intercom import IntercomProvider

from freshtoken import Status
from freshtoken.testing import KitRun, ProviderConformance, TokenEndpoint, run_async

P = IntercomProvider()


class TestIntercomConformance(ProviderConformance):
    provider = P


def test_a_static_token_is_registered_as_never_expiring(freshtoken_endpoint: TokenEndpoint) -> None:
    async def scenario() -> None:
        async with KitRun(P, freshtoken_endpoint) as run:
            state = await run.register(None, access_token="dG9rOmludGVyY29tLWtpdA==", never_expires=True)
            assert state.status is Status.STATIC and run.storage.alarm is None
            record = run.kv_record()
            assert record is not None and record.expires_at is None
            assert freshtoken_endpoint.requests == []  # nothing to refresh, nothing sent

    freshtoken_endpoint.reset()
    run_async(scenario)
