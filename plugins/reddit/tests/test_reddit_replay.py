"""Reddit: replays of the token responses and errors documented in Reddit's OAuth2 wiki.

Source: https://github.com/reddit-archive/reddit/wiki/OAuth2 (Reddit's own wiki, in its archived source
repository), sections "Token Retrieval (code flow)" and "Refreshing the token":

* code exchange: ``{"access_token": Your access token, "token_type": "bearer", "expires_in": Unix Epoch Seconds,
  "scope": A scope string, "refresh_token": Your refresh token}`` — "refresh_token will only be present if one was
  requested" (``duration=permanent``);
* refresh: "The response will look the same as the initial access token request", shown without
  ``refresh_token`` — the stored one is kept;
* "Access tokens expire after one hour": the wiki labels ``expires_in`` "Unix Epoch Seconds", yet its implicit
  flow calls the same field "Seconds until the token expires"; the replays send 3600, and an epoch timestamp in
  ``expires_in`` must be refused, never read as a lifetime of decades;
* errors: "401 response" (the Basic client credentials were invalid; no body documented), ``unsupported_grant_type``,
  ``invalid_grant`` ("The code has expired or already been used"). The wiki gives no HTTP status for the coded
  errors, so each is replayed both with 400 and with 200.

The wiki's values are placeholders ("Your access token"); the replays use opaque strings in their place and the
scope ``identity`` (a scope the wiki lists).
"""

import pytest
from freshtoken_reddit import RedditProvider

from freshtoken import MalformedResponse, Misconfigured, ReauthRequired, TokenSet, UnexplainedClientError
from freshtoken.testing import AT1, KIT_NOW, RT0, KitRun, Reply, TokenEndpoint, replay, run_async

UA = "web:io.freshtoken.kit:v0.1 (by /u/freshtoken_kit)"
P = RedditProvider(user_agent=UA)
CODE_FLOW = {"access_token": "reddit-access-token-1", "token_type": "bearer", "expires_in": 3600,
             "scope": "identity", "refresh_token": "reddit-refresh-token-1"}
REFRESHED = {"access_token": AT1, "token_type": "bearer", "expires_in": 3600, "scope": "identity"}


def test_documented_code_flow_response() -> None:
    tokens = replay(P, 200, CODE_FLOW)
    assert isinstance(tokens, TokenSet)
    assert tokens.access_token.get_secret_value() == "reddit-access-token-1"
    assert tokens.token_type == "Bearer" and tokens.expires_at == KIT_NOW + 3600
    assert tokens.scope == "identity"
    assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value() == "reddit-refresh-token-1"


def test_an_epoch_in_expires_in_is_refused() -> None:
    """Were ``expires_in`` ever the absolute time the wiki's label names, it must not become a 57-year token."""
    result = replay(P, 200, {**CODE_FLOW, "expires_in": int(KIT_NOW) + 3600})
    assert isinstance(result, MalformedResponse)


def test_documented_refresh_over_loopback(freshtoken_endpoint: TokenEndpoint) -> None:
    """The documented refresh response, served by a loopback token endpoint: refreshed, the stored refresh token
    kept (none in the response), one hour of validity, the scope in KV, the User-Agent and Basic auth sent."""

    async def scenario() -> None:
        async with KitRun(P, freshtoken_endpoint) as run:
            await run.register(RT0)
            freshtoken_endpoint.script(Reply(200, REFRESHED))
            outcome = await run.alarm()
            assert outcome.kind == "refreshed", outcome
            state = await run.state()
            assert state.refresh_token is not None and state.refresh_token.get_secret_value() == RT0
            assert state.issued_at is not None and state.expires_at == state.issued_at + 3600
            record = run.kv_record()
            assert record is not None and record.access_token == AT1 and record.scope == "identity"
            await run.assert_no_secrets(RT0, outcome=outcome)
            sent = freshtoken_endpoint.requests[-1]
            assert sent.params == {"grant_type": "refresh_token", "refresh_token": RT0}
            assert sent.headers["authorization"].startswith("Basic ")
            assert sent.headers["user-agent"] == UA

    freshtoken_endpoint.reset()
    run_async(scenario)


@pytest.mark.parametrize("status", [400, 200])
def test_documented_errors(status: int) -> None:
    assert isinstance(replay(P, status, {"error": "invalid_grant"}), ReauthRequired)
    assert isinstance(replay(P, status, {"error": "unsupported_grant_type"}), Misconfigured)


def test_documented_401_without_a_body() -> None:
    """Bad client credentials: a bare 401. Without an error code nothing says the grant is dead: retried a few
    times, then misconfigured (the 4xx-without-code rule), never re-auth."""
    assert isinstance(replay(P, 401, None), UnexplainedClientError)
