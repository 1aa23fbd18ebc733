"""A token endpoint whose "successful" answer holds a token that an HTTP header cannot carry (freshtoken.header_safe).

Every gateway sends ``token_type + " " + access_token`` as its ``Authorization`` header. A hostile endpoint answers
with ``"access_token": "at\\r\\nX-Injected: 1"`` (JSON carries the CR LF escaped): before freshtoken.header_safe the
refresher kept the answer and wrote the token to KV, and every reader handed it out, so that a gateway building its
header by hand sent a second header line of the endpoint's choosing (the Go reader's ``Authorization`` came out in
two lines; tests/reader's cross-language records). RFC 6749 appendix A.12: ``access-token = 1*VSCHAR`` (%x20-7E).
Each case here failed first for that reason: the answer was kept.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from freshtoken import default_plugins
from freshtoken.registration import InvalidRegistration
from freshtoken.testing import KitRun, Reply, TokenEndpoint

REFRESH_TOKEN = "rt-9Ae3Bf7C1d5E0a4F8b2C6d9E3f7A1b5C0d4E8f2A6b9C3"
AT = "at-1b2C3d4E5f6A7b8C9d0E1f2A3b4C5d6E7f8"
BAD = ["\r\nX-Injected: 1", "\n", "\r", "\x00", "\t", "\x7f", "\u00e9", "\u2028", "\x85"]


@pytest.mark.parametrize("bad", BAD, ids=[repr(b) for b in BAD])
@pytest.mark.parametrize("field", ["access_token", "token_type"])
@pytest.mark.parametrize("provider_name", ["generic", "intuit"])
def test_the_refresher_refuses_the_answer_and_keeps_the_grant(bad: str, field: str, provider_name: str) -> None:
    provider = default_plugins().provider(
        provider_name, {"token_url": "https://auth.example.test/token"} if provider_name == "generic" else {})
    body = {"access_token": AT, "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-new-1"}
    body[field] = str(body[field]) + bad

    async def scenario() -> None:
        with TokenEndpoint() as endpoint:
            async with KitRun(provider, endpoint) as run:
                await run.register(REFRESH_TOKEN)
                endpoint.script(Reply(200, json.dumps(body).encode()))
                outcome = await run.alarm()
                state = await run.state()
                assert outcome.kind == "retry_scheduled", outcome
                assert outcome.error is not None and field in outcome.error and AT not in outcome.error
                assert state.refresh_token is not None
                assert state.refresh_token.get_secret_value() == REFRESH_TOKEN  # the grant is kept as it was
                assert run.kv_raw() is None  # nothing reached the request path
                assert AT not in json.dumps(await run.status())
                # the next answer is a good one: it is taken
                endpoint.script(Reply(200, json.dumps({**body, field: "Bearer" if field == "token_type" else AT})
                                      .encode()))
                run.advance_to_alarm()
                assert (await run.alarm()).kind == "refreshed"
                record = run.kv_record()
                assert record is not None and record.access_token == AT and record.token_type == "Bearer"

    asyncio.run(scenario())


@pytest.mark.parametrize("bad", BAD, ids=[repr(b) for b in BAD])
@pytest.mark.parametrize("field", ["access_token", "token_type"])
def test_a_registration_refuses_it_by_name(bad: str, field: str) -> None:
    provider = default_plugins().provider("generic", {"token_url": "https://auth.example.test/token"})
    kw = {"access_token": AT, "token_type": "Bearer"}
    kw[field] = kw[field] + bad

    async def scenario() -> None:
        with TokenEndpoint() as endpoint:
            async with KitRun(provider, endpoint) as run:
                with pytest.raises(InvalidRegistration, match=field) as info:
                    await run.register(REFRESH_TOKEN, expires_in=3600, **kw)
                assert AT not in str(info.value) and REFRESH_TOKEN not in str(info.value)
                assert run.kv_raw() is None

    asyncio.run(scenario())


def test_a_usual_answer_passes() -> None:
    """Printable ASCII, spaces and symbols included (VSCHAR), is a token: nothing usual is refused."""
    provider = default_plugins().provider("generic", {"token_url": "https://auth.example.test/token"})
    token = "ya29.a0Af_b-c~d+e/f=" + "".join(chr(c) for c in range(0x20, 0x7F))

    async def scenario() -> None:
        with TokenEndpoint() as endpoint:
            async with KitRun(provider, endpoint) as run:
                await run.register(REFRESH_TOKEN)
                endpoint.script(Reply(200, json.dumps({"access_token": token, "token_type": "bearer",
                                                       "expires_in": 3600}).encode()))
                assert (await run.alarm()).kind == "refreshed"
                record = run.kv_record()
                assert record is not None and record.access_token == token

    asyncio.run(scenario())


def _published(name: str) -> dict[str, object]:
    from importlib import resources

    return json.loads(resources.files("freshtoken").joinpath(f"schemas/{name}").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("schema_name", ["kv-record.v1.json", "kv-record.v2.json"])
@pytest.mark.parametrize("bad", BAD, ids=[repr(b) for b in BAD])
@pytest.mark.parametrize("where", ["end", "middle"])
@pytest.mark.parametrize("field", ["access_token", "token_type"])
def test_the_published_schemas_refuse_it_in_python_jsonschema(schema_name: str, bad: str, where: str,
                                                              field: str) -> None:
    """A gateway validating records with Python's ``jsonschema`` refuses them too. Python's ``re.search`` lets ``$``
    match before a final ``\\n``, so ``^[\\x20-\\x7e]+$`` alone passed ``"at\\n"`` (a header line ended early);
    the schema says it again with a ``not`` that needs no anchor (JSON Schema's own regex dialect, ECMA 262, has
    ``$`` only at the end: https://json-schema.org/understanding-json-schema/reference/regular_expressions)."""
    import jsonschema

    record = {"v": 1, "access_token": AT, "token_type": "Bearer", "expires_at": 2_000_000_000, "scope": None,
              "generation": 1, "refreshed_at": 1_800_000_000, "extras": {}}
    jsonschema.validate(record, _published(schema_name))  # the usual record passes
    value = str(record[field])
    record[field] = value + bad if where == "end" else value[:2] + bad + value[2:]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(record, _published(schema_name))
