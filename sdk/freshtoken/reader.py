"""The request path: read a token from KV, refuse one that is expired or about to expire. Never refreshes."""

from __future__ import annotations

from pydantic import ValidationError

from .clock import Clock, SystemClock
from .errors import TokenUnavailable
from .keys import AccountKey
from .kv import KVReader
from .record import KVRecord


class TokenReader:
    """What a gateway calls on every request: one KV read and a clock check.

    ``min_remaining`` (seconds) refuses a token that would expire in flight. A record changes once per
    refresh but is read on every request, so the last parsed record of up to ``cache_size`` keys is kept
    with its raw text: when the text read is the same, it is not parsed again (the expiry check still runs
    on every read). ``cache_size=0`` turns that off.
    """

    def __init__(
        self,
        kv: KVReader,
        *,
        clock: Clock | None = None,
        min_remaining: float = 5.0,
        cache_size: int = 10_000,
    ) -> None:
        self._kv = kv
        self._clock = clock or SystemClock()
        self._min_remaining = min_remaining
        self._cache_size = cache_size
        self._cache: dict[str, tuple[str | bytes, KVRecord]] = {}

    async def get(self, key: str | AccountKey) -> KVRecord:
        text = await self._kv.get(str(key))
        return self.check(str(key), text)

    def check(self, key: str, text: str | bytes | None) -> KVRecord:
        """Validate a raw KV value read by any means (shared by sync and async readers)."""
        if text is None:
            raise TokenUnavailable(f"no token in KV for {key!r}")
        hit = self._cache.get(key)
        if hit is not None and hit[0] == text:
            record = hit[1]
        else:
            record = self._parse(text)
            if self._cache_size > 0:
                if len(self._cache) >= self._cache_size and key not in self._cache:
                    self._cache.pop(next(iter(self._cache)))  # the oldest entry
                self._cache[key] = (text, record)
        if record.expires_at is not None and record.expires_at - self._clock.now() < self._min_remaining:
            raise TokenUnavailable(f"token for {key!r} is expired or about to expire")
        return record

    @staticmethod
    def _parse(text: str | bytes) -> KVRecord:
        try:  # one pass: pydantic-core parses the JSON straight into the model
            return KVRecord.model_validate_json(text)
        except ValidationError:
            return KVRecord.loads(text)  # the slow path, only to raise the precise TokenUnavailable

    async def authorization(self, key: str | AccountKey) -> str:
        """The ``Authorization`` header value for ``key``."""
        record = await self.get(key)
        return f"{record.token_type} {record.access_token}"
