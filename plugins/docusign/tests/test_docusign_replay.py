"""Docusign: replays of the documented token response and error body.

Sources:

* The success body (values): Docusign's developer blog, "Authorization Code Grant refresh tokens",
  https://www.docusign.com/blog/developers/authorization-code-grant-refresh-tokens — "an example response from a
  successful access token authentication request": ``{"access_token": "eyJ0eXAi......mX9f7k1g", "token_type":
  "Bearer", "refresh_token": "eyJ0eXAi......mruC5c3A", "expires_in": 28800}`` ("a lifetime of 28800 seconds
  (eight hours) and a refresh token"); a refresh is a POST to /oauth/token with Basic client authentication and
  ``grant_type=refresh_token``.
* The field set of the refresh response and of the code exchange's (all four required, ``expires_in`` an integer):
  Docusign's official IAM SDK, github.com/docusign/docusign-iam-typescript-client,
  ``src/models/operations/gettokenfromrefreshtoken.ts`` (``GetTokenFromRefreshTokenResponse``) and
  ``src/models/components/authorizationcodegrantresponse.ts``.
* The error body: the same SDK, ``src/funcs/authGetTokenFromRefreshToken.ts`` maps HTTP 400 to
  ``src/models/errors/oautherrorresponse.ts`` (``{"error": ..., "error_description": ...}``, both optional);
  Docusign publishes no list of the codes, so the codes replayed are RFC 6749 §5.2's.
"""

import base64

import pytest
from freshtoken_docusign import DocusignProvider

from freshtoken import Misconfigured, ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, RT0, KitRun, Reply, TokenEndpoint, kit_client, replay, run_async

P = DocusignProvider(environment="demo")
DOCUMENTED = {"access_token": "eyJ0eXAi......mX9f7k1g", "token_type": "Bearer",
              "refresh_token": "eyJ0eXAi......mruC5c3A", "expires_in": 28800}


@pytest.mark.parametrize("environment", ["demo", "production"])
def test_documented_token_response(environment: str) -> None:
    tokens = replay(DocusignProvider(environment=environment), 200, DOCUMENTED)  # type: ignore[arg-type]
    assert isinstance(tokens, TokenSet)
    assert tokens.access_token.get_secret_value() == "eyJ0eXAi......mX9f7k1g"
    assert tokens.token_type == "Bearer"
    assert tokens.expires_at == KIT_NOW + 28800  # eight hours, not the 3600 s default
    assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value() == "eyJ0eXAi......mruC5c3A"
    assert tokens.extras == {}


def test_documented_refresh_over_loopback_rotates(freshtoken_endpoint: TokenEndpoint) -> None:
    """The documented body served by a loopback token endpoint: the new refresh token replaces the old one (kept
    as previous), the expiry is eight hours after the refresh, the access token reaches KV; the request is the
    documented one."""

    async def scenario() -> None:
        async with KitRun(P, freshtoken_endpoint) as run:
            await run.register(RT0)
            freshtoken_endpoint.script(Reply(200, DOCUMENTED))
            outcome = await run.alarm()
            assert outcome.kind == "refreshed", outcome
            state = await run.state()
            assert state.refresh_token is not None
            assert state.refresh_token.get_secret_value() == "eyJ0eXAi......mruC5c3A"
            assert state.previous_refresh_token is not None and state.previous_refresh_token.get_secret_value() == RT0
            assert state.issued_at is not None and state.expires_at == state.issued_at + 28800
            record = run.kv_record()
            assert record is not None and record.access_token == "eyJ0eXAi......mX9f7k1g"
            assert record.expires_at == int(state.issued_at + 28800)
            await run.assert_no_secrets(RT0, "eyJ0eXAi......mruC5c3A", outcome=outcome)
            assert freshtoken_endpoint.pending == 0
            # on the wire, as documented: form body, Basic integration_key:secret_key, no secret in the body
            sent = freshtoken_endpoint.requests[-1]
            assert sent.method == "POST" and sent.path == "/oauth/token"
            assert sent.params == {"grant_type": "refresh_token", "refresh_token": RT0}
            client = kit_client(P)
            secret = client.client_secret.get_secret_value() if client.client_secret else ""
            basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
            assert sent.headers["authorization"] == f"Basic {basic}"

    freshtoken_endpoint.reset()
    run_async(scenario)


def test_documented_error_body() -> None:
    """HTTP 400 with the SDK's OAuthErrorResponse fields (both optional, nullable): a dead grant is re-auth, a
    refused client misconfigured. No description text is documented, so none is made up."""
    dead = replay(P, 400, {"error": "invalid_grant", "error_description": None})
    assert isinstance(dead, ReauthRequired) and dead.status == 400
    assert isinstance(replay(P, 400, {"error": "invalid_grant"}), ReauthRequired)
    assert isinstance(replay(P, 400, {"error": "invalid_client", "error_description": None}), Misconfigured)
