"""HubSpot: the kit with both error shapes (RFC and legacy ``status``/``message``), the documented v1
refresh response, and the dated (2026-03) API's camelCase response."""

from typing import Any

from freshtoken_hubspot import HubSpotProvider

from freshtoken import Misconfigured, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = HubSpotProvider()
LEGACY = {"invalid_grant": "BAD_REFRESH_TOKEN", "invalid_client": "BAD_CLIENT_ID", "rate_limited": "RATE_LIMIT"}


class TestHubSpotConformance(ProviderConformance):
    """The RFC 6749 error shape."""

    provider = P
    lifetime = 1800


class TestHubSpotLegacyErrors(TestHubSpotConformance):
    """The legacy error shape."""

    def error_body(self, code: str, description: str) -> Any:
        return {"status": LEGACY.get(code, code.upper()), "message": description,
                "correlationId": "3d0c3f4c-4f4a-4d3e-9d0a-5a6c1c6b2b1e", "requestId": "f4e0f1c9"}


class TestHubSpotDatedApi(TestHubSpotConformance):
    """``/oauth/2026-03/token``: camelCase fields."""

    provider = HubSpotProvider(token_url="https://api.hubapi.com/oauth/2026-03/token")

    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> Any:
        body: dict[str, Any] = {"accessToken": access_token, "tokenType": "bearer", "hubId": 62515,
                                "scopes": ["oauth", "crm.objects.contacts.read"], "userId": 123}
        if expires_in is not None:
            body["expiresIn"] = expires_in
        if refresh_token is not None:
            body["refreshToken"] = refresh_token
        return body


def test_documented_v1_refresh_response() -> None:
    tokens = replay(P, 200, {"token_type": "bearer", "refresh_token": "na1-ab12-cd34-ef56-gh78-abcdef123456",
                             "hub_id": 62515, "scopes": ["oauth", "crm.objects.contacts.write"],
                             "access_token": "AAA1234-TOKEN", "expires_in": 1800})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 1800
    assert tokens.scope == "oauth crm.objects.contacts.write"


def test_both_error_shapes() -> None:
    legacy = {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token",
              "correlationId": "3d0c", "requestId": "f4e0"}
    err = replay(P, 400, legacy)
    assert isinstance(err, ReauthRequired) and err.description == "missing or unknown refresh token"
    assert isinstance(replay(P, 400, {"error": "invalid_grant", "error_description": "refresh token revoked"}),
                      ReauthRequired)
    assert isinstance(replay(P, 400, {"status": "BAD_CLIENT_ID", "message": "missing or invalid client id"}),
                      Misconfigured)
