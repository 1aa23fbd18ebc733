"""X (Twitter): the kit for a confidential (Basic) and a public (client_id in the body) client, plus the
documented refresh response and the "Value passed for the token was invalid." dead grant."""

from typing import Any

from freshtoken_x import XProvider

from freshtoken import Misconfigured, OAuthClient, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = XProvider()


class TestXConformance(ProviderConformance):
    provider = P
    lifetime = 7200

    def error_body(self, code: str, description: str) -> Any:
        if code == "invalid_grant":
            return {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
        return super().error_body(code, description)


class TestXPublicClient(TestXConformance):
    client = OAuthClient(name="kit", provider="x", client_id="kit-client-id", auth_method="none")

    def test_client_id_in_body_and_no_secret(self) -> None:
        from freshtoken.testing import run_async

        run_async(lambda: self.refresh_once(self.success()))
        request = self.endpoint.requests[-1]
        assert request.params["client_id"] == "kit-client-id"
        assert "authorization" not in request.headers and "client_secret" not in request.params


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, {"token_type": "bearer", "expires_in": 7200, "access_token": "VGNibzFWSWREZm01bjN1N3dicWlNUG1oa2xRRVNNdmVHelJGY2hPWGxNd2dxOjE2MjIxNjA4MjU4MjU6MToxOmF0OjE",
                             "scope": "tweet.read users.read offline.access",
                             "refresh_token": "bWRWa3gzdnk3WHRGU1o0bmRRcTJ5VUxWX1lZTDdJSUtmaWcxbTVxdEFXcW5tOjE2MjIxNDc3NDM5MTQ6MToxOnJ0OjE"})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 7200 and tokens.refresh_token is not None


def test_errors() -> None:
    spent = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
    assert isinstance(replay(P, 400, spent), ReauthRequired)
    header = {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}
    assert isinstance(replay(P, 401, header), Misconfigured)
