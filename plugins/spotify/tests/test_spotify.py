"""Spotify: the kit, plus documented refresh responses with and without a new refresh token."""

from freshtoken_spotify import SpotifyProvider

from freshtoken import Misconfigured, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = SpotifyProvider()


class TestSpotifyConformance(ProviderConformance):
    provider = P


def test_documented_refresh_responses() -> None:
    body = {"access_token": "BQBLuPRYBQ...BP8stIv5xr-Iwaf4l8eg", "token_type": "Bearer", "expires_in": 3600,
            "scope": "user-read-email user-read-private"}
    same = replay(P, 200, body)
    assert isinstance(same, TokenSet) and same.refresh_token is None and same.expires_at == KIT_NOW + 3600
    rotated = replay(P, 200, {**body, "refresh_token": "AQAQfyEFmJJuCvAFh...cG_m-2KTgNDaDMQqjrOa3"})
    assert isinstance(rotated, TokenSet) and rotated.refresh_token is not None


def test_documented_errors() -> None:
    assert isinstance(replay(P, 400, {"error": "invalid_grant", "error_description": "Refresh token revoked"}),
                      ReauthRequired)
    assert isinstance(replay(P, 400, {"error": "invalid_client", "error_description": "Invalid client"}),
                      Misconfigured)
