"""freshtoken_reader: read the tokens freshtoken keeps fresh, with the standard library only.

A gateway installs this (``pip install freshtoken-reader``; plus ``redis`` for Redis) without the refresher
and its dependencies. ``HttpxAuth`` and ``RequestsAuth`` import httpx / requests only when asked for.

    from freshtoken_reader import Reader, SQLiteSource
    reader = Reader(SQLiteSource("kv.db"))
    reading = reader.read("t1:google:alice")   # .reason, .status, .token
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .reader import MIN_REMAINING, AsyncReader, Judge, Reader, Reading, Unavailable
from .record import HTTP_STATUS, InvalidRecord, Reason, ReasonRecord, Token, parse
from .sources import AsyncRedisSource, RedisSource, SQLiteSource

if TYPE_CHECKING:
    from .httpx_auth import HttpxAuth
    from .requests_auth import RequestsAuth

__all__ = [
    "HTTP_STATUS",
    "MIN_REMAINING",
    "AsyncReader",
    "AsyncRedisSource",
    "HttpxAuth",
    "InvalidRecord",
    "Judge",
    "Reader",
    "Reading",
    "Reason",
    "ReasonRecord",
    "RedisSource",
    "RequestsAuth",
    "SQLiteSource",
    "Token",
    "Unavailable",
    "parse",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "HttpxAuth":
        from .httpx_auth import HttpxAuth

        return HttpxAuth
    if name == "RequestsAuth":
        from .requests_auth import RequestsAuth

        return RequestsAuth
    raise AttributeError(f"module 'freshtoken_reader' has no attribute {name!r}")
