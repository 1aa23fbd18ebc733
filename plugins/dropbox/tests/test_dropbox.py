"""Dropbox: the kit, plus the documented refresh response (4-hour token, no new refresh token)."""

from freshtoken_dropbox import DropboxProvider

from freshtoken import ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = DropboxProvider()


class TestDropboxConformance(ProviderConformance):
    provider = P
    lifetime = 14400


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, {"access_token": "sl.u.AbX9y6Fe3AuH5o66-gmJpR032jwAwQPIVVzWXZNkdzcYT02akC2de219dZi6",
                             "expires_in": 14400, "token_type": "bearer"})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 14400 and tokens.refresh_token is None
    assert tokens.token_type == "Bearer"


def test_documented_invalid_grant() -> None:
    body = {"error_description": "refresh token is invalid or revoked", "error": "invalid_grant"}
    assert isinstance(replay(P, 400, body), ReauthRequired)
