"""KV on Redis (redis-py, asyncio): the records a gateway off Cloudflare reads, with TTLs. Extra: ``redis``.

    kv = RedisKV(url="redis://:password@redis.internal:6379/0")      # a single server (or Sentinel-less HA)
    kv = RedisKV(url="redis://node1:7000?cluster=true")              # Redis Cluster (any node of it)
    kv = RedisKV(url="redis://node1:7000")                           # cluster=None: asks the server (INFO)
    await kv.put("t1:acme:u1", record_json, ttl=3540)                # SET key value PX ttl (guarded, below)
    text = await kv.get("t1:acme:u1")                                # TokenReader(kv).get(...) on the request path

* The key is the KV key the runtime gives (the account key, with the runtime's prefix): a gateway in any
  language reads it with a plain ``GET``. The value is the KV record JSON, unchanged.
* TTL: ``SET … PX`` in milliseconds (``None``: no expiry; ``<= 0``: the record is deleted, already expired).
* Writes never go back in time: a record is only replaced by one of the same or a higher ``generation``
  (a Lua script compares the stored record's generation atomically). A late write from a refresh that was
  superseded (a zombie activity, a retried alarm) cannot overwrite a newer token. Values that are not KV
  records are written unconditionally.
* Redis Cluster: every operation touches exactly one key (the script included: it reads and writes the
  same key), so no two keys ever have to share a hash slot and keys need no ``{hash tag}``; an account key
  that contains one (``{...}``) still works, it only decides its slot. :meth:`get_many` reads keys on many
  slots (``MGET`` per slot). MOVED/ASK redirections and failovers are handled by redis-py's cluster client.
* ``redis`` is imported on first use, so ``import freshtoken`` does not need it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from freshtoken_reader.redis_pool import MAX_CONNECTIONS, POOL_TIMEOUT, async_client, check_pool_limits

from ..errors import ConfigError, FreshtokenError, KVError

log = logging.getLogger("freshtoken.kv.redis")

#: KEYS[1] = record key; ARGV = value, generation ('' = unguarded), ttl in ms ('' = none).
#: Returns 1 when written, 0 when refused (the stored record has a higher generation).
_PUT_SCRIPT = """
local new_gen = tonumber(ARGV[2])
if new_gen ~= nil then
  local cur = redis.call('GET', KEYS[1])
  if cur then
    local ok, rec = pcall(cjson.decode, cur)
    if ok and type(rec) == 'table' and type(rec['generation']) == 'number' and rec['generation'] > new_gen then
      return 0
    end
  end
