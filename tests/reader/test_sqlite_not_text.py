"""A KV row whose text is not UTF-8 (written by another program, or a flipped byte on disk).

Python's ``sqlite3`` cannot decode such a ``TEXT`` value and raises ``OperationalError('Could not decode to UTF-8
column 'value' with text '…'')``: the message carries the row's whole text, the access token with it. Before,
both SQLite readers (the SDK's ``SQLiteKV.get_sync`` under ``TokenReader``, and the light ``SQLiteSource``) let it
out, so a gateway logging the failed read wrote the token to its log, and the key was read as a failing KV instead
of a bad record. Now the row is read again as bytes and the reader answers ``unsupported_version`` for that key
alone, like a Redis value that is not UTF-8 (tests/redis/test_redis_kv.py).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from freshtoken import KVRecord, TokenReader
from freshtoken.kv.sqlite import SQLiteKV
from freshtoken_reader import Reader, SQLiteSource

TOKEN = "at-SECRET-7f3Kq9Lm2Xw8Rz"


def record() -> str:
    now = int(time.time())
    return KVRecord(access_token=TOKEN, expires_at=now + 3600, generation=1, refreshed_at=now).dumps()


@pytest.fixture
def kv_file(tmp_path: Path) -> Path:
    path = tmp_path / "kv.db"
    kv = SQLiteKV(path)
    kv.put_sync("good", record(), 3600)
    bad = record().encode().replace(b'"v":1', b'"v":1\xff', 1)  # one byte that is no UTF-8, the token intact
    kv._db().execute("INSERT INTO kv(key, value, expires_at) VALUES ('bad', CAST(? AS TEXT), NULL)", (bad,))
    kv.close()
    return path


def readers(path: Path) -> dict[str, object]:
    sdk_kv = SQLiteKV(path, readonly=True)
    sdk = TokenReader(sdk_kv)
    light = Reader(SQLiteSource(path))
    return {
        "light": light.read,
        "sdk sync": lambda k: sdk.judge(k, sdk_kv.get_sync(k)),
        "sdk async": lambda k: asyncio.run(sdk.read(k)),
    }


@pytest.mark.parametrize("name", ["light", "sdk sync", "sdk async"])
def test_a_row_that_is_not_utf8_is_that_keys_unsupported_version(kv_file: Path, name: str):
    read = readers(kv_file)[name]
    try:
        reading = read("bad")  # type: ignore[operator]
    except Exception as exc:  # what a gateway would log
        assert TOKEN not in f"{exc!s} {exc!r} {exc.__context__!r} {exc.__cause__!r}"
        raise AssertionError(f"the read raised {exc.__class__.__name__} instead of answering") from None
    assert reading.reason.value == "unsupported_version"
    assert "UTF-8" in reading.detail and TOKEN not in reading.detail
    for _ in range(3):  # the reader goes on: other keys, and the same one again
        assert read("good").ok  # type: ignore[operator, attr-defined]
        assert read("bad").reason.value == "unsupported_version"  # type: ignore[operator, attr-defined]
