"""Where pending connections wait: one-time, expiring, and in the SQLite store encrypted whole (the state and the
PKCE verifier are secrets) and shared by every process on the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshtoken.connect import MemoryStateStore, PendingConnection, new_pkce, new_state
from freshtoken.connect.sqlite_states import SQLiteStateStore
from freshtoken.embedded import AesGcmCodec, SQLiteStore, generate_key
from freshtoken.embedded.crypto import parse_keys
from tests.raw_files import raw_bytes


def pending(expires_at: float = 1000.0, key: str = "acme:sandbox:alice") -> PendingConnection:
    return PendingConnection(state=new_state(), key=key, client="sandbox", redirect_uri="http://127.0.0.1:5/callback",
                             expires_at=expires_at, verifier=new_pkce().verifier, scopes=("read",),
                             account_data={"shop": "acme"})


def codec(key: str) -> AesGcmCodec:
    return AesGcmCodec(parse_keys(key))


def test_pkce_pair_is_s256_and_never_shows_its_verifier() -> None:
    import base64
    import hashlib

    pair = new_pkce()
    assert 43 <= len(pair.verifier) <= 128
    expected = base64.urlsafe_b64encode(hashlib.sha256(pair.verifier.encode()).digest()).rstrip(b"=").decode()
    assert pair.challenge == expected
    assert pair.verifier not in repr(pair)
    p = pending()
    assert p.state not in repr(p) and (p.verifier or "") not in repr(p)
    assert len({new_state() for _ in range(100)}) == 100


def test_memory_store_is_one_time_and_drops_expired() -> None:
    store = MemoryStateStore()
    old, new = pending(expires_at=10.0), pending(expires_at=100.0)
    store.put(old, now=0.0)
    store.put(new, now=50.0)  # the expired one is dropped
    assert store.take(old.state) is None
    assert store.take(new.state) == new
    assert store.take(new.state) is None


def test_sqlite_store_encrypts_shares_and_takes_once(tmp_path: Path) -> None:
    key = generate_key("k1")
    store_a = SQLiteStore(tmp_path / "state.db", codec(key))
    store_b = SQLiteStore(tmp_path / "state.db", codec(key))  # another process on the same database
    a, b = SQLiteStateStore(store_a), SQLiteStateStore(store_b)
    item = pending()
    a.put(item, now=0.0)
    raw = raw_bytes(tmp_path.glob("state.db*"))
    for secret in (item.state, item.verifier or "", item.key, item.redirect_uri):
        assert secret.encode() not in raw
    assert b.take(item.state) == item  # the other process completes it
    assert a.take(item.state) is None  # used once, whoever took it
    expired = pending(expires_at=5.0)
    a.put(expired, now=0.0)
    a.put(pending(expires_at=100.0), now=10.0)  # a later put drops what has expired
    assert a.count() == 1 and b.take(expired.state) is None
    for s in (a, b):
        s.close()
    store_a.close()
    store_b.close()


def test_sqlite_store_refuses_to_decrypt_with_other_keys(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "state.db", codec(generate_key("k1")))
    states = SQLiteStateStore(store)
    item = pending()
    states.put(item, now=0.0)
    other = SQLiteStore.__new__(SQLiteStore)  # the same file read with another key: no plaintext comes out
    other.path, other.codec = store.path, codec(generate_key("k2"))
    with pytest.raises(Exception) as info:
        SQLiteStateStore(other).take(item.state)
    assert item.verifier not in str(info.value) and item.state not in str(info.value)
    states.close()
    store.close()


def test_sqlite_store_needs_a_file() -> None:
    with pytest.raises(Exception, match="database file"):
        SQLiteStateStore(SQLiteStore(":memory:", codec(generate_key("k1"))))
