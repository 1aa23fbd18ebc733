"""The record formats: v2 reason records next to v1 tokens; old (v1) readers stay safe; one parser whose fast
path agrees with the full JSON parse."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from freshtoken import KVRecord, TokenUnavailable
from freshtoken.record import json_schema_v2, reason_record, token_record
from freshtoken_reader import InvalidRecord, Reason, ReasonRecord, Token, parse
from freshtoken_reader import record as light

from . import v1_reader

REASONS = [reason_record(s, generation=3, since=1_800_000_000) for s in ("reauth_required", "refresh_failing",
                                                                          "misconfigured")]


def schema(name: str) -> dict:
    return json.loads(resources.files("freshtoken").joinpath(f"schemas/{name}").read_text())


def test_published_v2_schema_matches_the_code():
    assert schema("kv-record.v2.json") == json.loads(json.dumps(json_schema_v2(), sort_keys=True))


@pytest.mark.parametrize("text", REASONS)
def test_a_v1_reader_refuses_every_reason_record(text: str):
    # the released v1 reader: an unknown version, never a token
    with pytest.raises(TokenUnavailable, match="version 2 is not supported"):
        v1_reader.KVRecord.loads(text)
    # a reader validating against the published v1 schema refuses it too
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(text), schema("kv-record.v1.json"))
    # and a naive reader looking only for the token finds none
    assert "access_token" not in json.loads(text)


@pytest.mark.parametrize("text", REASONS)
def test_reason_records_follow_the_v2_schema_and_parse_to_reasons(text: str):
    jsonschema.validate(json.loads(text), schema("kv-record.v2.json"))
    parsed = parse(text)
    assert isinstance(parsed, ReasonRecord) and parsed.generation == 3
    assert parsed.reason in (Reason.REAUTH_REQUIRED, Reason.EXPIRED)
    with pytest.raises(TokenUnavailable) as err:
        KVRecord.loads(text)
    assert err.value.reason == parsed.reason.value


def test_token_records_follow_both_schemas():
    text = KVRecord(access_token="a", expires_at=10, generation=1, refreshed_at=1).dumps()
    jsonschema.validate(json.loads(text), schema("kv-record.v1.json"))
    jsonschema.validate(json.loads(text), schema("kv-record.v2.json"))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"v":2,"status":"reauth_required","generation":1,"since":1,"access_token":"SECRET"}', "unknown fields"),
        ('{"v":2,"status":"suspended","generation":1,"since":1}', "status"),
        ('{"v":2,"status":"reauth_required","since":1}', "missing: generation"),
        ('{"v":3,"access_token":"SECRET"}', "version 3"),
        ('{"v":"1","access_token":"x"}', "version 'str'"),
        ('{"v":true,"access_token":"x"}', "version 'bool'"),
        ("[]", "not a JSON object"),
        ("{", "not JSON"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_unreadable_records_are_unsupported_and_named(text: str | bytes, fragment: str):
    with pytest.raises(InvalidRecord, match=fragment) as err:
        parse(text)
    assert err.value.reason is Reason.UNSUPPORTED_VERSION
    assert "SECRET" not in str(err.value)  # an error names what is wrong, never a value


def test_reason_record_refuses_bad_input():
    with pytest.raises(ValueError, match="unknown status"):
        reason_record("gone", generation=1, since=0)
    with pytest.raises(ValueError, match="generation"):
        reason_record("reauth_required", generation=-1, since=0)


def test_a_token_never_shows_in_repr():
    token = parse(KVRecord(access_token="tok-SECRET", expires_at=10, generation=1, refreshed_at=1).dumps())
    assert isinstance(token, Token)
    assert "tok-SECRET" not in repr(token) and "tok-SECRET" not in str(token)
    assert token.authorization == "Bearer tok-SECRET"


# -- one parser: the fast path agrees with the full parse -------------------------------------------------------
def full(text: str) -> Token | ReasonRecord | str:
    """The full parse (json.loads + the checks), bypassing the fast path; an error as its class name."""
    try:
        raw = json.loads(text)
    except ValueError:
        return "InvalidRecord"
    if type(raw) is not dict or raw.get("v") != 1 or type(raw.get("v")) is not int:
        try:
            return parse(text)
        except InvalidRecord:
            return "InvalidRecord"
    try:
        return light._token(raw)
    except InvalidRecord:
        return "InvalidRecord"


def parsed(text: str) -> Token | ReasonRecord | str:
    try:
        return parse(text)
    except InvalidRecord:
        return "InvalidRecord"


texts = st.text(st.characters(codec="utf-8"), max_size=30)
#: what an HTTP header carries as it is (printable ASCII): all an access token or a token type may hold
sendable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


def records_of(build: Any, token_texts: st.SearchStrategy[str]) -> st.SearchStrategy[KVRecord]:
    return st.builds(
        build,
        access_token=token_texts.filter(bool),
        token_type=token_texts,
        expires_at=st.none() | st.integers(0, 2**40),
        scope=st.none() | texts,
        generation=st.integers(0, 2**40),
        refreshed_at=st.integers(0, 2**40),
        extras=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=2),
    )


#: records the SDK writes
records = records_of(KVRecord, sendable)
#: the same layout with any text in the token and its type (another writer's, unchecked): a token with a control
#: character or a non-ASCII letter among them
any_records = records_of(KVRecord.model_construct, texts)


@settings(max_examples=400, deadline=None)
@given(records)
def test_fast_path_equals_full_parse_on_every_written_record(record: KVRecord):
    text = record.dumps()
    assert parsed(text) == full(text) == Token(**{k: v for k, v in record.model_dump().items() if k != "v"})


@settings(max_examples=600, deadline=None)
@given(any_records)
def test_a_token_no_header_can_carry_is_refused_by_both_paths(record: KVRecord):
    text = record.dumps()
    assert parsed(text) == full(text)
    if not (light.header_safe(record.access_token) and light.header_safe(record.token_type)):
        assert parsed(text) == "InvalidRecord"


@pytest.mark.parametrize("token", ["at\r\nX-Injected: 1", "at\nx", "at\x00x", "at\tx", "at\x7fx", "at\u00e9x",
                                   "at\u2028x"])
@pytest.mark.parametrize("field", ["access_token", "token_type"])
def test_a_header_injection_is_refused_and_not_written(token: str, field: str):
    fields = {"access_token": "at-1", "token_type": "Bearer", field: token}
    text = KVRecord.model_construct(expires_at=None, scope=None, generation=1, refreshed_at=1, **fields).dumps()
    assert parsed(text) == full(text) == "InvalidRecord"
    for escaped in (True, False):  # json escapes it, or (ensure_ascii off) only what it must
        assert parsed(json.dumps(json.loads(text), ensure_ascii=escaped)) == "InvalidRecord"
    with pytest.raises(ValidationError):  # the SDK's writer refuses it, naming the field, not the value
        KVRecord(expires_at=None, generation=1, refreshed_at=1, **fields)
    with pytest.raises(ValidationError):
        token_record(expires_at=None, scope=None, generation=1, refreshed_at=1, extras={}, **fields)


@settings(max_examples=600, deadline=None)
@given(any_records, st.integers(0, 10_000), st.sampled_from(['"', "\\", "\x01", " ", "}", "0", ",", "-", "1e3", "é"]))
def test_fast_path_equals_full_parse_on_damaged_records(record: KVRecord, at: int, junk: str):
    text = record.dumps()
    at %= len(text) + 1
    for damaged in (text[:at] + junk + text[at:], text[:at] + text[at + 1:]):
        assert parsed(damaged) == full(damaged)


def test_the_fast_path_is_taken_for_what_the_sdk_writes():
    text = KVRecord(access_token="at-" + "x" * 800, expires_at=10, scope="a b", generation=1,
                    refreshed_at=1).dumps()
    assert light._fast(text) == parse(text)
    assert light._fast(KVRecord(access_token="a", expires_at=None, generation=0, refreshed_at=0,
                                extras={"instance_url": "https://x"}).dumps()) is None  # full parse instead
