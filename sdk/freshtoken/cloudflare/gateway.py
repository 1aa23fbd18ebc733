"""The request path of a gateway Worker: one KV read and an expiry check per request.

It never calls a Durable Object and never refreshes: the refresher objects keep KV fresh ahead of time,
so a request costs one KV read, served from the location's cache. A missing, expired or about-to-expire
token is :class:`~freshtoken.errors.TokenUnavailable` (answer 503 and alert; do not refresh inline).
"""

from __future__ import annotations

from typing import Any

from ..clock import Clock
from ..keys import AccountKey
from ..kv.workers_binding import BindingKV
from ..reader import Token, TokenReader


class GatewayReader:
    """Reads tokens (:class:`~freshtoken_reader.record.Token`) from a KV binding (``env.TOKENS``)."""

    def __init__(self, binding: Any, *, clock: Clock | None = None, min_remaining: float = 5.0) -> None:
        self.kv = BindingKV(binding)
        self.reader = TokenReader(self.kv, clock=clock, min_remaining=min_remaining)

    async def get(self, key: str | AccountKey) -> Token:
        """The record for ``key``; :class:`~freshtoken.errors.TokenUnavailable` when there is no usable one."""
        return await self.reader.get(str(key))

    async def authorization(self, key: str | AccountKey) -> str:
        """The ``Authorization`` header value for ``key``."""
        record = await self.get(key)
        return f"{record.token_type} {record.access_token}"
