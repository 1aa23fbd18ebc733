"""Intuit QuickBooks: the kit, plus the documented bearer response with ``x_refresh_token_expires_in``."""

from freshtoken_intuit import IntuitProvider

from freshtoken import ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = IntuitProvider()


class TestIntuitConformance(ProviderConformance):
    provider = P


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, {"x_refresh_token_expires_in": 8726400, "refresh_token": "AB11570127472Gn8Rl6ENPdF",
                             "access_token": "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..Kk",
                             "token_type": "bearer", "expires_in": 3600})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3600
    assert tokens.refresh_token_expires_at == KIT_NOW + 8726400  # ~101 days, rolling
    assert tokens.refresh_token is not None  # "always store the latest"


def test_documented_invalid_grant() -> None:
    assert isinstance(replay(P, 400, {"error": "invalid_grant"}), ReauthRequired)
