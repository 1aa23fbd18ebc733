"""Atlassian: the kit (JSON request body, 403 invalid_grant, 10-minute reuse leeway), plus documented responses."""

import json
from typing import Any

from freshtoken_atlassian import AtlassianProvider

from freshtoken import ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay, run_async

P = AtlassianProvider()


class TestAtlassianConformance(ProviderConformance):
    provider = P

    def error_status(self, code: str) -> int:
        return 403 if code == "invalid_grant" else super().error_status(code)

    def test_json_body(self) -> None:
        run_async(lambda: self.refresh_once(self.success()))
        request = self.endpoint.requests[-1]
        assert request.headers["content-type"].startswith("application/json")
        body: Any = json.loads(request.body)
        assert body["grant_type"] == "refresh_token" and body["client_id"] == "kit-client-id"


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, {"access_token": "eyJraWQiOiJhdXRoLmF0bGFzc2lhbi5jb20tQUNDRVNTLTk0ZTczYTkw",
                             "expires_in": 3600, "token_type": "Bearer", "refresh_token": "eyJraWQiOiI1MWE2YjE2MjRlMTQ",
                             "scope": "read:jira-work offline_access"})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3600 and tokens.refresh_token is not None


def test_documented_403_invalid_grant_is_reauth() -> None:
    err = replay(P, 403, {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
    assert isinstance(err, ReauthRequired) and err.status == 403
