"""Where a light reader reads records: the embedded runtime's SQLite KV file, or Redis (redis-py, imported
only when a Redis source is made; sqlite3 when a SQLite source is). Each is a callable ``key -> str | bytes | None``.

Layouts (the same the SDK's KV backends write; see docs/reading-tokens.md):

* SQLite: table ``kv(key TEXT PRIMARY KEY, value TEXT, expires_at REAL)``. The source reads ``value`` only: the
  row's own TTL lies a day past the token's expiry (the record lingers so that a reader can say ``expired``),
  and the record's ``expires_at`` is what the reader checks.
* Redis: ``GET prefix + key`` — the TTL is Redis's own.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .redis_pool import MAX_CONNECTIONS, POOL_TIMEOUT, async_client, sync_client

if TYPE_CHECKING:
    import sqlite3

__all__ = ["AsyncRedisSource", "RedisSource", "SQLiteSource"]


#: The one statement a SQLite source runs (sqlite3 keeps it prepared in the connection's statement cache).
_SELECT = "SELECT value FROM kv WHERE key = ?"
#: The same read of a value that is not text: its bytes (see :meth:`SQLiteSource.__call__`).
_SELECT_BYTES = "SELECT CAST(value AS BLOB) FROM kv WHERE key = ?"
_UNDECODABLE = ("",)


class SQLiteSource:
    """Reads the embedded runtime's KV file, read-only, one connection per thread (WAL: beside the writer).

    Each thread reads through one cursor of its own, kept between reads: ``execute`` + ``fetchone`` on it
    (the statement stays prepared; no cursor is built and registered with the connection per read). A read
    runs to the end of its single row, so no read transaction stays open between reads (a reader never holds
    an old snapshot of the file).
    """

    def __init__(self, path: str | Path, *, prefix: str = "") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no KV database at {str(self.path)!r}")
        self.prefix = prefix
        self._local = threading.local()
        self._db()  # a file that is no KV fails now

    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            import sqlite3  # here: not on an import path that cannot carry it (Python Workers)

            self._operational_error = sqlite3.OperationalError
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            try:
                conn.execute("SELECT value, expires_at FROM kv LIMIT 0")
            except sqlite3.Error as exc:
                conn.close()
                raise ValueError(f"{str(self.path)!r} is not a freshtoken KV database ({exc})") from None
            self._local.conn = conn
        return conn

    def __call__(self, key: str) -> str | bytes | None:
        try:
            execute = self._local.execute
        except AttributeError:  # first read in this thread (or after close)
            execute = self._local.execute = self._db().cursor().execute
        k = self.prefix + key
        try:
            row = execute(_SELECT, (k,)).fetchone()
        except self._operational_error:
            row = _UNDECODABLE
        if row is _UNDECODABLE:
            # sqlite3 could not decode the value as UTF-8, and its message quotes the whole text, token and all:
            # never let that out; read the value again as bytes, which the reader refuses for this key alone (a
            # failure of the file fails this read too, with its own error and without the first one)
            row = self._db().execute(_SELECT_BYTES, (k,)).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self._local.__dict__.pop("execute", None)


def _need_redis(who: str) -> None:
    try:
        import redis  # noqa: F401
    except ImportError:
        raise ImportError(f"{who} needs redis-py: pip install redis") from None


class RedisSource:
    """``GET prefix + key`` with redis-py (sync). Give ``url`` (``redis://...``) or a ready ``client``.

    From a ``url``: a thread-safe client over a pool of at most ``max_connections`` that waits up to
    ``pool_timeout`` seconds for a free connection in a burst (:mod:`freshtoken_reader.redis_pool`)."""

    def __init__(self, url: str | None = None, *, client: Any = None, prefix: str = "",
                 max_connections: int = MAX_CONNECTIONS, pool_timeout: float | None = POOL_TIMEOUT,
                 **redis_kwargs: Any) -> None:
        if client is None:
            if url is None:
                raise ValueError("RedisSource needs a url or a client")
            _need_redis("RedisSource")
            redis_kwargs.setdefault("socket_timeout", 5.0)
            client = sync_client(url, max_connections=max_connections, pool_timeout=pool_timeout, **redis_kwargs)
        self.client = client
        self.prefix = prefix

    def __call__(self, key: str) -> str | bytes | None:
        return self.client.get(self.prefix + key)  # type: ignore[no-any-return]


class AsyncRedisSource:
    """``GET prefix + key`` with redis-py's asyncio client, for :class:`~freshtoken_reader.reader.AsyncReader`.

    From a ``url``: a pool of at most ``max_connections`` that waits up to ``pool_timeout`` seconds for a free
    connection in a burst (:mod:`freshtoken_reader.redis_pool`)."""

    def __init__(self, url: str | None = None, *, client: Any = None, prefix: str = "",
                 max_connections: int = MAX_CONNECTIONS, pool_timeout: float | None = POOL_TIMEOUT,
                 **redis_kwargs: Any) -> None:
        if client is None:
            if url is None:
                raise ValueError("AsyncRedisSource needs a url or a client")
            _need_redis("AsyncRedisSource")
            redis_kwargs.setdefault("socket_timeout", 5.0)
            client = async_client(url, max_connections=max_connections, pool_timeout=pool_timeout, **redis_kwargs)
        self.client = client
        self.prefix = prefix

    def __call__(self, key: str) -> Awaitable[str | bytes | None]:
        return self.client.get(self.prefix + key)  # type: ignore[no-any-return]
