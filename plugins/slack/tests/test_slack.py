"""Slack with token rotation: the kit (``ok: false`` errors in HTTP 200), the documented refresh responses
(bot tokens at the top level, user tokens under ``authed_user``), and Slack's error codes."""

from typing import Any

from freshtoken_slack import SlackProvider

from freshtoken import Misconfigured, ReauthRequired, RetryableError, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = SlackProvider()
ERRORS = {"invalid_grant": "invalid_refresh_token", "invalid_client": "invalid_client_id",
          "rate_limited": "ratelimited"}


class TestSlackConformance(ProviderConformance):
    provider = P
    lifetime = 43200

    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> Any:
        body: dict[str, Any] = {"ok": True, "app_id": "A0KRD7HC3", "access_token": access_token, "token_type": "bot",
                                "scope": "commands,incoming-webhook", "bot_user_id": "U0KRQLJ9H",
                                "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"}, "enterprise": None}
        if expires_in is not None:
            body["expires_in"] = expires_in
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return body

    def error_body(self, code: str, description: str) -> Any:
        return {"ok": False, "error": ERRORS.get(code, code)}

    def error_status(self, code: str) -> int:
        return 200


def test_documented_bot_token_refresh() -> None:
    tokens = replay(P, 200, {"ok": True, "app_id": "A0KRD7HC3", "access_token": "xoxe.xoxb-1-MS0yLTEyMzQ1",
                             "expires_in": 43200, "refresh_token": "xoxe-1-My0xLTEyMzQ1Ni0x", "token_type": "bot",
                             "scope": "commands,incoming-webhook", "bot_user_id": "U0KRQLJ9H",
                             "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"}})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 43200
    assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value() == "xoxe-1-My0xLTEyMzQ1Ni0x"
    assert tokens.token_type == "Bearer"  # Slack says "bot"; the token is sent as a Bearer token


def test_user_token_under_authed_user() -> None:
    tokens = replay(P, 200, {"ok": True, "app_id": "A0KRD7HC3", "team": {"id": "T9TK3CUKW"},
                             "authed_user": {"id": "U1234", "scope": "chat:write", "access_token": "xoxe.xoxp-1-abc",
                                             "token_type": "user", "refresh_token": "xoxe-1-def",
                                             "expires_in": 43200}})
    assert isinstance(tokens, TokenSet)
    assert tokens.access_token.get_secret_value() == "xoxe.xoxp-1-abc"
    assert tokens.refresh_token is not None and tokens.expires_at == KIT_NOW + 43200
    assert tokens.token_type == "Bearer"


def test_documented_errors_in_http_200() -> None:
    assert isinstance(replay(P, 200, {"ok": False, "error": "invalid_refresh_token"}), ReauthRequired)
    assert isinstance(replay(P, 200, {"ok": False, "error": "token_revoked"}), ReauthRequired)
    assert isinstance(replay(P, 200, {"ok": False, "error": "bad_client_secret"}), Misconfigured)
    assert isinstance(replay(P, 200, {"ok": False, "error": "internal_error"}), RetryableError)
    limited = replay(P, 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    assert isinstance(limited, RetryableError) and limited.retry_after == 30
    # ok:false with no error code is still an error, never a token
    assert isinstance(replay(P, 200, {"ok": False}), Misconfigured | RetryableError)
