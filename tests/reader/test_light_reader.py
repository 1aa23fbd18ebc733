"""The light reader: a distribution of its own (readers/python) that installs into a fresh venv without the
SDK's dependencies and reads what the SDK wrote; Reader over SQLite and Redis; httpx and requests auth that
attach the token per request (real HTTP server on 127.0.0.1, real SQLite file, real redis-server)."""

from __future__ import annotations

import asyncio
import http.server
import json
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import httpx
import pytest

from freshtoken import KVRecord
from freshtoken.embedded import SQLiteKV
from freshtoken.record import reason_record
from freshtoken_reader import (
    AsyncReader,
    AsyncRedisSource,
    HttpxAuth,
    Reader,
    Reason,
    RedisSource,
    RequestsAuth,
    SQLiteSource,
    Unavailable,
)
from tests.fixtures_servers.threaded import serving

from .sdk_records import EXPECTED, MIN_REMAINING, put_in_redis

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["pydantic", "pydantic_core", "authlib", "httpx", "pluggy", "click", "freshtoken"]


def sqlite_kv(tmp_path: Path, records: dict[str, str]) -> Path:
    path = tmp_path / "kv.db"
    kv = SQLiteKV(path)
    for key, value in records.items():
        kv.put_sync(key, value, 86_400 * 2)
    kv.close()
    return path


def test_fresh_venv_installs_and_reads_without_the_sdk(tmp_path: Path, sdk_written: dict[str, str]):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                    str(ROOT / "readers" / "python"), "-w", str(wheels)], check=True, timeout=300)
    (wheel,) = wheels.glob("freshtoken_reader-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   timeout=300)
    db = sqlite_kv(tmp_path, sdk_written)
    code = textwrap.dedent(f"""
        import json, sys
        import freshtoken_reader as fr
        reader = fr.Reader(fr.SQLiteSource({str(db)!r}), min_remaining={MIN_REMAINING})
        answers = {{k: [reader.read(k).reason.value, reader.read(k).status] for k in {list(EXPECTED)!r}}}
        missing = []
        for name in ("HttpxAuth", "RequestsAuth"):
            try:
                getattr(fr, name)
            except ImportError as exc:
                missing.append(str(exc))
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print(json.dumps({{"answers": answers, "heavy": heavy, "missing": missing,
                          "token": reader.read("t:generic:ok").token.access_token}}))
    """)
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, check=True,
                         cwd=tmp_path)
    result = json.loads(out.stdout)
    assert result["heavy"] == []  # no pydantic, authlib, httpx, pluggy, click, nor the SDK itself
    assert {k: tuple(v) for k, v in result["answers"].items()} == EXPECTED
    assert result["token"] == json.loads(sdk_written["t:generic:ok"])["access_token"]
    assert len(result["missing"]) == 2 and "httpx" in result["missing"][0]  # auth classes: a clear ImportError


def test_reader_over_sdk_records_sqlite(tmp_path: Path, sdk_written: dict[str, str]):
    reader = Reader(SQLiteSource(sqlite_kv(tmp_path, sdk_written)), min_remaining=MIN_REMAINING)
    assert {k: (reader.read(k).reason.value, reader.read(k).status) for k in EXPECTED} == EXPECTED
    with pytest.raises(Unavailable) as err:
        reader.token("t:generic:reauth")
    assert err.value.reason is Reason.REAUTH_REQUIRED and err.value.status == 403


