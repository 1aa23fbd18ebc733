from __future__ import annotations

import random
from pathlib import Path

import pytest
from pydantic import SecretStr

from freshtoken import AccountState, AccountStorage, ConfigError, Status
from freshtoken.embedded import AesGcmCodec, DecryptionError, SQLiteStore, generate_key
from tests.raw_files import raw_bytes

RT = "rt-planted-refresh-token-7c1f0e"
AT = "at-planted-access-token-93ab2d"
PREV = "rt-planted-previous-token-11aa"


def state(key: str, *, status: Status = Status.ACTIVE, i: int = 0) -> AccountState:
    return AccountState(
        key=key, client="acme", status=status, refresh_token=SecretStr(f"{RT}-{i}"),
        access_token=SecretStr(f"{AT}-{i}"), previous_refresh_token=SecretStr(f"{PREV}-{i}"),
        expires_at=1_800_003_600.0, generation=3, last_error="none",
    )


def db_bytes(path: Path) -> bytes:
    return raw_bytes(Path(str(path) + suffix) for suffix in ("", "-wal", "-shm"))


async def test_account_storage_contract(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    st = store.storage("t:acme:u1")
    assert isinstance(st, AccountStorage)
    assert await st.load() is None and await st.get_alarm() is None
    await st.set_alarm(5.0)  # no state: nothing to keep an alarm for
    assert await st.get_alarm() is None
    await st.save(state("t:acme:u1"))
    loaded = await st.load()
    assert loaded is not None and loaded.refresh_token is not None
    assert loaded.refresh_token.get_secret_value() == f"{RT}-0"
    await st.set_alarm(100.0)
    await st.set_alarm(50.0)  # replaces
    assert await st.get_alarm() == 50.0
    s2 = state("t:acme:u1", status=Status.RETRYING)
    await st.save(s2)  # saving keeps the alarm
    assert await st.get_alarm() == 50.0
    assert store.summaries()[0]["status"] == "retrying"
    await st.delete_alarm()
    assert await st.get_alarm() is None
    await st.set_alarm(7.0)
    await st.delete()
    assert await st.load() is None and await st.get_alarm() is None
    store.close()


def test_no_plaintext_secret_in_the_file(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    for i in range(20):
        store.save_state(f"t:acme:u{i}", state(f"t:acme:u{i}", i=i))
    store.close()
    raw = db_bytes(tmp_path / "s.db")
    assert b"rt-planted" not in raw and b"at-planted" not in raw
    assert b"t:acme:u7" in raw  # the file is readable: the check is meaningful


def test_a_secret_moved_to_another_row_does_not_decrypt(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    store.save_state("t:acme:a", state("t:acme:a"))
    store.save_state("t:acme:b", state("t:acme:b"))
    db = store._db()
    (text,) = db.execute("SELECT state FROM accounts WHERE key = 't:acme:a'").fetchone()
    db.execute("UPDATE accounts SET state = ? WHERE key = 't:acme:b'", (text.replace("t:acme:a", "t:acme:b"),))
    with pytest.raises(DecryptionError):
        store.load_state("t:acme:b")
    assert store.load_state("t:acme:a") is not None


def test_store_refuses_no_codec(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no plaintext"):
        SQLiteStore(tmp_path / "s.db", None)  # type: ignore[arg-type]


def test_bad_path_is_a_config_error(tmp_path: Path, codec: AesGcmCodec) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises((ConfigError, OSError)):
        SQLiteStore(tmp_path / "file" / "s.db", codec)


def test_due_next_alarm_and_leases(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    for i, at in enumerate([30.0, 10.0, 20.0, 40.0, None]):
        key = f"t:acme:u{i}"
        store.save_state(key, state(key))
        store.set_alarm(key, at)
    assert store.due(25.0, 10) == ["t:acme:u1", "t:acme:u2"]
    assert store.due(100.0, 2) == ["t:acme:u1", "t:acme:u2"]
    assert store.next_alarm_at() == 10.0
    # a lease hides a due account from everyone until it is released or expires
    assert store.try_lease("t:acme:u1", "A", until=60.0, now=25.0)
    assert not store.try_lease("t:acme:u1", "B", until=60.0, now=25.0)
    assert store.try_lease("t:acme:u1", "A", until=70.0, now=25.0)  # re-entrant, extends
    assert store.due(25.0, 10) == ["t:acme:u2"]
    assert store.next_alarm_at(25.0) == 20.0
    assert store.lease_of("t:acme:u1") == ("A", 70.0)
    store.release("t:acme:u1", "B")  # not B's to release
    assert store.lease_of("t:acme:u1")[0] == "A"
    assert store.try_lease("t:acme:u1", "B", until=200.0, now=70.0)  # expired: B takes it over
    assert store.lease_owners() == ["B"]
    assert store.release_owner("B") == 1
    assert store.due(25.0, 10) == ["t:acme:u1", "t:acme:u2"]
    assert not store.try_lease("t:acme:missing", "A", until=1.0, now=0.0)


def test_due_reads_from_the_index(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    plan = " ".join(
        str(r[-1]) for r in store._db().execute(
            "EXPLAIN QUERY PLAN SELECT key, alarm_at FROM accounts INDEXED BY accounts_alarm "
            "WHERE alarm_at IS NOT NULL AND alarm_at <= 1 AND (lease_until IS NULL OR lease_until <= 1) "
            "ORDER BY alarm_at LIMIT 5"
        )
    )
    assert "accounts_alarm" in plan and "TEMP B-TREE" not in plan


def test_list_pages_and_counts(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    for i in range(25):
        key = f"t:acme:u{i:02d}"
        store.save_state(key, state(key, status=Status.REAUTH_REQUIRED if i % 5 == 0 else Status.ACTIVE))
        store.set_alarm(key, 1000.0 + i)
    seen: list[str] = []
    after = None
    while True:
        page = store.summaries(limit=10, after=after)
        if not page:
            break
        seen += [p["key"] for p in page]
        after = page[-1]["key"]
    assert seen == sorted(seen) and len(seen) == 25
    dead = store.summaries(status="reauth_required")
    assert [d["key"] for d in dead] == [f"t:acme:u{i:02d}" for i in range(0, 25, 5)]
    item = store.summaries(limit=1)[0]
    assert item["generation"] == 3 and item["alarm_at"] == 1000.0 and item["has_refresh_token"] is True
    flat = repr(store.summaries(limit=100))
    assert "planted" not in flat and "v1." not in flat
    assert store.count_by_status() == {"active": 20, "reauth_required": 5}
    assert store.count() == 25 and list(store.keys(batch=7)) == sorted(seen)


def test_spread_overdue(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    for i in range(30):
        key = f"t:acme:u{i}"
        store.save_state(key, state(key))
        store.set_alarm(key, 100.0 + i if i < 25 else 5000.0)
    moved = store.spread_overdue(1000.0, 30.0, random.Random(3), batch=7)
    assert moved == 25
    alarms = [store.get_alarm(f"t:acme:u{i}") for i in range(30)]
    assert all(1000.0 <= a < 1030.0 for a in alarms[:25])  # type: ignore[operator]
    assert len(set(alarms[:25])) == 25  # jittered
    assert alarms[25:] == [5000.0] * 5


def test_rewrap_rotates_every_secret(tmp_path: Path) -> None:
    old_spec, new_spec = generate_key("old"), generate_key("new")
    store = SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(old_spec))
    for i in range(12):
        store.save_state(f"t:acme:u{i}", state(f"t:acme:u{i}", i=i))
    store.close()
    both = AesGcmCodec.from_spec(f"{new_spec},{old_spec}")
    store = SQLiteStore(tmp_path / "s.db", both)
    assert store.load_state("t:acme:u3") is not None  # old key still decrypts
    assert store.rewrap(both, batch=5) == 12
    assert store.rewrap(both) == 0  # idempotent
    store.close()
    raw = db_bytes(tmp_path / "s.db")
    assert b"v1.new." in raw
    only_new = SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(new_spec))
    for i in range(12):
        s = only_new.load_state(f"t:acme:u{i}")
        assert s is not None and s.refresh_token is not None
        assert s.refresh_token.get_secret_value() == f"{RT}-{i}"
    with pytest.raises(DecryptionError, match="written with key 'new'"):  # refused at open (key check)
        SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(old_spec))


def test_close_reopens(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    store.save_state("t:acme:a", state("t:acme:a"))
    store.close()
    assert store.exists("t:acme:a")
    assert store._db().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_the_store_does_not_shadow_the_builtin_list(tmp_path):
    """``SQLiteStore.summaries`` (was ``list``: a method named after the built-in it shadowed in the class body)."""
    from freshtoken.embedded.sqlite_store import SQLiteStore

    assert not hasattr(SQLiteStore, "list")
    assert callable(SQLiteStore.summaries)
