"""The storage contract: what a Durable Object's ``ctx.storage`` offers, for one account.

Every runtime gives each refresher an :class:`AccountStorage`: durable state replaced atomically, and one
alarm (set overrides the one scheduled, like ``setAlarm``). The embedded runtime keeps both in SQLite,
the Cloudflare runtime in the object's own storage, the Temporal runtime in workflow state.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .codec import PlaintextCodec, SecretCodec
from .errors import StateConflict
from .state import AccountState

__all__ = [
    "AccountStorage",
    "MemoryStorage",
    "PlaintextCodec",  # re-exported: the codecs live in freshtoken.codec
    "RescueStorage",
    "SecretCodec",
]


@runtime_checkable
class AccountStorage(Protocol):
    """Durable state and the single alarm of one account."""

    async def load(self) -> AccountState | None: ...

    async def save(self, state: AccountState) -> None:
        """Replace the state atomically: after a crash either the old or the new state is there."""

    async def delete(self) -> None:
        """Delete the state and the alarm."""

    async def get_alarm(self) -> float | None: ...

    async def set_alarm(self, at: float) -> None:
        """Schedule the one alarm at epoch seconds ``at``, replacing any scheduled one."""

    async def delete_alarm(self) -> None: ...


@runtime_checkable
class RescueStorage(Protocol):
    """Optional, on top of :class:`AccountStorage`: a second durable place for a provider's answer that the
    primary store would not take.

    When saving a refresh's result fails (disk full, "database is locked"), the refresher keeps the state in
    memory and retries the save; on the first failure it calls :meth:`rescue` so that a process killed during
    the retries loses nothing, and :meth:`drop_rescue` once the primary store holds that state or a newer
    one. A runtime that restarts must import rescued states newer than its stored ones *before* any alarm
    runs. The embedded runtime implements it with an encrypted, pre-allocated recovery file next to its
    database; storage without it gets the in-memory retries only.
    """

    async def rescue(self, state: AccountState) -> None:
        """Keep ``state`` durably (encrypted at rest, like the primary store) until :meth:`drop_rescue`;
        raise if that is not possible."""

    async def drop_rescue(self, state: AccountState) -> None:
        """The primary store now holds ``state`` (or a newer one): forget its rescued copy."""


class _Cell:
    """What one account holds in memory: its state, serialised, and its alarm."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.generation: int | None = None
        self.alarm: float | None = None


class MemoryStorage:
    """An :class:`AccountStorage` in a dict, for one process's lifetime (unit tests, in-memory runs).

    State is kept serialised, exactly as a durable store would keep it, so that a test exercises the
    same encode/decode path. :meth:`view` gives another handle on the same account (as another host would
    have): each handle's :meth:`save` is a compare-and-swap on the generation it last loaded or saved, and
    raises :class:`~freshtoken.errors.StateConflict` when another handle moved it on.
    """

    def __init__(self, codec: SecretCodec | None = None, *, _cell: _Cell | None = None) -> None:
        self._codec = codec or PlaintextCodec()
        self._cell = _cell or _Cell()
        self._expected: int | None = None
        self._read = False

    def view(self) -> MemoryStorage:
        """Another handle on the same account, with its own idea of the generation it last saw."""
        return MemoryStorage(self._codec, _cell=self._cell)

    async def load(self) -> AccountState | None:
        self._read = True
        self._expected = self._cell.generation
        return self._get()

    async def save(self, state: AccountState) -> None:
        if self._read and self._cell.generation != self._expected:
            raise StateConflict(
                f"{state.key}: the stored generation is {self._cell.generation}, not {self._expected}"
            )
        self._put(state)
        self._cell.generation = state.generation
        self._expected, self._read = state.generation, True

    def _get(self) -> AccountState | None:
        """The stored state, as a new object (a subclass may hold it in another form)."""
        return None if self._cell.state is None else AccountState.load(self._cell.state, self._codec)

    def _put(self, state: AccountState | None) -> None:
        self._cell.state = None if state is None else state.dump(self._codec)

    async def delete(self) -> None:
        self._put(None)
        self._cell.generation = None
        self._cell.alarm = None
        self._expected = None

    @property
    def alarm(self) -> float | None:
        return self._cell.alarm

    @alarm.setter
    def alarm(self, at: float | None) -> None:
        self._cell.alarm = at

    async def get_alarm(self) -> float | None:
        return self._cell.alarm

    async def set_alarm(self, at: float) -> None:
        self._cell.alarm = float(at)

    async def delete_alarm(self) -> None:
        self._cell.alarm = None

    @property
    def raw(self) -> str | None:
        """The state as stored (for tests that look for leaked secrets)."""
        return self._cell.state
