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

import math
import threading
import time
from collections.abc import Awaitable, Callable
from types import FunctionType
from typing import NamedTuple, TypeVar

from .record import HTTP_STATUS, InvalidRecord, Reason, ReasonRecord, Token, _fast, parse

__all__ = ["AUTO_CACHE_KEYS", "CACHE_PAUSE", "CACHE_TEXT_BYTES", "AsyncReader", "Judge", "Reader", "Reading",
           "Unavailable"]

#: Default refusal threshold: a token with less than this many seconds left is not handed out.
MIN_REMAINING = 5.0
#: The automatic parse cache's size (keys): a gateway serving up to this many accounts parses each record once.
AUTO_CACHE_KEYS = 16_384
#: How long (seconds) the automatic cache stays off after filling up, before it starts over.
CACHE_PAUSE = 60.0
#: The most record text (characters) any parse cache keeps: huge tokens fill it by size before they fill it by
#: count (the token's own copy and the objects come on top, about as much again).
CACHE_TEXT_BYTES = 32 * 1024 * 1024
#: How many entries of a full cache each later miss releases: a full cache is never freed on one read.
DRAIN_PER_MISS = 8

_T = TypeVar("_T")
_OK, _UNSUPPORTED = Reason.OK, Reason.UNSUPPORTED_VERSION  # (a module constant is cheaper than Reason.OK)


class Reading(NamedTuple):
    """The answer for one key: a reason, and the token when the reason is ``ok``."""

    reason: Reason
    token: Token | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self[0] is _OK  # (the field by index and a module constant: ``Reason.OK`` is a slow class lookup)

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
    """Turns a raw KV value into a :class:`Reading`.

    It keeps the reading of each key it has parsed with the text it came from, and reuses it while the text
    read is the same: a record changes once per refresh, so a key read more than once between refreshes is
    parsed once (a hit is a dict lookup and a compare of the text; the clock check still runs on every read).
    A changed text is parsed again; a key with no record any more is dropped from the cache.

    ``cache_size`` (keys):

    * ``None`` (the default): up to :data:`AUTO_CACHE_KEYS`. When that fills — keys read evenly from a larger
      set, where a cache would miss more often than not and every miss would pay for an insert — the cache is
      set aside and every read is parsed for :data:`CACHE_PAUSE` seconds of the reader's clock; then it starts
      over. Memory: about 2.3 KB per key with 800-byte tokens (≈ 37 MB when full).
    * ``0``: off; every read is parsed.
    * ``N``: up to N keys, always on; when full, the cache starts over.

    Whatever the size, the cache keeps at most :data:`CACHE_TEXT_BYTES` of record text: a cache that reaches it
    is full (huge tokens fill it by size, not by count). A full cache is set aside, not freed on the read that
    fills it: each later miss releases :data:`DRAIN_PER_MISS` of its entries.
    """

    def __init__(self, *, min_remaining: float = MIN_REMAINING, cache_size: int | None = None) -> None:
        if min_remaining < 0:
            raise ValueError("min_remaining must be 0 or more (seconds)")
        if cache_size is not None and (type(cache_size) is not int or cache_size < 0):
            raise ValueError("cache_size must be None (automatic), 0 (off) or a number of keys")
        self.min_remaining = float(min_remaining)
        self.cache_size = AUTO_CACHE_KEYS if cache_size is None else cache_size
        self._pause_when_full = cache_size is None
        #: the cache is used while the clock reads at least this (math.inf: off; a time: paused until then)
        self._cache_from = 0.0 if self.cache_size else math.inf
        #: key -> (text, the reading of that text before the clock check)
        self._cache: dict[str, tuple[str | bytes, Reading]] = {}
        #: the length of the texts kept (bounded by CACHE_TEXT_BYTES), exact: changed only under ``_lock``
        self._text_bytes = 0
        #: held while the cache is changed (not while a record is parsed, nor for a hit): threads sharing a reader
        #: would otherwise lose updates of the count, or replace a key's entry without taking its length off.
        #: Reentrant: code that runs in the reading thread while it holds the lock (a signal handler, a finaliser
        #: the collector calls as the cache allocates) may read a token too, and must not wait on itself
        self._lock = threading.RLock()
        #: a full cache, released a few entries per miss (see _retire)
        self._retired: dict[str, tuple[str | bytes, Reading]] = {}

    def judge(self, key: str, text: str | bytes | None, now: float) -> Reading:
        if now >= self._cache_from:
            hit = self._cache.get(key)
            reading = hit[1] if hit is not None and hit[0] == text else self._parse_and_keep(key, text, now)
        else:
            if type(text) is str:  # no cache (off or paused): the fast parse, kept short
                try:
                    fast = _fast(text)
                except ValueError:
                    fast = None  # _reading() says what is wrong
                if fast is not None:
                    expires_at = fast.expires_at
                    if expires_at is None or expires_at - now >= self.min_remaining:
                        return _new(Reading, (_OK, fast, ""))
                    return self._expired(expires_at, now)
            if text is None:
                if self._retired:  # paused with a full cache set aside: a removed account's token goes now
                    self._retired.pop(key, None)
                return _UNKNOWN
            reading = _reading(text)
        token = reading[1]  # the clock check, on every read
        if token is None:
            return reading
        expires_at = token.expires_at
        if expires_at is None or expires_at - now >= self.min_remaining:
            return reading
        return self._expired(expires_at, now)

    def _parse_and_keep(self, key: str, text: str | bytes | None, now: float) -> Reading:
        """A cache miss: the reading of ``text``, kept for ``key`` (an unreadable record is not kept)."""
        if text is None:
            with self._lock:
                self._drop(key)  # the account is gone: so is its token from this process
            return _UNKNOWN
        reading = _reading(text)  # (outside the lock: threads parse side by side)
        with self._lock:
            self._drop(key)
            if reading.reason is _UNSUPPORTED:
                return reading
            retired = self._retired
            for _ in range(DRAIN_PER_MISS if retired else 0):  # a full cache's entries go a few per miss
                if not retired:
                    break
                retired.popitem()
            if len(self._cache) >= self.cache_size or self._text_bytes + len(text) > CACHE_TEXT_BYTES:
                self._retire()
                if self._pause_when_full:
                    self._cache_from = now + CACHE_PAUSE
                    return reading
            self._cache[key] = (text, reading)
            self._text_bytes += len(text)
        return reading

    def _retire(self) -> None:
        """Start a new, empty cache; the full one is released :data:`DRAIN_PER_MISS` entries per later miss, not
        on this read (freeing 16,384 entries at once took one read 10-13 ms). Under ``_lock``."""
        self._retired.clear()  # (empty by now but for a cache filled by a few huge records)
        self._retired, self._cache, self._text_bytes = self._cache, {}, 0

    def _drop(self, key: str) -> None:
        """Forget ``key`` (under ``_lock``)."""
        kept = self._cache.pop(key, None)
        if kept is not None:
            self._text_bytes -= len(kept[0])
        if self._retired:
            self._retired.pop(key, None)

    def _expired(self, expires_at: int, now: float) -> Reading:
        if expires_at <= now:
            return _EXPIRED
        return Reading(Reason.EXPIRED, None, f"less than {self.min_remaining:g} s left")


