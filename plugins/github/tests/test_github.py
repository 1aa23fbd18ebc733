"""GitHub App user tokens: the kit (errors answered with HTTP 200), the documented refresh response and
errors (docs.github.com: "Refreshing user access tokens"), form-encoded replies, and never-expiring tokens."""

from typing import Any

from freshtoken_github import GitHubProvider

from freshtoken import Misconfigured, ReauthRequired, Status, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay, run_async

P = GitHubProvider()
ERRORS = {"invalid_grant": "bad_refresh_token", "invalid_client": "incorrect_client_credentials"}


class TestGitHubConformance(ProviderConformance):
    provider = P
    lifetime = 28800

    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> Any:
        body: dict[str, Any] = {"access_token": access_token, "scope": "", "token_type": "bearer"}
        if expires_in is not None:
            body.update(expires_in=expires_in, refresh_token_expires_in=15897600)
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return body

    def error_body(self, code: str, description: str) -> Any:
        return {"error": ERRORS.get(code, code), "error_description": description,
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"}

    def error_status(self, code: str) -> int:
        return 200  # GitHub answers token errors with HTTP 200

    def test_never_expiring_token_is_static(self) -> None:
        """OAuth-app tokens (and apps with expiration disabled): registered as static, nothing scheduled."""

        async def scenario() -> None:
            async with self.run() as run:
                state = await run.register(None, access_token="gho_16C7e42F292c6912E7710c838347Ae178B4a",
                                           never_expires=True)
                assert state.status is Status.STATIC and run.storage.alarm is None
                assert (await run.alarm()).kind == "static"
                record = run.kv_record()
                assert record is not None and record.expires_at is None
                assert run.transport.targets == []

        run_async(scenario)


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, {"access_token": "ghu_16C7e42F292c6912E7710c838347Ae178B4a", "expires_in": 28800,
                             "refresh_token": "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
                             "refresh_token_expires_in": 15897600, "scope": "", "token_type": "bearer"})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 28800
    assert tokens.refresh_token_expires_at == KIT_NOW + 15897600
    assert tokens.token_type == "Bearer"


def test_expiration_disabled_means_never_expires() -> None:
    tokens = replay(P, 200, {"access_token": "ghu_x", "scope": "repo", "token_type": "bearer"})
    assert isinstance(tokens, TokenSet) and tokens.expires_at is None


def test_documented_errors_in_http_200() -> None:
    bad = {"error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired.",
           "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"}
    err = replay(P, 200, bad)
    assert isinstance(err, ReauthRequired) and err.status == 200
    creds = {"error": "incorrect_client_credentials",
             "error_description": "The client_id and/or client_secret passed are incorrect."}
    assert isinstance(replay(P, 200, creds), Misconfigured)


def test_form_encoded_reply_when_accept_is_ignored() -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    ok = replay(P, 200, "access_token=ghu_abc&expires_in=28800&refresh_token=ghr_def&token_type=bearer", headers)
    assert isinstance(ok, TokenSet) and ok.expires_at == KIT_NOW + 28800
    err = replay(P, 200, "error=bad_refresh_token&error_description=expired", headers)
    assert isinstance(err, ReauthRequired)


def test_accept_json_is_sent() -> None:
    assert P.headers["Accept"] == "application/json"
