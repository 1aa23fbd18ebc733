"""LinkedIn: the kit, plus the documented refresh response (60-day token, fixed 365-day refresh token)."""

from freshtoken_linkedin import LinkedInProvider

from freshtoken import ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = LinkedInProvider()


class TestLinkedInConformance(ProviderConformance):
    provider = P
    lifetime = 5184000


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, {"access_token": "BBBB2", "expires_in": 5184000, "refresh_token": "BBBB3",
                             "refresh_token_expires_in": 525600, "scope": "r_basicprofile"})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 5184000
    # The refresh token's lifetime is not extended by use: the remaining time is what LinkedIn says.
    assert tokens.refresh_token_expires_at == KIT_NOW + 525600


def test_documented_expired_refresh_token() -> None:
    body = {"error": "invalid_grant", "error_description": "The provided authorization grant or refresh token is "
            "invalid, expired or revoked."}
    assert isinstance(replay(P, 400, body), ReauthRequired)
