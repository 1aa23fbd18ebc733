"""redis-py clients for the request path: a bounded pool that *waits* for a free connection.

redis-py's default pool (``from_url``) opens a connection per command in flight up to ``max_connections``
(100 by default in redis-py 8) and then fails the next command at once (``MaxConnectionsError`` /
``Too many connections``): a gateway under a burst of reads answered errors for tokens sitting in Redis
(tests/redis/test_read_bursts.py). These clients use redis-py's ``BlockingConnectionPool`` instead: at most
``max_connections`` connections to the server, and a command that finds them all busy waits up to
``pool_timeout`` seconds for one (then ``redis.ConnectionError``). A Redis GET takes ~0.1 ms, so 50
connections serve far more reads per second than one process makes.

Used by the SDK's ``RedisKV`` and by the light reader's ``RedisSource`` / ``AsyncRedisSource``; redis-py is
imported when a client is made, never by importing this module.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_CONNECTIONS", "POOL_TIMEOUT", "async_client", "check_pool_limits", "sync_client"]

#: Connections one client keeps to the server at most (redis-py's own ``BlockingConnectionPool`` default).
MAX_CONNECTIONS = 50
#: Seconds a command waits for a free connection before it fails.
POOL_TIMEOUT = 5.0


def check_pool_limits(max_connections: int, pool_timeout: float | None) -> None:
    """ValueError naming the limit that is wrong."""
    if type(max_connections) is not int or max_connections < 1:
        raise ValueError("max_connections must be a whole number of 1 or more")
    if pool_timeout is not None and not pool_timeout > 0:
        raise ValueError("pool_timeout must be more than 0 seconds (or None: wait as long as it takes)")


def async_client(url: str, *, max_connections: int = MAX_CONNECTIONS, pool_timeout: float | None = POOL_TIMEOUT,
                 **redis_kwargs: Any) -> Any:
    """A ``redis.asyncio.Redis`` for ``url`` over a waiting pool of its own (closed with the client)."""
    check_pool_limits(max_connections, pool_timeout)
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=pool_timeout,
                                                    **redis_kwargs)
    return aioredis.Redis.from_pool(pool)


def sync_client(url: str, *, max_connections: int = MAX_CONNECTIONS, pool_timeout: float | None = POOL_TIMEOUT,
                **redis_kwargs: Any) -> Any:
    """A ``redis.Redis`` for ``url`` over a waiting pool of its own (closed with the client; thread-safe)."""
    check_pool_limits(max_connections, pool_timeout)
    import redis

    pool = redis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=pool_timeout,
                                                 **redis_kwargs)
    return redis.Redis.from_pool(pool)
