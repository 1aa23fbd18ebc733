"""Zoom: the kit (errors carry ``reason``; a spent refresh token is ``invalid_request`` "Invalid Token!"),
plus the documented refresh response (rotated refresh token, regional ``api_url``)."""

from typing import Any

from freshtoken_zoom import ZoomProvider

from freshtoken import Misconfigured, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = ZoomProvider()


class TestZoomConformance(ProviderConformance):
    provider = P

    def error_body(self, code: str, description: str) -> Any:
        if code == "invalid_grant":
            return {"reason": "Invalid Token!", "error": "invalid_request"}
        return {"reason": description, "error": code}


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, {"access_token": "eyJhbGciOiJIUzUxMiIsInYiOiIyLjAiLCJraWQiOiI8S0lEPiJ9",
                             "token_type": "bearer", "refresh_token": "eyJhbGciOiJIUzUxMiIsInYiOiIyLjAiLCJrE",
                             "expires_in": 3599, "scope": "user:read:admin", "api_url": "https://api.zoom.us"})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3599 and tokens.refresh_token is not None
    assert tokens.extras == {"api_url": "https://api.zoom.us"}


def test_documented_errors() -> None:
    spent = replay(P, 400, {"reason": "Invalid Token!", "error": "invalid_request"})
    assert isinstance(spent, ReauthRequired) and spent.description == "Invalid Token!"
    assert isinstance(replay(P, 401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
                      Misconfigured)
    # any other invalid_request (a bad request, not a dead grant) stays a misconfiguration
    assert isinstance(replay(P, 400, {"reason": "Unsupported grant type", "error": "invalid_request"}), Misconfigured)
