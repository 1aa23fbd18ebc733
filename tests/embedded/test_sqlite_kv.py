from __future__ import annotations

from pathlib import Path

import pytest

from freshtoken import KVReader, KVRecord, KVWriter, ManualClock, TokenReader, TokenUnavailable
from freshtoken.embedded import SQLiteKV


async def test_put_get_delete_and_ttl(tmp_path: Path) -> None:
    clock = ManualClock()
    kv = SQLiteKV(tmp_path / "kv.db", clock=clock)
    assert isinstance(kv, KVWriter) and isinstance(kv, KVReader)
    await kv.put("a", "1", 60)
    await kv.put("forever", "2", None)
    assert await kv.get("a") == "1" and kv.get_sync("forever") == "2"
    await kv.put("a", "3", 60)  # replace
    assert kv.get_sync("a") == "3"
    clock.advance(59.9)
    assert kv.get_sync("a") == "3"
    clock.advance(0.1)
    assert kv.get_sync("a") is None  # expired rows are invisible at once
    assert kv.get_sync("forever") == "2"
    assert len(kv) == 1
    assert kv.purge() == 1  # and purged later
    await kv.delete("forever")
    await kv.delete("missing")
    assert kv.get_sync("forever") is None
    kv.close()


async def test_lazy_purge_bounds_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from freshtoken.kv import sqlite as sqlite_kv

    monkeypatch.setattr(sqlite_kv, "PURGE_EVERY", 10)
    clock = ManualClock()
    kv = SQLiteKV(tmp_path / "kv.db", clock=clock)
    for i in range(50):
        await kv.put(f"k{i}", "v", 1)
        clock.advance(2)
    rows = kv._db().execute("SELECT COUNT(*) FROM kv").fetchone()[0]
    assert rows <= 11
    kv.close()


async def test_a_gateway_process_reads_the_same_file(tmp_path: Path) -> None:
    clock = ManualClock()
    writer = SQLiteKV(tmp_path / "kv.db", clock=clock)
    reader = SQLiteKV(tmp_path / "kv.db", clock=clock, readonly=True)
    record = KVRecord(access_token="at-1", expires_at=int(clock.now()) + 3600, generation=1,
                      refreshed_at=int(clock.now()))
    await writer.put("t:p:a", record.dumps(), 3600)
    assert reader.get_sync("t:p:a") == record.dumps()
    tokens = TokenReader(reader, clock=clock)
    assert (await tokens.get("t:p:a")).access_token == "at-1"
    assert await tokens.authorization("t:p:a") == "Bearer at-1"
    with pytest.raises(TokenUnavailable):
        await tokens.get("t:p:missing")
    with pytest.raises(Exception):  # noqa: B017 - a reader cannot write
        reader.put_sync("x", "y", None)
    writer.close()
    reader.close()
    reader.close()  # idempotent


def test_get_sync_from_threads(tmp_path: Path) -> None:
    import threading

    kv = SQLiteKV(tmp_path / "kv.db")
    kv.put_sync("k", "v", None)
    seen: list[str | None] = []

    def read() -> None:
        for _ in range(50):
            seen.append(kv.get_sync("k"))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["v"] * 200
    kv.close()


def test_a_missing_file_for_a_reader_is_a_config_error(tmp_path: Path) -> None:
    from freshtoken import ConfigError

    with pytest.raises(ConfigError, match="cannot open the KV database"):
        SQLiteKV(tmp_path / "nope.db", readonly=True)
