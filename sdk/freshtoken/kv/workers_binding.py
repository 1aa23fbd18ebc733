"""KV over a Workers KV binding (``env.TOKENS``): the refresher's writer and the gateway's reader."""

from __future__ import annotations

import json
from typing import Any

from ..cloudflare import values
from .workers_limits import PROPAGATION_MARGIN, WriteGate, check_key


def record_metadata(value: str) -> dict[str, Any] | None:
    """KV metadata for a freshtoken record: version, generation and expiry, readable by ``list()``
    without fetching values. None when ``value`` is not a record."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or "v" not in data:
        return None
    return {k: data[k] for k in ("v", "generation", "expires_at") if k in data}


class BindingKV:
    """A :class:`~freshtoken.kv.KVWriter` and :class:`~freshtoken.kv.KVReader` over a KV binding.

    Honours KV's limits: keys ≤ 512 bytes (a clear :class:`~freshtoken.kv.workers_limits.KVLimitError`),
    ``expirationTtl`` ≥ 60 s (clamped), one write per second per key (delayed and coalesced by a
    :class:`~freshtoken.kv.workers_limits.WriteGate`; share one gate between writers of the same keys).
    """

    #: Workers KV shows a write in other locations within ~60 s: a new token must be written this early.
    propagation_margin = PROPAGATION_MARGIN

    def __init__(self, binding: Any, *, gate: WriteGate | None = None, metadata: bool = True) -> None:
        self.binding = binding
        self.gate = gate or WriteGate()
        self.metadata = metadata

    async def put(self, key: str, value: str, ttl: float | None) -> None:
        check_key(key)
        options = values.kv_put_options(ttl, record_metadata(value) if self.metadata else None)

        async def write() -> None:
            if options is None:
                await self.binding.put(key, value)
            else:
                await self.binding.put(key, value, options)

        await self.gate.write(key, write)

    async def delete(self, key: str) -> None:
        check_key(key)

        async def remove() -> None:
            await self.binding.delete(key)

        await self.gate.write(key, remove)

    async def get(self, key: str) -> str | None:
        check_key(key)
        return values.kv_text(await self.binding.get(key))

    async def get_with_metadata(self, key: str) -> tuple[str | None, dict[str, Any] | None]:
        check_key(key)
        result = await self.binding.getWithMetadata(key)
        return (values.kv_text(values.get_attr(result, "value")),
                values.to_py(values.get_attr(result, "metadata")))
