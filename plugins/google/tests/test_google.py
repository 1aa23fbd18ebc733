"""Google: the kit, plus Google's documented refresh response and errors (developers.google.com/identity)."""

from freshtoken_google import GoogleProvider

from freshtoken import Misconfigured, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = GoogleProvider()


class TestGoogleConformance(ProviderConformance):
    provider = P


def test_documented_refresh_response_keeps_old_refresh_token() -> None:
    tokens = replay(P, 200, {
        "access_token": "1/fFAGRNJru1FTz70BzhT3Zg", "expires_in": 3920, "token_type": "Bearer",
        "scope": "https://www.googleapis.com/auth/drive.metadata.readonly",
    })
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3920
    assert tokens.refresh_token is None  # not re-issued: the refresher keeps the one it has


def test_documented_errors() -> None:
    expired = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    assert isinstance(replay(P, 400, expired), ReauthRequired)
    rapt = {"error": "invalid_grant", "error_description": "reauth related error (invalid_rapt)",
            "error_subtype": "invalid_rapt"}
    assert isinstance(replay(P, 400, rapt), ReauthRequired)
    client = {"error": "invalid_client", "error_description": "The OAuth client was not found."}
    assert isinstance(replay(P, 401, client), Misconfigured)
