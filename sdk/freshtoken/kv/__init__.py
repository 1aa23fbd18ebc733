"""The KV contracts (the refresher writes records, the request path reads them), the in-memory KV, and one
error base for every backend. Backends: :mod:`.sqlite`, :mod:`.redis`, :mod:`.workers_rest` and
:mod:`.workers_binding` (Workers KV, with :mod:`.workers_limits`)."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from ..clock import Clock, SystemClock
from ..errors import KVError

__all__ = ["DEFAULT_PROPAGATION_MARGIN", "KVError", "KVReader", "KVWriter", "MemoryKV", "propagation_margin",
           "ttl_until"]

#: Seconds a KV without a declared ``propagation_margin`` is assumed to need before a write is visible everywhere
#: (Workers KV's ~60 s: the safe assumption for a KV nothing is known of).
DEFAULT_PROPAGATION_MARGIN = 60.0


def propagation_margin(kv: object) -> float:
    """How long before expiry a new token must be in ``kv``: its ``propagation_margin`` attribute (0 for a KV
    read where it is written: memory, SQLite, Redis; 60 s for Workers KV), else
    :data:`DEFAULT_PROPAGATION_MARGIN`."""
    value = getattr(kv, "propagation_margin", None)
    return DEFAULT_PROPAGATION_MARGIN if value is None else float(value)


@runtime_checkable
class KVWriter(Protocol):
    async def put(self, key: str, value: str, ttl: float | None) -> None:
        """Store ``value`` under ``key``; it disappears after ``ttl`` seconds (None: never)."""

    async def delete(self, key: str) -> None: ...


@runtime_checkable
class KVReader(Protocol):
    async def get(self, key: str) -> str | bytes | None:
        """The value under ``key``, or None. Bytes: a value that is not text (written by something else); the
        reader refuses it as ``unsupported_version`` for that key alone."""
        ...


class MemoryKV:
    """A KV in process memory with TTLs, for a gateway and a refresher in one process, and for tests."""

    #: A write is visible at once: no propagation margin.
    propagation_margin = 0.0

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._data: dict[str, tuple[str, float | None]] = {}
        self.writes = 0

    async def put(self, key: str, value: str, ttl: float | None) -> None:
        self.writes += 1
        expires = None if ttl is None else self._clock.now() + max(0.0, ttl)
        self._data[key] = (value, expires)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    #: :meth:`get` only wraps :meth:`get_sync` (no I/O to wait for): an async reader may call that directly.
    get_wraps_sync = True

    async def get(self, key: str) -> str | None:
        return self.get_sync(key)

    def get_sync(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= self._clock.now():
            del self._data[key]
            return None
        return value

    def __len__(self) -> int:
        return len(self._data)


def ttl_until(expires_at: float | None, now: float, *, minimum: float = 60.0) -> float | None:
    """The TTL for a record expiring at ``expires_at``: whole seconds, at least ``minimum`` (KV's floor)."""
    if expires_at is None:
        return None
    return float(max(minimum, math.ceil(expires_at - now)))
