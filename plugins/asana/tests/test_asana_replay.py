"""Asana: replays of the documented token-exchange response.

Source of the replayed body (field set, nesting and values): the "Token exchange endpoint" → "Response" example
of Asana's own OAuth guide, https://developers.asana.com/docs/oauth (read from the page's Markdown source):

    {"access_token": "f6ds7fdsa69ags7ag9sd5a", "expires_in": 3600, "token_type": "bearer",
     "data": {"id": 4673218951, "gid": "4673218951", "name": "Greg Sanchez", "email": "gsanchez@example.com"},
     "refresh_token": "hjkl325hjkl4325hj4kl32fjds"}

The same page: ``refresh_token`` is there "if exchanging a ``code``", and a refresh is a POST to the same endpoint
with ``grant_type=refresh_token`` — so a refresh answers with the same body without ``refresh_token``, and the
stored refresh token must be kept. ``data`` (the user's id, gid, name and email) is not a token field and must not
reach the KV record. The page documents no error body for the token endpoint, so no error replay is shipped (the
kit's RFC 6749 error scenarios in test_asana.py stand in for them).
"""

from typing import Any

from freshtoken_asana import AsanaProvider
from pydantic import SecretStr

from freshtoken import TokenSet
from freshtoken.testing import (
    AT1,
    KIT_NOW,
    RT0,
    KitRun,
    ProviderConformance,
    Reply,
    TokenEndpoint,
    kit_client,
    replay,
    run_async,
)

P = AsanaProvider()
USER = {"id": 4673218951, "gid": "4673218951", "name": "Greg Sanchez", "email": "gsanchez@example.com"}
DOCUMENTED = {"access_token": "f6ds7fdsa69ags7ag9sd5a", "expires_in": 3600, "token_type": "bearer",
              "data": USER, "refresh_token": "hjkl325hjkl4325hj4kl32fjds"}
REFRESHED = {k: v for k, v in DOCUMENTED.items() if k != "refresh_token"}  # "refresh_token: if exchanging a code"


class TestAsanaDocumentedShape(ProviderConformance):
    """The whole kit, every success answered in the documented shape (with the ``data`` user object)."""

    provider = P

    def success_body(self, *, access_token: str, refresh_token: str | None, expires_in: int | None) -> Any:
        body: dict[str, Any] = {"access_token": access_token, "token_type": "bearer", "data": USER}
        if expires_in is not None:
            body["expires_in"] = expires_in
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return body


def test_documented_code_exchange_response() -> None:
    tokens = replay(P, 200, DOCUMENTED)
    assert isinstance(tokens, TokenSet)
    assert tokens.access_token.get_secret_value() == "f6ds7fdsa69ags7ag9sd5a"
    assert tokens.token_type == "Bearer" and tokens.expires_at == KIT_NOW + 3600
    assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value() == "hjkl325hjkl4325hj4kl32fjds"
    assert tokens.extras == {}  # the user object (name, email) is not copied anywhere


def test_code_exchange_reads_the_documented_body() -> None:
    request = P.build_code_request(SecretStr("325797325"), kit_client(P), {}, redirect_uri="https://my.app.com",
                                   code_verifier="fdsuiafhjbkewbfnmdxzvbuicxlhkvnemwavx")
    assert request.url == "https://app.asana.com/-/oauth_token"
    assert request.params["grant_type"] == "authorization_code"
    assert request.params["code_verifier"] == "fdsuiafhjbkewbfnmdxzvbuicxlhkvnemwavx"


def test_documented_refresh_over_loopback_keeps_the_refresh_token(freshtoken_endpoint: TokenEndpoint) -> None:
    """The refresh response (documented body without ``refresh_token``), served by a loopback token endpoint:
    refreshed, the stored refresh token kept, the expiry the response's, nothing of ``data`` in KV; the request is
    the documented one."""

    async def scenario() -> None:
        async with KitRun(P, freshtoken_endpoint) as run:
            await run.register(RT0)
            freshtoken_endpoint.script(Reply(200, {**REFRESHED, "access_token": AT1}))
            outcome = await run.alarm()
            assert outcome.kind == "refreshed", outcome
            state = await run.state()
            assert state.refresh_token is not None and state.refresh_token.get_secret_value() == RT0
            assert state.issued_at is not None and state.expires_at == state.issued_at + 3600
            record = run.kv_record()
            assert record is not None and record.access_token == AT1
            assert "gsanchez@example.com" not in (run.kv_raw() or "")
            await run.assert_no_secrets(RT0, outcome=outcome)
            assert freshtoken_endpoint.pending == 0
            # the page's cURL example: a form body with grant_type, refresh_token, client_id and client_secret
            sent = freshtoken_endpoint.requests[-1]
            assert sent.headers["content-type"].startswith("application/x-www-form-urlencoded")
            client = kit_client(P)
            secret = client.client_secret.get_secret_value() if client.client_secret else ""
            assert sent.params == {"grant_type": "refresh_token", "refresh_token": RT0,
                                   "client_id": client.client_id, "client_secret": secret}
            assert "authorization" not in sent.headers

    freshtoken_endpoint.reset()
    run_async(scenario)
