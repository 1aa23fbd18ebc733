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
