"""Workers KV's limits, enforced before a write leaves: key size, and one write per second per key.

TTLs are clamped to KV's 60-second floor in :func:`freshtoken.cloudflare.values.kv_ttl`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import KVError

#: KV refuses keys longer than this many UTF-8 bytes.
KV_MAX_KEY_BYTES = 512
#: KV accepts at most one write per second to one key.
KV_MIN_WRITE_INTERVAL = 1.0
#: KV shows a write in other locations within ~60 s: the refresher writes a new token at least this long before
#: the old one expires (``propagation_margin`` of the Workers KV writers).
PROPAGATION_MARGIN = 60.0


class KVLimitError(KVError, ValueError):
    """A KV write that Workers KV would refuse (key too long, metadata too large...)."""


def check_key(key: str) -> str:
    """``key`` if KV accepts it; :class:`KVLimitError` naming the problem otherwise."""
    if not isinstance(key, str) or not key:
        raise KVLimitError("KV key must be a non-empty string")
    size = len(key.encode("utf-8"))
    if size > KV_MAX_KEY_BYTES:
        raise KVLimitError(f"KV key is {size} bytes; Workers KV allows at most {KV_MAX_KEY_BYTES} bytes")
    if key in (".", ".."):
        raise KVLimitError(f"KV key {key!r} is not allowed")
    return key


@dataclass
class _Pending:
    op: Callable[[], Awaitable[Any]]
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class WriteGate:
    """At most one write per ``interval`` seconds per key; writes that arrive meanwhile coalesce.

    A write within ``interval`` of the previous one to the same key (counted from when the previous one
    completed) waits until the interval has passed;
    if further writes to that key arrive while it waits, only the last one is sent, and every caller
    resumes when it has been (last-writer-wins, which is what KV itself would keep).
    """

    def __init__(self, interval: float = KV_MIN_WRITE_INTERVAL, *, monotonic: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[Any]] | None = None) -> None:
        self.interval = interval
        self._monotonic = monotonic or time.monotonic
        self._sleep = sleep or asyncio.sleep
        self._last: dict[str, float] = {}
        self._pending: dict[str, _Pending] = {}
        self.coalesced = 0
        self.delayed = 0

    async def write(self, key: str, op: Callable[[], Awaitable[Any]]) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            # A delayed write is waiting: replace what it will send, and resume with it.
            pending.op = op
            self.coalesced += 1
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            pending.waiters.append(fut)
            await fut
            return
        wait = self._last.get(key, float("-inf")) + self.interval - self._monotonic()
        if wait <= 0:
            self._last[key] = self._monotonic()
            self._forget_old()
            try:
                await op()
            finally:
                self._last[key] = self._monotonic()  # spaced from when KV has seen it
            return
        pending = self._pending[key] = _Pending(op)
        self.delayed += 1
        try:
            while wait > 0:  # the previous write may complete (and re-stamp) while we sleep
                await self._sleep(wait)
                wait = self._last.get(key, float("-inf")) + self.interval - self._monotonic()
        finally:
            del self._pending[key]
        self._last[key] = self._monotonic()
        try:
            await pending.op()
            self._last[key] = self._monotonic()
        except BaseException as exc:
            self._last[key] = self._monotonic()
            for w in pending.waiters:
                if not w.done():
                    w.set_exception(exc if isinstance(exc, Exception) else RuntimeError("KV write cancelled"))
            raise
        for w in pending.waiters:
            if not w.done():
                w.set_result(None)
        self._forget_old()

    def _forget_old(self) -> None:
        if len(self._last) > 4096:
            horizon = self._monotonic() - self.interval
            for k in [k for k, t in self._last.items() if t < horizon]:
                del self._last[k]
