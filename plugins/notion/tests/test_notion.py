"""Notion: the kit (Basic auth, JSON body), optional expiry, and the documented token responses."""

from typing import Any

from freshtoken_notion import NotionProvider

from freshtoken import Misconfigured, ReauthRequired, TokenSet
from freshtoken.testing import ProviderConformance, replay

P = NotionProvider()
WORKSPACE = {"bot_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a", "workspace_id": "a1b2c3d4-0d44-4b50-8888-8dd25736052a",
             "workspace_name": "Acme", "workspace_icon": None, "duplicated_template_id": None,
             "owner": {"type": "workspace", "workspace": True}, "request_id": "9f8e7d6c"}


class TestNotionConformance(ProviderConformance):
    provider = P

    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> Any:
        body = {**WORKSPACE, **super().success_body(access_token=access_token, refresh_token=refresh_token,
                                                    expires_in=expires_in)}
        body["token_type"] = "bearer"
        return body

    def expected_lifetime(self, expires_in: int | None) -> float | None:
        return float(expires_in) if expires_in is not None else None  # documented: no expires_in, no expiry


def test_historical_token_without_refresh_token_never_expires() -> None:
    tokens = replay(P, 200, {"access_token": "secret_abc", "token_type": "bearer", **WORKSPACE})
    assert isinstance(tokens, TokenSet) and tokens.expires_at is None
    assert tokens.extras == {"workspace_id": WORKSPACE["workspace_id"], "bot_id": WORKSPACE["bot_id"]}


def test_documented_refresh_response_rotates() -> None:
    # developers.notion.com/reference/refresh-a-token: a new refresh token, and no expires_in (the earlier
    # replay here carried an invented "expires_in": 3600)
    tokens = replay(P, 200, {"access_token": "ntn_new", "token_type": "bearer", "refresh_token": "nrt_new",
                             **WORKSPACE})
    assert isinstance(tokens, TokenSet) and tokens.refresh_token is not None
    assert tokens.expires_at is None


def test_errors_in_both_shapes() -> None:
    oauth = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    assert isinstance(replay(P, 400, oauth), ReauthRequired)
    api = {"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."}
    assert isinstance(replay(P, 401, api), Misconfigured)
