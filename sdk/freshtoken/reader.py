"""The request path: read a token from KV, refuse one that is expired or about to expire, say why. Never refreshes.

The parsing and the reasons are the light reader's (:mod:`freshtoken_reader`, standard library only): one
parser for every Python reader. :meth:`TokenReader.read` returns a
:class:`~freshtoken_reader.reader.Reading` (``reason``: ``ok``, ``unknown``, ``reauth_required``, ``expired``,
``unsupported_version``; ``status``: the HTTP status a gateway answers with); :meth:`TokenReader.get` returns
the :class:`~freshtoken_reader.record.Token` or raises :class:`~freshtoken.errors.TokenUnavailable` carrying
the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from freshtoken_reader import Judge, Reading, Token

from .clock import Clock, SystemClock
from .errors import TokenUnavailable
from .keys import AccountKey
from .kv import KVReader

__all__ = ["Reading", "Token", "TokenReader"]


class TokenReader:
    """What a gateway calls on every request: one KV read and a clock check.

    ``min_remaining`` (seconds) refuses a token that would expire in flight. ``cache_size`` bounds the parse
    cache (the parsed record of each key with its raw text, reused while the text is the same): ``None``, the
    default, is automatic (it pauses itself when keys are read evenly from too large a set), ``0`` turns it
    off, ``N`` keeps up to N keys: see :class:`freshtoken_reader.reader.Judge`. The sync path, for a KV
    with ``get_sync`` (SQLite, memory): ``reader.check(key, kv.get_sync(key))`` or
    ``reader.judge(key, kv.get_sync(key))``.
    """

    def __init__(
        self,
        kv: KVReader,
        *,
        clock: Clock | None = None,
        min_remaining: float = 5.0,
        cache_size: int | None = None,
    ) -> None:
        self._kv = kv
        self._clock = clock or SystemClock()
        self._judge = Judge(min_remaining=min_remaining, cache_size=cache_size)
        # bound once: the request path makes no attribute walk per read (the system clock: time.time itself)
        self._now: Callable[[], float] = time.time if type(self._clock) is SystemClock else self._clock.now
        self._verdict = self._judge.judge
        self._read_now = _sync_read(kv)

    @property
    def min_remaining(self) -> float:
        return self._judge.min_remaining

    @property
    def _min_remaining(self) -> float:  # the name bench/request_path.py's proposal readers use
        return self._judge.min_remaining

    @property
    def _cache(self) -> dict[str, object]:  # for tests: the parse cache
        return self._judge._cache  # type: ignore[return-value]

    async def read(self, key: str | AccountKey) -> Reading:
        """The reading for ``key``: never raises for a reason (a failing KV raises its own error)."""
        k = key if type(key) is str else str(key)
        read_now = self._read_now
        return self._verdict(k, read_now(k) if read_now is not None else await self._kv.get(k), self._now())

    async def get(self, key: str | AccountKey) -> Token:
        k = str(key)
        read_now = self._read_now
        return self.check(k, read_now(k) if read_now is not None else await self._kv.get(k))

    def judge(self, key: str, text: str | bytes | None) -> Reading:
        """The reading of a raw KV value read by any means (the sync path)."""
        return self._verdict(key, text, self._now())

    def check(self, key: str, text: str | bytes | None) -> Token:
        """The token in a raw KV value read by any means, or :class:`TokenUnavailable` (with ``.reason``)."""
        reading = self._verdict(key, text, self._now())
        if reading.token is None:
            raise TokenUnavailable(_message(key, reading), reason=reading.reason.value)
        return reading.token

    async def authorization(self, key: str | AccountKey) -> str:
        """The ``Authorization`` header value for ``key``."""
        return (await self.get(key)).authorization


def _sync_read(kv: object) -> Callable[[str], str | None] | None:
    """``kv.get_sync`` when the class that defines ``kv.get`` declares that it only wraps it (``get_wraps_sync``):
    the async read then skips a coroutine that has nothing to wait for. A subclass that overrides ``get`` without
    declaring it (a wrapper, a fault injector) is awaited as written."""
    for klass in type(kv).__mro__:
        if "get" in vars(klass):
            return getattr(kv, "get_sync", None) if vars(klass).get("get_wraps_sync") is True else None
    return None


def _message(key: str, reading: Reading) -> str:
    what = {
        "unknown": "no token in KV",
        "reauth_required": "re-authorisation required",
        "expired": "token is expired or about to expire",
        "unsupported_version": "unreadable KV record",
    }[reading.reason.value]
    return f"{what} for {key!r}" + (f": {reading.detail}" if reading.detail else "")
