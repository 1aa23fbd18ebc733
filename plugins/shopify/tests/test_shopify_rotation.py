"""Shopify (issue 15): the documented rotation grace and the refresh token's lifetime.

Sources:
* the previously used refresh token can be retried until the app starts using its replacement, for at most
  30 days from its first use, within the normal 90-day lifetime:
  https://shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens
* 90-day refresh token lifetime; the refresh response carries access_token, expires_in (3600), refresh_token:
  https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens
  https://shopify.dev/changelog/offline-access-tokens-now-support-expiry-and-refresh
* ``refresh_token_expires_in``: read when present (the generic field); no Shopify page showing it in a response
  body was found, so no replay claims Shopify sends it.
"""

from freshtoken_shopify import ShopifyProvider

from freshtoken import TokenSet
from freshtoken.testing import KIT_NOW, RT0, RT1, KitRun, Reply, TokenEndpoint, replay, run_async

P = ShopifyProvider()
DATA = {"shop": "acme.myshopify.com"}
DOCUMENTED = {"access_token": "shpat_f5c0d1e2b3a4", "scope": "write_orders,read_customers", "expires_in": 3600,
              "refresh_token": "shprt_9a8b7c6d5e4f"}


def test_the_documented_grace_is_declared() -> None:
    assert P.rotation_grace == 30 * 86400


def test_the_refresh_token_lifetime_is_the_documented_90_days() -> None:
    tokens = replay(P, 200, DOCUMENTED)
    assert isinstance(tokens, TokenSet) and tokens.refresh_token_expires_at == KIT_NOW + 90 * 86400
    sent = replay(P, 200, {**DOCUMENTED, "refresh_token_expires_in": 86400})
    assert isinstance(sent, TokenSet) and sent.refresh_token_expires_at == KIT_NOW + 86400


def test_a_lost_answer_is_recovered_with_the_previous_token_a_week_later(freshtoken_endpoint: TokenEndpoint) -> None:
    """With the documented grace declared, a refusal of the new refresh token days after the rotation retries
    the previous one (the refresher's rotation_grace path), instead of declaring the grant dead at once."""

    async def scenario() -> None:
        async with KitRun(P, freshtoken_endpoint, account_data=DATA) as run:
            await run.register(RT0)
            freshtoken_endpoint.script(Reply(200, {**DOCUMENTED, "refresh_token": RT1}))
            assert (await run.alarm()).kind == "refreshed"
            run.clock.advance(7 * 86400)
            refused = {"error": "invalid_grant", "error_description": "The refresh token is invalid or has expired."}
            freshtoken_endpoint.script(Reply(400, refused), Reply(200, {**DOCUMENTED, "refresh_token": "rt-2"}))
            assert (await run.refresh_now()).kind == "refreshed"
            assert freshtoken_endpoint.requests[-1].params["refresh_token"] == RT0

    freshtoken_endpoint.reset()
    run_async(scenario)
