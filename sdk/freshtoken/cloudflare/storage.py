"""An :class:`~freshtoken.storage.AccountStorage` over a Durable Object's ``ctx.storage``.

One object is one account: the state is one value (a JSON string, replaced atomically by a single
``put``), and the account's one alarm is the object's one alarm. Times cross the boundary as epoch
milliseconds (``setAlarm``/``getAlarm``), converted in :mod:`freshtoken.cloudflare.values`.
"""

from __future__ import annotations

from typing import Any

from ..state import AccountState
from ..storage import PlaintextCodec, SecretCodec
from . import values

STATE_KEY = "freshtoken:state"


class DurableObjectStorage:
    """``ctx.storage`` as the refresher's storage.

    Durable Object storage is private to the object and encrypted at rest by the platform, so secrets
    are stored as they are by default; pass a ``codec`` (e.g. AES-GCM with a key from a Worker secret)
    for a second layer.
    """

    def __init__(self, storage: Any, *, codec: SecretCodec | None = None, key: str = STATE_KEY) -> None:
        self.storage = storage
        self.codec = codec or PlaintextCodec()
        self.key = key

    async def load(self) -> AccountState | None:
        raw = values.to_py(await self.storage.get(self.key))
        if raw is None:
            return None
        if not isinstance(raw, str | bytes):
            raise TypeError(f"{self.key!r} in Durable Object storage is a {type(raw).__name__}, not JSON text")
        return AccountState.load(raw, self.codec)

    async def save(self, state: AccountState) -> None:
        await self.storage.put(self.key, state.dump(self.codec))

    async def delete(self) -> None:
        await self.storage.delete(self.key)
        await self.storage.deleteAlarm()

    async def get_alarm(self) -> float | None:
        return values.epoch_seconds(await self.storage.getAlarm())

    async def set_alarm(self, at: float) -> None:
        await self.storage.setAlarm(values.epoch_ms(at))

    async def delete_alarm(self) -> None:
        await self.storage.deleteAlarm()
