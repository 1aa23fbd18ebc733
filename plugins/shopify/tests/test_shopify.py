"""Shopify: the kit at the shop's own host, shop validation (no request, so no client secret, for a hostile
shop), and the documented expiring offline token responses."""

import pytest
from freshtoken_shopify import ShopifyProvider

from freshtoken import InvalidAccountData, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay, run_async

P = ShopifyProvider()
HOSTILE = [
    "evil.com#.myshopify.com", "evil.com", "acme.myshopify.com.evil.com", "acme.myshopify.com:8443",
    "acme.myshopify.com/admin", "user@acme.myshopify.com", "acme.myshopify.com@evil.com", "127.0.0.1",
    "acme.myshopify.co", "acme-myshopify.com", "acme.myshopify.com.", "\uff41cme.myshopify.com",
    "acme.myshopify.com\u3002evil.com", "\u212aelvin.myshopify.com", "acme.evil.myshopify.com",
    ".myshopify.com", "-acme.myshopify.com", "acme.myshopify.com\n", "acme.myshopify.com%2f",
]


class TestShopifyConformance(ProviderConformance):
    provider = P
    account_data = {"shop": "acme.myshopify.com"}
    valid_account_data = [{"shop": "acme-store-2.myshopify.com"}, {"shop": "ACME.myshopify.com"}]
    hostile_account_data = [{"shop": s} for s in HOSTILE]

    def test_token_url_is_the_shop(self) -> None:
        run, outcome, _ = run_async(lambda: self.refresh_once(self.success()))
        assert outcome.kind == "refreshed"
        assert run.transport.targets == ["https://acme.myshopify.com/admin/oauth/access_token"]
        assert self.endpoint.requests[-1].headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("shop", HOSTILE)
def test_hostile_shop_refused_clearly(shop: str) -> None:
    with pytest.raises(InvalidAccountData, match=r"account data 'shop' .* is not valid"):
        P.validate_account_data({"shop": shop})


def test_documented_expiring_offline_token() -> None:
    tokens = replay(P, 200, {"access_token": "shpat_f5c0d1e2b3a4", "scope": "write_orders,read_customers",
                             "expires_in": 3600, "refresh_token": "shprt_9a8b7c6d5e4f"})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3600 and tokens.refresh_token is not None


def test_invalid_grant() -> None:
    body = {"error": "invalid_grant", "error_description": "The refresh token is invalid or has expired."}
    assert isinstance(replay(P, 400, body), ReauthRequired)
