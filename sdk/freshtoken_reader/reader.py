"""The request path, standard library only: one KV read, one parse (cached per key), one clock check.

    reader = Reader(SQLiteSource("/var/lib/freshtoken/kv.db"), min_remaining=30)
    reading = reader.read("t1:google:alice")        # never raises for a reason
    if reading.ok:
        headers["Authorization"] = reading.token.authorization
    else:
        return Response(status=reading.status)      # 404 unknown, 403 reauth_required, 503 expired, 500 ...

``reader.token(key)`` returns the :class:`~freshtoken_reader.record.Token` or raises :class:`Unavailable`
(with ``.reason`` and ``.status``). A token with less than ``min_remaining`` seconds left is refused as
``expired``: it would expire in flight, and a healthy refresher replaces tokens minutes before expiry.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from .record import HTTP_STATUS, InvalidRecord, Reason, ReasonRecord, Token, parse

__all__ = ["AsyncReader", "Judge", "Reader", "Reading", "Unavailable"]

#: Default refusal threshold: a token with less than this many seconds left is not handed out.
MIN_REMAINING = 5.0


class Reading(NamedTuple):
    """The answer for one key: a reason, and the token when the reason is ``ok``."""

    reason: Reason
    token: Token | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK

    @property
    def status(self) -> int:
        """The HTTP status a gateway answers with (200: go on)."""
        return HTTP_STATUS[self.reason]


class Unavailable(Exception):
    """No usable token for a key; ``reason`` (a :class:`Reason`) and ``status`` (HTTP) say why."""

    def __init__(self, key: str, reading: Reading) -> None:
        super().__init__(f"no usable token for {key!r}: {reading.reason.value}"
                         + (f" ({reading.detail})" if reading.detail else ""))
        self.key = key
        self.reason = reading.reason
        self.status = reading.status


_UNKNOWN = Reading(Reason.UNKNOWN, None, "no record under the key")


class Judge:
    """Turns a raw KV value into a :class:`Reading`. Keeps the last parsed record of up to ``cache_size``
    keys with its text: a record changes once per refresh but is read on every request (the clock check
    still runs on every read)."""

    def __init__(self, *, min_remaining: float = MIN_REMAINING, cache_size: int = 10_000) -> None:
        if min_remaining < 0:
            raise ValueError("min_remaining must be 0 or more (seconds)")
        if cache_size < 0:
            raise ValueError("cache_size must be 0 or more")
        self.min_remaining = float(min_remaining)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[str | bytes, Token | ReasonRecord]] = OrderedDict()

    def judge(self, key: str, text: str | bytes | None, now: float) -> Reading:
        if text is None:
            return _UNKNOWN
        hit = self._cache.get(key)
        if hit is not None and hit[0] == text:
            record = hit[1]
        else:
            try:
                record = parse(text)
            except InvalidRecord as exc:
                return Reading(Reason.UNSUPPORTED_VERSION, None, str(exc))
            if self.cache_size:
                cache = self._cache
                if len(cache) >= self.cache_size and key not in cache:
                    cache.popitem(last=False)  # the oldest entry, O(1)
                cache[key] = (text, record)
        if type(record) is Token:
            expires_at = record.expires_at
            if expires_at is None or expires_at - now >= self.min_remaining:
                return Reading(Reason.OK, record)
            if expires_at <= now:
                return Reading(Reason.EXPIRED, None, "the token has expired (refreshing has not replaced it)")
            return Reading(Reason.EXPIRED, None, f"less than {self.min_remaining:g} s left")
        assert isinstance(record, ReasonRecord)
        return Reading(record.reason, None, f"{record.status} (generation {record.generation}, "
                                            f"since {record.since})")


class Reader:
    """A key -> :class:`Reading` over any source: a callable ``get(key) -> str | bytes | None`` such as
    :class:`~freshtoken_reader.sources.SQLiteSource` or :class:`~freshtoken_reader.sources.RedisSource`."""

    def __init__(
        self,
        source: Callable[[str], str | bytes | None],
        *,
        min_remaining: float = MIN_REMAINING,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
    ) -> None:
        self.source = source
        self.clock = clock
        self.judge = Judge(min_remaining=min_remaining, cache_size=cache_size)

    def read(self, key: str) -> Reading:
        """Never raises for a reason; a failing source (network, file) raises its own error."""
        return self.judge.judge(key, self.source(key), self.clock())

    def token(self, key: str) -> Token:
        """The token for ``key``, or :class:`Unavailable`."""
        reading = self.judge.judge(key, self.source(key), self.clock())
        if reading.token is None:
            raise Unavailable(key, reading)
        return reading.token

    def authorization(self, key: str) -> str:
        """The ``Authorization`` header value for ``key``, or :class:`Unavailable`."""
        return self.token(key).authorization


class AsyncReader:
    """:class:`Reader` over an awaitable source (e.g. :class:`~freshtoken_reader.sources.AsyncRedisSource`)."""

    def __init__(
        self,
        source: Callable[[str], Awaitable[str | bytes | None]],
        *,
        min_remaining: float = MIN_REMAINING,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
    ) -> None:
        self.source = source
        self.clock = clock
        self.judge = Judge(min_remaining=min_remaining, cache_size=cache_size)

    async def read(self, key: str) -> Reading:
        return self.judge.judge(key, await self.source(key), self.clock())

    async def token(self, key: str) -> Token:
        reading = self.judge.judge(key, await self.source(key), self.clock())
        if reading.token is None:
            raise Unavailable(key, reading)
        return reading.token

    async def authorization(self, key: str) -> str:
        return (await self.token(key)).authorization
