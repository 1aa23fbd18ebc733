"""The request path: read a token from KV, refuse one that is expired or about to expire. Never refreshes."""

from __future__ import annotations

from .clock import Clock, SystemClock
from .errors import TokenUnavailable
from .keys import AccountKey
from .kv import KVReader
from .record import KVRecord


class TokenReader:
    """What a gateway calls on every request: one KV read and a clock check.

    ``min_remaining`` (seconds) refuses a token that would expire in flight.
    """

    def __init__(self, kv: KVReader, *, clock: Clock | None = None, min_remaining: float = 5.0) -> None:
        self._kv = kv
        self._clock = clock or SystemClock()
        self._min_remaining = min_remaining

    async def get(self, key: str | AccountKey) -> KVRecord:
        text = await self._kv.get(str(key))
        return self.check(str(key), text)

    def check(self, key: str, text: str | bytes | None) -> KVRecord:
        """Validate a raw KV value read by any means (shared by sync and async readers)."""
        if text is None:
            raise TokenUnavailable(f"no token in KV for {key!r}")
        record = KVRecord.loads(text)
        if record.expires_at is not None and record.expires_at - self._clock.now() < self._min_remaining:
            raise TokenUnavailable(f"token for {key!r} is expired or about to expire")
        return record

    async def authorization(self, key: str | AccountKey) -> str:
        """The ``Authorization`` header value for ``key``."""
        record = await self.get(key)
        return f"{record.token_type} {record.access_token}"