def test_sqlite_source_refuses_a_file_that_is_no_kv(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no KV database"):
        SQLiteSource(tmp_path / "absent.db")
    (tmp_path / "x.db").write_bytes(b"")
    with pytest.raises(ValueError, match="not a freshtoken KV database"):
        SQLiteSource(tmp_path / "x.db")


@pytest.mark.redis
def test_reader_over_sdk_records_redis(redis_server: str, sdk_written: dict[str, str]):
    prefix = "lightreader:"
    put_in_redis(redis_server, prefix, sdk_written)
    reader = Reader(RedisSource(redis_server, prefix=prefix), min_remaining=MIN_REMAINING)
    assert {k: (reader.read(k).reason.value, reader.read(k).status) for k in EXPECTED} == EXPECTED

    async def read_async() -> dict[str, str]:
        areader = AsyncReader(AsyncRedisSource(redis_server, prefix=prefix), min_remaining=MIN_REMAINING)
        try:
            return {k: (await areader.read(k)).reason.value for k in EXPECTED}
        finally:
            await areader.source.client.aclose()  # type: ignore[attr-defined]

    assert asyncio.run(read_async()) == {k: v[0] for k, v in EXPECTED.items()}


class Echo(http.server.BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:
        Echo.seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_url():
    Echo.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/api"


def token(at: str, gen: int) -> str:
    import time

    return KVRecord(access_token=at, expires_at=int(time.time()) + 3600, generation=gen,
                    refreshed_at=int(time.time())).dumps()


def test_httpx_and_requests_auth_attach_the_current_token_per_request(tmp_path: Path, echo_url: str):
    import requests

    path = tmp_path / "kv.db"
    kv = SQLiteKV(path)
    kv.put_sync("t:p:a", token("AT-1", 1), 3600)
    reader = Reader(SQLiteSource(path))
    with httpx.Client(auth=HttpxAuth(reader, "t:p:a"), trust_env=False) as client:
        assert client.get(echo_url).status_code == 200
        kv.put_sync("t:p:a", token("AT-2", 2), 3600)  # refreshed between two requests
        client.get(echo_url)
        assert requests.get(echo_url, auth=RequestsAuth(reader, "t:p:a"), timeout=10).status_code == 200
        kv.put_sync("t:p:a", reason_record("reauth_required", generation=2, since=0), None)
        with pytest.raises(Unavailable) as err:
            client.get(echo_url)
        assert err.value.status == 403
        with pytest.raises(Unavailable):
            requests.get(echo_url, auth=RequestsAuth(reader, "t:p:a"), timeout=10)
    assert Echo.seen == ["Bearer AT-1", "Bearer AT-2", "Bearer AT-2"]  # nothing sent without a token
    kv.close()


async def test_httpx_async_auth(tmp_path: Path, echo_url: str):
    path = tmp_path / "kv.db"
    kv = SQLiteKV(path)
    kv.put_sync("t:p:a", token("AT-9", 1), 3600)
    async with httpx.AsyncClient(auth=HttpxAuth(Reader(SQLiteSource(path)), "t:p:a"), trust_env=False) as client:
        assert (await client.get(echo_url)).status_code == 200
    assert Echo.seen == ["Bearer AT-9"]
    kv.close()



class Redirect(http.server.BaseHTTPRequestHandler):
    """Answers every request with a redirect to ``Redirect.to`` (another origin: a different port)."""

    to = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", Redirect.to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_redirect_to_another_origin_carries_no_token(tmp_path: Path, echo_url: str):
    """An upstream (or whoever answers for it) redirects elsewhere: the clients follow, but the token read from KV
    stays with the origin it was attached for (httpx and requests strip ``Authorization`` across origins; the auth
    classes attach it once, to the request they are given, not to the redirected one)."""
    import requests

    path = tmp_path / "kv.db"
    kv = SQLiteKV(path)
    kv.put_sync("t:p:a", token("AT-SECRET", 1), 3600)
    reader = Reader(SQLiteSource(path))
    Redirect.to = echo_url
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    with serving(server):
        origin = f"http://127.0.0.1:{server.server_address[1]}/api"
        with httpx.Client(auth=HttpxAuth(reader, "t:p:a"), trust_env=False, follow_redirects=True) as client:
            assert client.get(origin).status_code == 200
        session = requests.Session()
        session.trust_env = False
        assert session.get(origin, auth=RequestsAuth(reader, "t:p:a"), timeout=10).status_code == 200

        async def async_client() -> None:
            async with httpx.AsyncClient(auth=HttpxAuth(reader, "t:p:a"), trust_env=False,
                                         follow_redirects=True) as aclient:
                assert (await aclient.get(origin)).status_code == 200

        asyncio.run(async_client())
    assert Echo.seen == [None, None, None]  # each followed the redirect, none with the token
    kv.close()
