"""A token endpoint that sends the request's credentials back inside a "successful" answer (freshtoken.echo).

The hostile endpoint of the brief ("echo of the request"): it puts the client's secret or the refresh token it was
sent into the access token, the token type, the scope or a kept field. Before freshtoken.echo the refresher kept
such an answer: the client secret became the "access token" in the KV record every gateway reads (found by
tests/faults/test_fuzz_responses.py's end-to-end fuzzing, provider intuit, 2026-12-02), and a secret in the token
type showed in the admin API's account view. Each case here failed first for that reason.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import SecretStr

from freshtoken import default_plugins
from freshtoken.echo import echoed
from freshtoken.testing import KitRun, Reply, TokenEndpoint, kit_client
from freshtoken.tokens import TokenSet
from tests.security.canaries import ENCODINGS

CLIENT_SECRET = "cs~5f1C9a7E3b2D8c6A4f0B1e9D7c5A3b1F"
REFRESH_TOKEN = "rt-9Ae3Bf7C1d5E0a4F8b2C6d9E3f7A1b5C0d4E8f2A6b9C3"
AT = "at-1b2C3d4E5f6A7b8C9d0E1f2A3b4C5d6E7f8"


def answer(**fields: object) -> TokenSet:
    values: dict[str, object] = {"access_token": SecretStr(AT), "issued_at": 0.0, "expires_at": 3600.0}
    values.update(fields)
    return TokenSet(**values)  # type: ignore[arg-type]


def check(tokens: TokenSet) -> str | None:
    return echoed(tokens, client_secrets=[CLIENT_SECRET], sent=[REFRESH_TOKEN], client_id="kit-client-id")


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("secret", [CLIENT_SECRET, REFRESH_TOKEN], ids=["client_secret", "refresh_token"])
@pytest.mark.parametrize("field", ["token_type", "scope", "extras"])
def test_a_credential_in_a_shown_field_is_found_in_any_encoding(field: str, secret: str, encoding: str) -> None:
    text = "x " + ENCODINGS[encoding](secret) + " y"
    fields = {"extras": {"instance_url": text}} if field == "extras" else {field: text}
    found = check(answer(**fields))
    assert found is not None and found.startswith(field)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_the_client_secret_as_access_or_refresh_token_is_found_in_any_encoding(encoding: str) -> None:
    echo = ENCODINGS[encoding](CLIENT_SECRET)
    assert check(answer(access_token=SecretStr(echo))) == "access_token"
    assert check(answer(refresh_token=SecretStr("rt." + echo))) == "refresh_token"


def test_the_refresh_token_sent_as_access_token_is_found() -> None:
    assert check(answer(access_token=SecretStr(REFRESH_TOKEN))) == "access_token"
    assert check(answer(access_token=SecretStr("Bearer " + REFRESH_TOKEN.upper()))) == "access_token"


def test_a_usual_answer_passes() -> None:
    assert check(answer()) is None
    # a provider that does not rotate sends the same refresh token back: that is no echo
    assert check(answer(refresh_token=SecretStr(REFRESH_TOKEN), scope="openid email https://x.example/y",
                        extras={"instance_url": "https://acme.my.salesforce.com", "team": {"id": "T1"}})) is None
    # a credential short enough to be an ordinary word is not looked for ("Bear" in "Bearer")
    assert echoed(answer(token_type="Bearer"), client_secrets=["Bear"], sent=["Bearer"], client_id=None) is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"access_token": CLIENT_SECRET, "token_type": "Bearer", "expires_in": 3600}, "access_token"),
        ({"access_token": REFRESH_TOKEN, "token_type": "Bearer", "expires_in": 3600}, "access_token"),
        ({"access_token": AT, "token_type": CLIENT_SECRET, "expires_in": 3600}, "token_type"),
        ({"access_token": AT, "token_type": "Bearer", "expires_in": 3600,
          "scope": "openid " + REFRESH_TOKEN}, "scope"),
    ],
    ids=["client-secret-as-access-token", "refresh-token-as-access-token", "client-secret-as-token-type",
         "refresh-token-in-scope"],
)
@pytest.mark.parametrize("provider_name", ["generic", "intuit"])
def test_the_refresher_refuses_the_answer_and_keeps_the_grant(body: dict[str, object], field: str,
                                                             provider_name: str) -> None:
    provider = default_plugins().provider(
        provider_name, {"token_url": "https://auth.example.test/token"} if provider_name == "generic" else {})
    client = kit_client(provider, client_secret=SecretStr(CLIENT_SECRET))

    async def scenario() -> None:
        with TokenEndpoint() as endpoint:
            async with KitRun(provider, endpoint, client=client) as run:
                await run.register(REFRESH_TOKEN)
                endpoint.script(Reply(200, json.dumps(body).encode()))
                outcome = await run.alarm()
                state = await run.state()
                assert outcome.kind == "retry_scheduled", outcome
                assert outcome.error is not None and field in outcome.error
                assert CLIENT_SECRET not in outcome.error and REFRESH_TOKEN not in outcome.error
                assert state.refresh_token is not None
                assert state.refresh_token.get_secret_value() == REFRESH_TOKEN  # the grant is kept
                kv = run.kv_raw() or ""
                assert CLIENT_SECRET not in kv and REFRESH_TOKEN not in kv
                shown = json.dumps(await run.status())
                assert CLIENT_SECRET not in shown and REFRESH_TOKEN not in shown

    asyncio.run(scenario())
