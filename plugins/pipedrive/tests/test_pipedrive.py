"""Pipedrive: the kit (Basic auth), and the documented token response whose ``api_domain`` reaches KV.

Source of the replayed body (copied): https://developers.pipedrive.com/changelog/post/new-parameter-in-oauth-oauthtoken-responses
("The new response with the added api_domain parameter"). Endpoints and Basic client authentication:
https://developers.pipedrive.com/docs/api/v1/Oauth and https://pipedrive.readme.io/docs/marketplace-oauth-authorization.
"""

from typing import Any

from freshtoken_pipedrive import PipedriveProvider

from freshtoken import TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay, run_async

P = PipedriveProvider()
DOCUMENTED = {"access_token": "53:179:6317ef33a9fb0c4d604ce0695dad44a12bad44c9", "token_type": "Bearer",
              "expires_in": 3599, "refresh_token": "53:179:5de81994d77491d22bc10eab3bc0810f84864297",
              "scope": "base,deals:full,contacts:read", "api_domain": "https://mycompanydomain.pipedrive.com"}


class TestPipedriveConformance(ProviderConformance):
    provider = P

    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> Any:
        body = super().success_body(access_token=access_token, refresh_token=refresh_token, expires_in=expires_in)
        return {**body, "api_domain": DOCUMENTED["api_domain"]}

    def test_api_domain_reaches_kv(self) -> None:
        run, outcome, _ = run_async(lambda: self.refresh_once(self.success()))
        record = run.kv_record()
        assert outcome.kind == "refreshed" and record is not None
        assert record.extras == {"api_domain": "https://mycompanydomain.pipedrive.com"}


def test_documented_token_response() -> None:
    tokens = replay(P, 200, DOCUMENTED)
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3599
    assert tokens.extras == {"api_domain": "https://mycompanydomain.pipedrive.com"}
    assert tokens.scope == "base,deals:full,contacts:read"
