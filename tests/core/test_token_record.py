"""``record.token_record`` (the refresher's KV record without building the model) writes exactly what
``KVRecord(...).dumps()`` writes, and refuses exactly what it refuses."""

import json
import random

import pytest
from pydantic import ValidationError

from freshtoken.record import KVRecord, token_record

#: every ASCII character (quotes, backslash, controls, DEL), and non-ASCII ones (accents, line separator, an
#: astral character, a lone surrogate) that take the model's path
CHARS = [chr(i) for i in range(128)] + ["é", "\u2028", "\U0001f600", "\ud800"]


def _outcome(fn, kw):
    try:
        return fn(**kw), None
    except Exception as exc:  # the type of the exception is what is compared
        return None, type(exc)


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, 12)))


def _sendable(rng: random.Random) -> str:
    """Printable ASCII (quotes and backslash among it): what an access token may hold."""
    return "".join(chr(rng.randint(0x20, 0x7E)) for _ in range(rng.randint(0, 12)))


def test_token_record_matches_the_model_byte_for_byte_and_refuses_what_it_refuses():
    rng = random.Random(17)
    written = refused = 0
    for _ in range(20_000):
        kw = dict(
            access_token=rng.choice([_text(rng), _sendable(rng), _sendable(rng)]),
            token_type=rng.choice(["Bearer", _text(rng), _sendable(rng)]),
            expires_at=rng.choice([None, 0, -5, 1_800_003_600, 10**20]),
            scope=rng.choice([None, "", "a b", _text(rng)]),
            generation=rng.choice([0, 1, 41, -1, 2**70]),
            refreshed_at=rng.choice([0, 1_800_000_000, -3]),
            extras=rng.choice([{}, {}, {"instance_url": "https://x.example"}, {"n": 1.5, "t": None}]),
        )
        expected = _outcome(lambda **k: KVRecord(**k).dumps(), kw)
        assert _outcome(token_record, kw) == expected, kw
        written += expected[0] is not None
        refused += expected[1] is not None
    assert written > 5_000 and refused > 1_000  # both paths were exercised


def test_token_record_of_a_refresh_is_the_record_readers_parse():
    text = token_record(access_token='a"\\ /~', token_type="Bearer", expires_at=1_800_003_600, scope=None,
                        generation=3, refreshed_at=1_800_000_000, extras={})
    assert json.loads(text)["access_token"] == 'a"\\ /~'
    assert KVRecord.loads(text) == KVRecord(access_token='a"\\ /~', expires_at=1_800_003_600,
                                            generation=3, refreshed_at=1_800_000_000)


@pytest.mark.parametrize("token", ["a\nb", "a\x00b", "a\x7fb", "a\u00e9b"])
def test_a_token_no_header_can_carry_is_not_written(token: str):
    with pytest.raises(ValidationError, match="access_token"):
        token_record(access_token=token, token_type="Bearer", expires_at=1, scope=None, generation=0,
                     refreshed_at=0, extras={})


def test_an_empty_access_token_is_refused_as_the_model_does():
    with pytest.raises(ValidationError, match="access_token"):
        token_record(access_token="", token_type="Bearer", expires_at=1, scope=None, generation=0, refreshed_at=0,
                     extras={})
