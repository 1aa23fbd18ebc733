"""The encrypted recovery file next to the state database, and the key-check value, on real files."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from freshtoken.embedded import AesGcmCodec, DecryptionError, RecoveryError, SQLiteStore, WrongKeys, generate_key
from freshtoken.embedded.recovery import DEFAULT_SLOT_SIZE, DEFAULT_SLOTS, HEADER_SIZE, recovery_path
from freshtoken.state import AccountState, Status
from tests.fixtures_servers.small_volume import small_volume

RT = "rt-PLANTED-recovery-canary-7f3a"
AT = "at-PLANTED-recovery-canary-91bc"
DATA = "PLANTED-account-data-5e21"


def answered(key: str, generation: int, *, suffix: str = "") -> AccountState:
    return AccountState(
        key=key, client="acme", status=Status.ACTIVE, generation=generation, refresh_count=generation,
        refresh_token=SecretStr(RT + suffix), access_token=SecretStr(AT + suffix), account_data={"tenant": DATA},
        last_success_at=1_800_000_000.0 + generation, next_refresh_at=1_800_003_000.0, expires_at=1_800_003_600.0,
    )


def registered(store: SQLiteStore, key: str) -> None:
    store.save_state(key, AccountState(key=key, client="acme", refresh_token=SecretStr("rt-old")))
    store.set_alarm(key, 1_900_000_000.0)


def test_the_file_is_private_reserved_and_holds_nothing_in_plain_text(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    path = recovery_path(tmp_path / "s.db")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_size == HEADER_SIZE + DEFAULT_SLOTS * DEFAULT_SLOT_SIZE
    assert path.stat().st_blocks * 512 >= path.stat().st_size  # allocated, not sparse
    registered(store, "t:acme:a")
    store.rescue_state("t:acme:a", answered("t:acme:a", 1))
    raw = path.read_bytes()
    for planted in (RT, AT, DATA):
        assert planted.encode() not in raw
    assert b"FTR1" in raw and b"t:acme:a" in raw  # the account key is not a secret
    [entry] = store.recovery.entries()  # type: ignore[union-attr]
    assert (entry.key, entry.generation) == ("t:acme:a", 1)
    assert json.loads(entry.state)["refresh_token"].startswith("v1.k1.")  # the row's own encrypted form
    store.drop_rescue("t:acme:a", 1)
    assert store.recovery.pending() == 0  # type: ignore[union-attr]


def test_the_next_open_imports_the_newest_entry_and_makes_its_alarm_due(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    for k in ("t:acme:a", "t:acme:b", "t:acme:gone"):
        registered(store, k)
    store.rescue_state("t:acme:a", answered("t:acme:a", 1, suffix="-1"))
    store.rescue_state("t:acme:a", answered("t:acme:a", 2, suffix="-2"))  # the newest of two wins
    store.save_state("t:acme:b", answered("t:acme:b", 3, suffix="-db"))
    store.rescue_state("t:acme:b", answered("t:acme:b", 3, suffix="-file"))  # the database caught up
    store.rescue_state("t:acme:gone", answered("t:acme:gone", 1))
    store.delete_account("t:acme:gone")
    store.close()

    again = SQLiteStore(tmp_path / "s.db", codec)
    a = again.load_state("t:acme:a")
    assert a is not None and a.refresh_token is not None and a.generation == 2
    assert a.refresh_token.get_secret_value() == RT + "-2"
    assert again.get_alarm("t:acme:a") == a.last_success_at  # due: the next alarm rewrites KV from it
    assert again.summaries()[0]["status"] == "active"
    b = again.load_state("t:acme:b")
    assert b is not None and b.refresh_token is not None and b.refresh_token.get_secret_value() == RT + "-db"
    assert not again.exists("t:acme:gone")
    assert again.recovery.pending() == 0  # type: ignore[union-attr]


def test_a_torn_slot_is_ignored(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    registered(store, "t:acme:a")
    registered(store, "t:acme:b")
    store.rescue_state("t:acme:a", answered("t:acme:a", 1))
    store.rescue_state("t:acme:b", answered("t:acme:b", 1))
    store.close()
    path = recovery_path(tmp_path / "s.db")
    with open(path, "r+b") as fh:  # the process died in the middle of writing b's slot
        fh.seek(HEADER_SIZE + DEFAULT_SLOT_SIZE + 200)
        fh.write(b"\0" * 64)
    again = SQLiteStore(tmp_path / "s.db", codec)
    assert again.load_state("t:acme:a").generation == 1  # type: ignore[union-attr]
    assert again.load_state("t:acme:b").generation == 0  # type: ignore[union-attr]
    assert again.recovery.pending() == 0  # type: ignore[union-attr]


def test_an_entry_that_does_not_fit_a_slot_is_a_clear_error(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    registered(store, "t:acme:a")
    big = answered("t:acme:a", 1)
    big.extras = {"blob": "x" * DEFAULT_SLOT_SIZE}
    with pytest.raises(RecoveryError, match="does not fit a recovery slot"):
        store.rescue_state("t:acme:a", big)


def test_more_entries_than_reserved_slots_grow_the_file(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec, recovery_slots=2)
    for i in range(3):
        registered(store, f"t:acme:u{i}")
        store.rescue_state(f"t:acme:u{i}", answered(f"t:acme:u{i}", 1))
    assert store.recovery.pending() == 3  # type: ignore[union-attr]
    store.close()
    again = SQLiteStore(tmp_path / "s.db", codec)
    assert [again.load_state(f"t:acme:u{i}").generation for i in range(3)] == [1, 1, 1]  # type: ignore[union-attr]




def test_a_rescue_works_on_a_full_disk_and_the_import_waits_for_space(tmp_path: Path, codec: AesGcmCodec) -> None:
    with small_volume(tmp_path / "vol", "4m") as vol:
        store = SQLiteStore(vol / "s.db", codec)
        registered(store, "t:acme:a")
        fd = os.open(vol / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (1 << 16, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * chunk)
        finally:
            os.close(fd)
        with pytest.raises(OSError) as full:  # nothing new fits on the volume
            (vol / "probe").write_bytes(b"\0" * 8192)
        assert full.value.errno == errno.ENOSPC
        with pytest.raises(sqlite3.OperationalError, match="full"):
            store.save_state("t:acme:a", answered("t:acme:a", 1))
        store.rescue_state("t:acme:a", answered("t:acme:a", 1))  # the reserved space takes it
        store.close()
        # a start while the disk is still full refuses to run: without the entry it would replay a rotated token
        with pytest.raises(RecoveryError, match=r"1 provider answer\(s\) wait in .*s\.db\.recovery.*full"):
            SQLiteStore(vol / "s.db", codec)
        (vol / "filler").unlink()
        again = SQLiteStore(vol / "s.db", codec)
        assert again.load_state("t:acme:a").generation == 1  # type: ignore[union-attr]
        again.close()


# -- the key-check value ----------------------------------------------------------------------------------------
def test_wrong_keys_are_refused_at_open_with_one_line_naming_the_key_ids(tmp_path: Path) -> None:
    right = generate_key("right")
    store = SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(right))
    store.close()  # an empty store is checked too
    wrong = generate_key("wrong")
    with pytest.raises(WrongKeys) as exc:
        SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(wrong))
    message = str(exc.value)
    assert "\n" not in message and "written with key 'right'" in message and "'wrong'" in message
    assert right.split(":")[1] not in message and wrong.split(":")[1] not in message
    with pytest.raises(WrongKeys):  # same key id, other key material
        SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec("right:" + generate_key().split(":")[1]))
    SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(f"{wrong},{right}")).close()  # a rotation: fine


def test_a_store_from_before_the_key_check_is_checked_by_its_rows(tmp_path: Path, codec: AesGcmCodec) -> None:
    store = SQLiteStore(tmp_path / "s.db", codec)
    registered(store, "t:acme:a")
    store._exec("DELETE FROM meta WHERE name = 'key_check'")
    store.close()
    with pytest.raises(DecryptionError, match="written with key 'k1'"):
        SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(generate_key("other")))
    SQLiteStore(tmp_path / "s.db", codec).close()  # the right key: the value is sealed now
    with pytest.raises(WrongKeys):
        SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(generate_key("other")))


def test_rewrap_moves_the_key_check_to_the_new_primary(tmp_path: Path) -> None:
    old, new = generate_key("old"), generate_key("new")
    store = SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(old))
    registered(store, "t:acme:a")
    store.close()
    both = AesGcmCodec.from_spec(f"{new},{old}")
    SQLiteStore(tmp_path / "s.db", both).rewrap(both)
    only_new = SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(new))  # the old key may go now
    assert only_new.load_state("t:acme:a") is not None
    with pytest.raises(WrongKeys, match="written with key 'new'"):
        SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_spec(old))