end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
end
return 1
"""

_TRUE = {"1", "true", "yes", "on"}


class RedisKVError(KVError):
    """A Redis operation failed. Names the operation and the error class, never the URL (it may hold a password)."""


def _split_cluster_flag(url: str) -> tuple[str, bool | None]:
    """Remove a ``cluster=`` query parameter (redis-py does not know it); return (url, flag or None)."""
    parts = urlsplit(url)
    flag: bool | None = None
    scheme = parts.scheme
    if scheme in ("redis+cluster", "rediss+cluster"):
        scheme, flag = scheme.split("+", 1)[0], True
    query = []
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k == "cluster":
            flag = v.lower() in _TRUE
        else:
            query.append((k, v))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment)), flag


def _generation(value: str) -> int | None:
    """The ``generation`` of a KV record JSON, or None when ``value`` is not one."""
    if not value.startswith("{"):
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    gen = data.get("generation") if isinstance(data, dict) else None
    return gen if isinstance(gen, int) and not isinstance(gen, bool) else None


def _text(value: str | bytes | None) -> str | bytes | None:
    """A value as read: text when it is UTF-8 (or a client given to us decoded it), else its bytes as they are."""
    if type(value) is bytes:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def ttl_ms(ttl: float | None) -> int | None:
    """Seconds -> whole milliseconds for ``PX`` (rounded up, at least 1); None stays None."""
    if ttl is None:
        return None
    return max(1, math.ceil(ttl * 1000))


class RedisKV:
    """A :class:`~freshtoken.kv.KVWriter` and :class:`~freshtoken.kv.KVReader` on Redis or Redis Cluster.

    Give ``url`` (``redis://`` / ``rediss://``; ``?cluster=true`` or a ``redis+cluster://`` scheme for a
    cluster; without either the server is asked once whether cluster mode is on), or ``startup_nodes``
    (``(host, port)`` pairs of a cluster), or a ready redis-py asyncio ``client``. Extra keyword arguments go
    to redis-py (``socket_timeout``, ``password``, ``ssl_ca_certs``...).

    A single server is reached through at most ``max_connections`` connections; a command that finds them all
    busy (a gateway's burst of reads) waits up to ``pool_timeout`` seconds for one instead of failing
    (:mod:`freshtoken_reader.redis_pool`). A cluster client keeps redis-py's pools per node.
    """

    #: A write is visible to every reader once acknowledged (a replica read may lag by milliseconds): no margin.
    propagation_margin = 0.0

    def __init__(
        self,
        url: str | None = None,
        *,
        cluster: bool | None = None,
        startup_nodes: Sequence[tuple[str, int]] | None = None,
        client: Any = None,
        monotonic: bool = True,
        socket_timeout: float = 5.0,
        max_connections: int = MAX_CONNECTIONS,
        pool_timeout: float | None = POOL_TIMEOUT,
        **redis_kwargs: Any,
    ) -> None:
        if url is None and startup_nodes is None and client is None:
            raise ConfigError("RedisKV needs a url, startup_nodes or a client")
        self._url: str | None = None
        self._cluster = cluster
        if url is not None:
            if not isinstance(url, str) or urlsplit(url).scheme not in (
                "redis", "rediss", "unix", "redis+cluster", "rediss+cluster"
            ):
                raise ConfigError("kv.url: not a redis:// or rediss:// URL")
            self._url, flag = _split_cluster_flag(url)
            if cluster is None:
                self._cluster = flag
        if startup_nodes is not None:
            self._cluster = True
        self._startup_nodes = list(startup_nodes) if startup_nodes is not None else None
        self._client = client
        self._own_client = client is None
        self.monotonic = monotonic
        self._kwargs: dict[str, Any] = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout,
                                        **redis_kwargs}
        try:
            check_pool_limits(max_connections, pool_timeout)
        except ValueError as exc:
            raise ConfigError(f"RedisKV: {exc}") from None
        self._max_connections, self._pool_timeout = max_connections, pool_timeout
        self._script: Any = None
        #: Writes refused because the stored record had a higher generation.
        self.stale_writes_refused = 0
        self.writes = 0

    # -- connection ------------------------------------------------------------------------------------------
    @property
    def is_cluster(self) -> bool | None:
        return self._cluster

    async def _redis(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            import redis.asyncio as aioredis
            from redis.asyncio.cluster import ClusterNode, RedisCluster
        except ImportError:
            raise ConfigError("the Redis KV needs redis-py: install 'freshtoken[redis]'") from None
        # values are read as bytes and decoded here, one by one (_text): redis-py decoding a value that is not UTF-8
        # raised inside GET, and inside MGET for every key read with it
        kwargs = {"decode_responses": False, **self._kwargs}
        if self._startup_nodes is not None:
            nodes = [ClusterNode(host, int(port)) for host, port in self._startup_nodes]
            self._client = RedisCluster(startup_nodes=nodes, **kwargs)
            return self._client
        assert self._url is not None
        if self._cluster is None:
            probe = aioredis.from_url(self._url, **{**kwargs, "decode_responses": True})
            try:
                info = await probe.info("cluster")
                self._cluster = bool(info.get("cluster_enabled"))
            except Exception as exc:
                raise RedisKVError(f"redis: cannot reach the server ({exc.__class__.__name__})") from None
            finally:
                await probe.aclose()
        if self._cluster:
            self._client = RedisCluster.from_url(self._url, **kwargs)
        else:  # a pool that waits for a free connection in a burst, not redis-py's failing default
            self._client = async_client(self._url, max_connections=self._max_connections,
                                        pool_timeout=self._pool_timeout, **kwargs)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            client, self._client = self._client, None
            await client.aclose()

    async def __aenter__(self) -> RedisKV:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- KVWriter / KVReader -----------------------------------------------------------------------------------
    async def put(self, key: str, value: str, ttl: float | None) -> None:
        """Write ``value`` under ``key`` for ``ttl`` seconds; refused (silently) if a newer record is stored."""
        r = await self._redis()
        px = ttl_ms(ttl)
        try:
            if ttl is not None and ttl <= 0:
                await r.delete(key)  # already expired
                return
            gen = _generation(value) if self.monotonic else None
            if gen is None:
                await r.set(key, value, px=px)
                written = 1
            else:
                if self._script is None:
                    self._script = r.register_script(_PUT_SCRIPT)
                written = await self._script(keys=[key], args=[value, str(gen), "" if px is None else str(px)])
        except FreshtokenError:
            raise
        except Exception as exc:
            raise RedisKVError(f"redis: SET failed ({exc.__class__.__name__})") from None
        self.writes += 1
        if not int(written):
            self.stale_writes_refused += 1
            log.info("%s: KV write of generation %s refused: a newer record is stored", key, gen)

    async def delete(self, key: str) -> None:
        r = await self._redis()
        try:
            await r.delete(key)
        except Exception as exc:
            raise RedisKVError(f"redis: DEL failed ({exc.__class__.__name__})") from None

    async def get(self, key: str) -> str | bytes | None:
        """The value under ``key``: text, or the raw bytes of a value that is not UTF-8 (which a reader refuses as
        ``unsupported_version``, that key alone), or None."""
        r = await self._redis()
        try:
            value = await r.get(key)
        except Exception as exc:
            raise RedisKVError(f"redis: GET failed ({exc.__class__.__name__})") from None
        return _text(value)

    async def get_many(self, keys: Iterable[str]) -> dict[str, str | bytes | None]:
        """Read many keys (a gateway warming a cache): one ``MGET`` per node/slot group on a cluster."""
        ks = list(keys)
        if not ks:
            return {}
        r = await self._redis()
        try:
            if self._cluster:
                values = await r.mget_nonatomic(ks)
            else:
                values = await r.mget(ks)
        except Exception as exc:
            raise RedisKVError(f"redis: MGET failed ({exc.__class__.__name__})") from None
        return {k: _text(v) for k, v in zip(ks, values, strict=True)}

    async def ttl(self, key: str) -> float | None:
        """Seconds left before ``key`` expires; None without expiry or when absent (for tests and tooling)."""
        r = await self._redis()
        ms = await r.pttl(key)
        return None if ms is None or ms < 0 else ms / 1000.0

    def __repr__(self) -> str:  # never the URL: it may carry a password
        return f"RedisKV(cluster={self._cluster!r})"


__all__ = ["RedisKV", "RedisKVError", "ttl_ms"]
