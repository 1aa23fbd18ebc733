"""The files that hold tokens — the SQLite state database, the SQLite KV (access tokens in the clear), and their
``-wal`` / ``-shm`` files — are created readable by their owner only (0600), whatever the umask. Real files,
written by the real host built from a configuration."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from freshtoken.embedded import AesGcmCodec, SQLiteKV, SQLiteStore, generate_key
from freshtoken.host.config import load_settings
from freshtoken.host.factory import build_host
from tests.raw_files import raw_bytes

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the common default, under which SQLite would create 0644 files
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_state_and_kv_files_of_a_host_are_0600(folder: Path) -> None:
    path = folder / "freshtoken.toml"
    path.write_text("""
[clients.c]
provider = "generic"
client_id = "c"
client_secret = { env = "FT_SEC_CLIENT_SECRET" }
[clients.c.provider_options]
token_url = "https://auth.example.test/token"
[runtime]
database = "data/state.db"
[kv]
backend = "sqlite"
path = "data/kv.db"
""")
    host = build_host(load_settings(path))
    try:
        await host.runtime.register("t:generic:a", client="c", refresh_token="rt-file-mode-1",
                                    access_token="at-file-mode-1", expires_at=time.time() + 3600)
        files = sorted((folder / "data").iterdir())
        names = {p.name for p in files}
        assert {"state.db", "state.db-wal", "state.db-shm", "kv.db", "kv.db-wal", "kv.db-shm"} <= names, names
        wide = {p.name: oct(mode(p)) for p in files if p.name.startswith(("state.db", "kv.db")) and mode(p) != 0o600}
        assert not wide, wide
        assert b"at-file-mode-1" in raw_bytes(p for p in files if p.name.startswith("kv.db"))
    finally:
        await host.aclose()


def test_store_and_kv_alone_are_0600(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", AesGcmCodec.from_env({"FRESHTOKEN_ENCRYPTION_KEYS": generate_key("m")}))
    kv = SQLiteKV(tmp_path / "k.db")
    try:
        kv.put_sync("k", "v", None)
        for p in tmp_path.iterdir():
            assert mode(p) == 0o600, (p.name, oct(mode(p)))
    finally:
        kv.close()
        store.close()


def test_an_existing_shared_database_is_left_alone_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kv.db"
    path.touch(mode=0o640)  # its owner shares it with a gateway's group on purpose
    os.chmod(path, 0o640)
    kv = SQLiteKV(path)
    try:
        kv.put_sync("k", "v", None)
    finally:
        kv.close()
    assert mode(path) == 0o640
    assert "other users can read it (mode 640)" in caplog.text
