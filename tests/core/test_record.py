import json
from importlib import resources

import pytest

from freshtoken import KVRecord, TokenUnavailable
from freshtoken.record import json_schema


def test_published_schema_matches_the_model():
    published = json.loads(resources.files("freshtoken").joinpath("schemas/kv-record.v1.json").read_text())
    assert published == json.loads(json.dumps(json_schema(), sort_keys=True))


def test_record_round_trip_and_no_refresh_token_field():
    rec = KVRecord(access_token="tok-SECRET-123", expires_at=100, generation=3, refreshed_at=40, scope="a b")
    data = json.loads(rec.dumps())
    assert data["v"] == 1 and data["generation"] == 3
    assert "refresh_token" not in data and "refresh_token" not in json_schema()["properties"]
    assert KVRecord.loads(rec.dumps()) == rec
    assert "tok-SECRET-123" not in repr(rec) and "tok-SECRET-123" not in str(rec)


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ("not json", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"v": 2, "access_token": "x"}', "version 2"),
        ('{"v": 1, "access_token": "", "expires_at": 1, "generation": 0, "refreshed_at": 0}', "access_token"),
        ('{"v": 1, "access_token": "x", "expires_at": 1, "generation": 0, "refreshed_at": 0, "rt": 1}', "rt"),
    ],
)
def test_bad_records_are_refused_clearly(raw, fragment):
    with pytest.raises(TokenUnavailable, match=fragment):
        KVRecord.loads(raw)


def test_reader_reuses_a_parsed_record_only_while_the_text_is_the_same():
    from freshtoken import ManualClock, TokenReader

    clock = ManualClock(1000)
    reader = TokenReader(kv=None, clock=clock, cache_size=2)  # type: ignore[arg-type]
    a = KVRecord(access_token="A", expires_at=2000, generation=1, refreshed_at=900).dumps()
    b = KVRecord(access_token="B", expires_at=2000, generation=2, refreshed_at=950).dumps()
    assert reader.check("k", a).access_token == "A"
    assert reader.check("k", a) is reader.check("k", a)  # cached
    assert reader.check("k", b).access_token == "B"  # the text changed: parsed again
    with pytest.raises(TokenUnavailable, match="version 2"):
        reader.check("x", '{"v": 2, "access_token": "x"}')
    for i in range(5):
        reader.check(f"k{i}", a)
    assert len(reader._cache) == 2  # bounded
    clock.set(1998)
    with pytest.raises(TokenUnavailable, match="expired"):
        reader.check("k4", a)  # the expiry check runs on every read, cached or not