_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__
_EXPIRED = Reading(Reason.EXPIRED, None, "the token has expired (refreshing has not replaced it)")


def _reading(text: str | bytes) -> Reading:
    """The reading of a record before the clock check (a token: ``ok``)."""
    try:
        record = parse(text)
    except InvalidRecord as exc:
        return Reading(Reason.UNSUPPORTED_VERSION, None, str(exc))
    if type(record) is Token:
        return _new(Reading, (_OK, record, ""))
    assert isinstance(record, ReasonRecord)
    return Reading(record.reason, None, f"{record.status} (generation {record.generation}, since {record.since})")


def _direct(source: Callable[[str], _T]) -> Callable[[str], _T]:
    """``source``, or its bound ``__call__`` when it is an instance of a class with a Python ``__call__`` (such
    as :class:`~freshtoken_reader.sources.SQLiteSource`): calling the bound method directly skips the type slot
    lookup on every read."""
    call = next((k.__dict__["__call__"] for k in type(source).__mro__ if "__call__" in k.__dict__), None)
    if isinstance(call, FunctionType):
        return source.__call__  # type: ignore[operator, no-any-return]
    return source


class Reader:
    """A key -> :class:`Reading` over any source: a callable ``get(key) -> str | bytes | None`` such as
    :class:`~freshtoken_reader.sources.SQLiteSource` or :class:`~freshtoken_reader.sources.RedisSource`."""

    def __init__(
        self,
        source: Callable[[str], str | bytes | None],
        *,
        min_remaining: float = MIN_REMAINING,
        clock: Callable[[], float] = time.time,
        cache_size: int | None = None,
    ) -> None:
        self.source = source
        self.clock = clock
        self.judge = Judge(min_remaining=min_remaining, cache_size=cache_size)
        self._judge = self.judge.judge
        self._get = _direct(source)

    def read(self, key: str) -> Reading:
        """Never raises for a reason; a failing source (network, file) raises its own error."""
        return self._judge(key, self._get(key), self.clock())

    def token(self, key: str) -> Token:
        """The token for ``key``, or :class:`Unavailable`."""
        reading = self._judge(key, self._get(key), self.clock())
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
        cache_size: int | None = None,
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
